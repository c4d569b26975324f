//! Liveness, readiness and Prometheus metrics.

use super::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::Digest;

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
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain"), (status = 401, description = "HANDOFF_METRICS_TOKEN is set and the request does not carry it")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off".to_owned());
    };
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Digests compared, so the time taken says nothing of the token.
        let digest = |t: &str| sha2::Sha256::digest(t.as_bytes());
        let ok = given.is_some_and(|g| digest(g) == digest(token.expose_secret()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                "metrics need `Authorization: Bearer <HANDOFF_METRICS_TOKEN>`".to_owned(),
            );
        }
    }
    match state.service.gauges().await {
        Ok(g) => {
            // Every target and status the worker knows shows, at 0 when empty.
            let mut targets: Vec<String> = state.outbox_targets.clone();
            targets.extend(g.outbox.iter().map(|d| d.target.clone()));
            targets.sort();
            targets.dedup();
            for target in &targets {
                let mut oldest = 0.0f64;
                for status in ["pending", "inflight", "dead"] {
                    let row = g.outbox.iter().find(|d| &d.target == target && d.status == status);
                    let n = row.map_or(0, |d| d.rows);
                    metrics::gauge!("handoff_outbox_rows", "target" => target.clone(), "status" => status)
                        .set(n as f64);
                    if status != "dead" {
                        oldest = oldest.max(row.map_or(0.0, |d| d.oldest_age_secs));
                    }
                }
                metrics::gauge!("handoff_outbox_oldest_age_seconds", "target" => target.clone()).set(oldest);
            }
            for status in ["bot", "handed_off", "active"] {
                let n = g.conversations.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
                metrics::gauge!("handoff_conversations", "status" => status).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the levels for /metrics"),
    }
    (StatusCode::OK, handle.render())
}
