//! The HTTP API's conversation routes (`README.md#the-http-api`): inbox lists, one
//! conversation with its audit trail, and the actions (claim, reject, transfer, unassign,
//! resolve, reply) of `docs/behaviour.md#transitions`.

use super::AppState;
use super::auth::Auth;
use crate::engine::transition::{Command, Outcome, TransferTarget};
use crate::engine::{OperatorId, Resolution, Status, TeamId};
use crate::service::Filter;
use crate::service::{Acted, ConversationDetail, ConversationView};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, OptionalJson};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/conversations", get(list))
        .route("/v1/conversations/{id}", get(show))
        .route("/v1/conversations/{id}/claim", post(claim))
        .route("/v1/conversations/{id}/reject", post(reject))
        .route("/v1/conversations/{id}/transfer", post(transfer))
        .route("/v1/conversations/{id}/unassign", post(unassign))
        .route("/v1/conversations/{id}/resolve", post(resolve))
        .route("/v1/conversations/{id}/messages", post(reply))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// mine, unassigned (default) or all.
    filter: Option<String>,
    /// Only this widget's conversations.
    widget: Option<String>,
    /// Only this status (bot, handed_off, active, resolved).
    status: Option<String>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

/// The answer to every action.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    /// claimed, took_over, already_yours, rejected, transferred, returned_to_bot,
    /// unassigned, resolved, sent, note, unchanged…
    pub outcome: String,
    /// Why nothing changed, when nothing did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The transcript line written by a reply or note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    pub conversation: ConversationView,
}

impl From<Acted> for ActionResult {
    fn from(a: Acted) -> Self {
        let (outcome, detail) = match a.outcome {
            Outcome::HandedOff => ("handed_off", None),
            Outcome::Claimed => ("claimed", None),
            Outcome::TookOver { .. } => ("took_over", None),
            Outcome::Rejected => ("rejected", None),
            Outcome::TimedOut => ("timed_out", None),
            Outcome::Transferred => ("transferred", None),
            Outcome::ReturnedToBot => ("returned_to_bot", None),
            Outcome::Unassigned => ("unassigned", None),
            Outcome::Resolved => ("resolved", None),
            Outcome::Closed => ("closed", None),
            Outcome::Replied { self_claimed: true, .. } => ("sent_and_claimed", None),
            Outcome::Replied { took_over: true, .. } => ("sent_and_took_over", None),
            Outcome::Replied { .. } => ("sent", None),
            Outcome::InternalNote | Outcome::Discussion => ("note", None),
            Outcome::Unchanged(why) => ("unchanged", Some(why.to_owned())),
        };
        ActionResult {
            outcome: outcome.into(),
            detail,
            message_id: a.message_id,
            conversation: a.conversation,
        }
    }
}

/// Inbox lists.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<ConversationView>), (status = 400, description = "bad filter")))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<ConversationView>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = match q.filter.as_deref().unwrap_or("unassigned") {
        "mine" => Filter::Mine(p.actor.operator().ok_or_else(|| {
            ApiError::bad_request("filter=mine needs an operator's token; the admin token has no conversations")
        })?),
        "unassigned" => Filter::Unassigned,
        "all" => Filter::All,
        other => {
            return Err(ApiError::bad_request(format!(
                "filter `{other}` is not mine, unassigned or all"
            )));
        }
    };
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<Status>()
                .map_err(|e| ApiError::bad_request(format!("status {e}")))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let views = state
        .service
        .list_conversations(p.workspace, filter, q.widget.as_deref(), status, limit)
        .await?;
    Ok(Json(views))
}

/// One conversation, with its transcript and audit trail.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "the widget platform's conversation id")),
    responses((status = 200, body = ConversationDetail), (status = 404, description = "unknown conversation")))]
pub async fn show(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    Ok(Json(state.service.conversation(p.workspace, &id).await?))
}

async fn act(
    state: &AppState,
    p: &crate::service::Principal,
    id: &str,
    cmd: Command,
) -> Result<Json<ActionResult>, ApiError> {
    Ok(Json(state.service.act(p.workspace, id, &p.actor, cmd).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// Take it from its current owner (managers, by the workspace's takeover setting).
    #[serde(default)]
    pub takeover: bool,
}

/// Accept: take an unassigned conversation (409 `already_assigned`, naming the owner, if taken).
#[utoipa::path(post, path = "/v1/conversations/{id}/claim", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ClaimBody>),
    responses((status = 200, body = ActionResult), (status = 403, description = "not eligible, or takeover not allowed"),
        (status = 404, description = "unknown conversation"), (status = 409, description = "already_assigned (with owner) or invalid_state")))]
pub async fn claim(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ClaimBody>,
) -> Result<Json<ActionResult>, ApiError> {
    act(
        &state,
        &p,
        &id,
        Command::Claim {
            takeover: body.takeover,
        },
    )
    .await
}

/// Reject: record that you declined it; if it was yours it is routed again.
#[utoipa::path(post, path = "/v1/conversations/{id}/reject", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ActionResult), (status = 403), (status = 404), (status = 409)))]
pub async fn reject(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &p, &id, Command::Reject).await
}

/// Exactly one of `operator_id`, `team_id` or `"to": "bot"`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub operator_id: Option<i64>,
    pub team_id: Option<i64>,
    /// "bot": hand the conversation back to the AI.
    pub to: Option<String>,
}

/// Transfer to an operator, a team, or back to the bot.
#[utoipa::path(post, path = "/v1/conversations/{id}/transfer", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TransferBody,
    responses((status = 200, body = ActionResult), (status = 403), (status = 404, description = "unknown conversation, operator or team"), (status = 409), (status = 422)))]
pub async fn transfer(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<Json<ActionResult>, ApiError> {
    let target = match (body.operator_id, body.team_id, body.to.as_deref()) {
        (Some(op), None, None) => TransferTarget::Operator(OperatorId(op)),
        (None, Some(team), None) => TransferTarget::Team(TeamId(team)),
        (None, None, Some("bot")) => TransferTarget::Bot,
        (None, None, Some(other)) => {
            return Err(ApiError::unprocessable(format!(
                "`to` must be \"bot\", not \"{other}\""
            )));
        }
        _ => {
            return Err(ApiError::unprocessable(
                "give exactly one of `operator_id`, `team_id` or `\"to\": \"bot\"`",
            ));
        }
    };
    act(&state, &p, &id, Command::Transfer(target)).await
}

/// Unassign: back to the queue, not routed again.
#[utoipa::path(post, path = "/v1/conversations/{id}/unassign", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ActionResult), (status = 403), (status = 404), (status = 409)))]
pub async fn unassign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &p, &id, Command::Unassign).await
}

/// Resolve, with an optional topic, outcome and tags; the AI takes the chat back.
#[utoipa::path(post, path = "/v1/conversations/{id}/resolve", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<Resolution>),
    responses((status = 200, body = ActionResult), (status = 403), (status = 404), (status = 409)))]
pub async fn resolve(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<Resolution>,
) -> Result<Json<ActionResult>, ApiError> {
    act(&state, &p, &id, Command::Resolve(body)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// The reply; text starting with the internal-note prefix (default `//`) stays in the team.
    pub text: String,
    /// Take the conversation over from its owner and send (if your role allows).
    #[serde(default)]
    pub takeover: bool,
}

/// An operator reply from the web inbox: self-claims an unassigned conversation.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ReplyBody,
    responses((status = 200, body = ActionResult), (status = 403), (status = 404), (status = 409, description = "someone else owns it (already_assigned) or it is not open"), (status = 422)))]
pub async fn reply(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> Result<Json<ActionResult>, ApiError> {
    if body.text.trim().is_empty() {
        return Err(ApiError::unprocessable("`text` must not be empty"));
    }
    if body.text.len() > 40_000 {
        return Err(ApiError::unprocessable("`text` is longer than 40000 bytes"));
    }
    act(
        &state,
        &p,
        &id,
        Command::Reply {
            text: body.text,
            explicit: true,
            takeover: body.takeover,
            files: vec![],
        },
    )
    .await
}
