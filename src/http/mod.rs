//! The HTTP surface (axum): the widget platform's events
//! (`docs/widget-api.md#inbound-events`), the HTTP API, the event stream, health,
//! readiness, metrics and the OpenAPI document. Handlers parse and authenticate, call
//! the service, and shape the answer; they decide nothing. Chat platform adapters bring
//! routers of their own, merged here at start-up.

mod auth;
mod conversations;
mod directory;
mod events;
mod health;
mod openapi;
mod widget_events;

use crate::service::Service;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

pub use openapi::ApiDoc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Service,
    /// The widget platform's signing secret; `None` turns `/v1/widget/events` off.
    pub widget_secret: Option<Arc<SecretString>>,
    pub metrics: Option<PrometheusHandle>,
    /// Cancelled on shutdown, so long-lived streams end and the server can stop.
    pub shutdown: CancellationToken,
    /// Whether the HTTP API (bearer-token routes) is on.
    pub api_enabled: bool,
    /// Whether the outbox worker is running (readiness).
    pub outbox: crate::outbox::Health,
}

/// The whole HTTP surface: the API's routes and each adapter's `platform_routes`.
pub fn router(state: AppState, platform_routes: Vec<Router>, max_body_bytes: usize) -> Router {
    let mut app = Router::new().merge(health::router()).merge(openapi::router());
    if state.widget_secret.is_some() {
        app = app.merge(widget_events::router());
    }
    if state.api_enabled {
        app = app
            .merge(conversations::router())
            .merge(directory::router())
            .merge(events::router());
    }
    let mut app = app.with_state(state);
    for routes in platform_routes {
        app = app.merge(routes);
    }
    app.route_layer(axum::middleware::from_fn(track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
}

/// Records every request's latency by route and status (`/metrics`).
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        "handoff_http_request_seconds",
        "method" => method,
        "route" => route,
        "status" => res.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    res
}

async fn not_found(uri: axum::http::Uri) -> crate::web::error::ApiError {
    let hint = if uri.path().starts_with("/v1/widget") {
        " (widget events are off until HANDOFF_WIDGET_SECRET is set)"
    } else if uri.path().starts_with("/v1/") {
        " (the HTTP API is off until HANDOFF_ADMIN_TOKEN is set)"
    } else {
        ""
    };
    crate::web::error::ApiError::not_found(format!("no route {}{hint}", uri.path()))
}
