//! `POST /v1/widget/events` (`docs/widget-api.md#inbound-events`): signed events from the
//! widget platform. The signature is checked on the raw body before anything is parsed.

use super::AppState;
use crate::service::{Ingested, WidgetEvent};
use crate::signature;
use crate::web::error::ApiError;
use crate::web::extract::{RawBody, parse_json};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/widget/events", post(receive))
}

/// Receive a widget platform event.
#[utoipa::path(
    post, path = "/v1/widget/events", tag = "widget",
    request_body = WidgetEvent,
    params(("X-Handoff-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">")),
    responses(
        (status = 200, description = "acted on, or a repeat that changed nothing"),
        (status = 400, description = "not JSON"), (status = 401, description = "bad, missing or stale signature"),
        (status = 404, description = "unknown conversation"), (status = 413, description = "body too large"),
        (status = 422, description = "wrong fields or types"),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(secret) = &state.widget_secret else {
        return Err(ApiError::not_found("widget events are off"));
    };
    let header = headers.get(signature::HEADER).and_then(|h| h.to_str().ok());
    signature::verify(secret.expose_secret().as_bytes(), header, &body, signature::unix_now())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let event: WidgetEvent = parse_json(&body)?;
    let ingested = state.service.ingest_widget_event(&event).await?;
    let result = if matches!(ingested, Ingested::Duplicate) {
        "duplicate"
    } else {
        "ok"
    };
    metrics::counter!("handoff_events_in_total", "source" => "widget", "result" => result).increment(1);
    match ingested {
        Ingested::Duplicate => Ok(Json(json!({"status": "duplicate", "id": event.id}))),
        Ingested::Done(what) => Ok(Json(json!({"status": "ok", "id": event.id, "result": what}))),
    }
}
