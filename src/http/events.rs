//! `GET /v1/events`: every committed assignment change as a server-sent event, for
//! dashboards and web inboxes that want to stay live.

use super::AppState;
use super::auth::Auth;
use crate::web::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{Stream, StreamExt};
use std::convert::Infallible;
use tokio_stream::wrappers::BroadcastStream;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", get(stream))
}

/// Stream assignment changes (`event: assignment`, data: a ChangeEvent).
#[utoipa::path(
    get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of ChangeEvent", content_type = "text/event-stream", body = crate::service::ChangeEvent),
        (status = 503, description = "too many event streams are open"))
)]
pub async fn stream(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Each open stream holds a permit, so their number stays bounded.
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many event streams are open; try again later (HANDOFF_MAX_STREAMS)",
        )
    })?;
    let ws = p.workspace.0;
    let events = BroadcastStream::new(state.service.subscribe())
        .filter_map(move |e| async move {
            match e {
                Ok(e) if e.workspace_id == ws => Some(Ok(Event::default()
                    .event("assignment")
                    .id(format!("{}:{}", e.conversation_id, e.version))
                    .json_data(&e)
                    .unwrap_or_default())),
                Ok(_) => None,
                // A slow reader missed some: say so, so it can re-read the inbox.
                Err(_) => Some(Ok(Event::default()
                    .event("lagged")
                    .data("some changes were skipped; reload"))),
            }
        })
        .take_until(state.shutdown.clone().cancelled_owned())
        .map(move |e| {
            let _held = &permit;
            e
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
