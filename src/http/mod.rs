//! The HTTP surface (axum): the widget platform's events
//! (`docs/widget-api.md#inbound-events`), the HTTP API, the event stream, health,
//! readiness, metrics and the OpenAPI document. Handlers parse and authenticate, call
//! the service, and shape the answer; they decide nothing. Chat platform adapters bring
//! routers of their own, merged here at start-up.

mod auth;
mod conversations;
mod directory;
mod directory_shapes;
mod events;
mod files;
mod health;
mod openapi;
mod widget_events;

use crate::service::Service;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

pub use conversations::{ClaimBody, ReplyBody, TransferBody};
pub use directory::{PresenceBody, TeamBody, TokenBody};
pub use directory_shapes::{NewOperatorBody, OperatorPatchBody, WidgetPatchBody};
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
    /// Event streams that may still open (each holds a permit while it lasts).
    pub streams: Arc<tokio::sync::Semaphore>,
    /// The bearer token `/metrics` wants, if any.
    pub metrics_token: Option<Arc<SecretString>>,
    /// The outbox's targets, which `/metrics` shows even while they have no rows.
    pub outbox_targets: Vec<String>,
    /// Every platform this build has an adapter for (configured or not): the API has an
    /// account and a channel field for each.
    pub platforms: Arc<[&'static str]>,
    /// Where each platform's shared files are read, by platform.
    pub file_sources: Arc<std::collections::HashMap<&'static str, Arc<dyn crate::platform::FileSource>>>,
}

/// The whole HTTP surface: the API's routes and each adapter's `platform_routes`.
pub fn router(state: AppState, platform_routes: Vec<Router>, max_body_bytes: usize) -> Router {
    let mut app = Router::new().merge(health::router()).merge(openapi::router());
    let off = Off {
        widget: state.widget_secret.is_none(),
        api: !state.api_enabled,
    };
    if state.widget_secret.is_some() {
        app = app.merge(widget_events::router()).merge(files::router());
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
        .fallback(move |uri| not_found(uri, off))
        .layer(axum::middleware::map_response(json_errors))
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
    let took = started.elapsed().as_secs_f64();
    let status = res.status();
    // What the inbound doors (widget events and the platforms' webhooks: every POST
    // outside the HTTP API) refused; their handlers count what they took in.
    let inbound = method == "POST" && (!route.starts_with("/v1/") || route == "/v1/widget/events");
    if inbound && (status.is_client_error() || status.is_server_error()) {
        metrics::counter!("handoff_inbound_refused_total", "route" => route.clone(), "status" => status.as_u16().to_string())
            .increment(1);
    }
    metrics::histogram!(
        "handoff_http_request_seconds",
        "method" => method,
        "route" => route,
        "status" => status.as_u16().to_string()
    )
    .record(took);
    res
}

/// Gives the API's error shape to the refusals axum makes itself (405, a path that does
/// not parse), which come as plain text or empty.
async fn json_errors(res: axum::response::Response) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    };
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("this route does not take that method (allowed: {allow})")
        }
        (true, s) => s.canonical_reason().unwrap_or("refused").to_owned(),
    };
    let mut out = crate::web::error::ApiError::new(status, code, message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Which parts of the surface are switched off, for the hint of a 404.
#[derive(Clone, Copy)]
struct Off {
    widget: bool,
    api: bool,
}

async fn not_found(uri: axum::http::Uri, off: Off) -> crate::web::error::ApiError {
    let hint = if off.widget && uri.path().starts_with("/v1/widget") {
        " (widget events are off until HANDOFF_WIDGET_SECRET is set)"
    } else if off.api && uri.path().starts_with("/v1/") {
        " (the HTTP API is off until HANDOFF_ADMIN_TOKEN is set)"
    } else {
        ""
    };
    crate::web::error::ApiError::not_found(format!("no route {}{hint}", uri.path()))
}
