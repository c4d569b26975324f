//! Liveness, readiness and Prometheus metrics.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database answers and the outbox worker is running.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable or outbox worker down")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.service.ping().await;
    let outbox = state.outbox.is_running();
    let body = json!({
        "status": if database && outbox { "ready" } else { "not ready" },
        "database": if database { "ok" } else { "unreachable" },
        "outbox": if outbox { "running" } else { "stopped" },
    });
    let status = if database && outbox {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off".to_owned());
    };
    if let Ok(depth) = state.service.outbox_depth().await {
        for status in ["pending", "inflight", "dead"] {
            let n = depth.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
            metrics::gauge!("handoff_outbox_rows", "status" => status).set(n as f64);
        }
    }
    (StatusCode::OK, handle.render())
}
