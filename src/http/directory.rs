//! The HTTP API's directory routes (`README.md#the-http-api`): operators (with presence
//! and tokens), teams and widgets, checked as in `docs/behaviour.md#permissions`.

use super::AppState;
use super::auth::Auth;
use super::directory_shapes::{NewOperatorBody, OperatorOut, OperatorPatchBody, WidgetOut, WidgetPatchBody};
use crate::engine::{OperatorId, Presence, TeamId};
use crate::service::{NewToken, TeamView, TokenView};
use crate::web::error::ApiError;
use crate::web::extract::{ApiJson, OptionalJson};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/operators", get(list_operators).post(create_operator))
        .route("/v1/operators/{id}", get(show_operator).patch(update_operator))
        .route("/v1/operators/{id}/presence", put(set_presence))
        .route("/v1/operators/{id}/tokens", post(create_token).get(list_tokens))
        .route("/v1/operators/{id}/tokens/{token_id}", delete(revoke_token))
        .route("/v1/teams", get(list_teams).post(create_team))
        .route("/v1/teams/{id}", delete(delete_team))
        .route(
            "/v1/teams/{id}/members/{operator_id}",
            put(add_member).delete(remove_member),
        )
        .route("/v1/widgets", get(list_widgets))
        .route("/v1/widgets/{id}", get(show_widget).patch(update_widget))
}

/// Path ids that are not numbers name nothing: 404.
fn operator_id(raw: &str) -> Result<OperatorId, ApiError> {
    raw.parse()
        .map(OperatorId)
        .map_err(|_| ApiError::not_found(format!("no operator `{raw}`")))
}

fn team_id(raw: &str) -> Result<TeamId, ApiError> {
    raw.parse()
        .map(TeamId)
        .map_err(|_| ApiError::not_found(format!("no team `{raw}`")))
}

/// All operators.
#[utoipa::path(get, path = "/v1/operators", tag = "operators", security(("bearer" = [])), responses((status = 200, body = Vec<OperatorOut>)))]
pub async fn list_operators(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<OperatorOut>>, ApiError> {
    let all = state.service.list_operators(p.workspace).await?;
    Ok(Json(
        all.into_iter().map(|o| OperatorOut::of(o, &state.platforms)).collect(),
    ))
}

/// Add an operator (managers; only admins give roles other than agent).
#[utoipa::path(post, path = "/v1/operators", tag = "operators", security(("bearer" = [])), request_body = NewOperatorBody,
    responses((status = 201, body = OperatorOut), (status = 403), (status = 409, description = "that platform account is already linked to another operator"), (status = 422)))]
pub async fn create_operator(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<NewOperatorBody>,
) -> Result<(StatusCode, Json<OperatorOut>), ApiError> {
    let new = body.into_service(&state.platforms)?;
    let created = state.service.create_operator(p.workspace, &p.actor, new).await?;
    Ok((StatusCode::CREATED, Json(OperatorOut::of(created, &state.platforms))))
}

/// One operator.
#[utoipa::path(get, path = "/v1/operators/{id}", tag = "operators", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = OperatorOut), (status = 404)))]
pub async fn show_operator(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<OperatorOut>, ApiError> {
    let o = state.service.operator(p.workspace, operator_id(&id)?).await?;
    Ok(Json(OperatorOut::of(o, &state.platforms)))
}

/// Change an operator's name, role (admins), capacity or platform ids.
#[utoipa::path(patch, path = "/v1/operators/{id}", tag = "operators", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = OperatorPatchBody, responses((status = 200, body = OperatorOut), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update_operator(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OperatorPatchBody>,
) -> Result<Json<OperatorOut>, ApiError> {
    let patch = body.into_service(&state.platforms)?;
    let o = state
        .service
        .update_operator(p.workspace, &p.actor, operator_id(&id)?, patch)
        .await?;
    Ok(Json(OperatorOut::of(o, &state.platforms)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    pub presence: Presence,
}

/// Set presence: yourself, or anyone as a manager.
#[utoipa::path(put, path = "/v1/operators/{id}/presence", tag = "operators", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = PresenceBody, responses((status = 200, body = OperatorOut), (status = 403), (status = 404), (status = 422)))]
pub async fn set_presence(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PresenceBody>,
) -> Result<Json<OperatorOut>, ApiError> {
    let o = state
        .service
        .set_presence(p.workspace, &p.actor, operator_id(&id)?, body.presence)
        .await?;
    Ok(Json(OperatorOut::of(o, &state.platforms)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What the token is for.
    pub label: Option<String>,
}

/// A new API token for an operator, shown once (yourself, or anyone as an admin).
#[utoipa::path(post, path = "/v1/operators/{id}/tokens", tag = "operators", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = Option<TokenBody>), responses((status = 201, body = NewToken), (status = 403), (status = 404)))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<TokenBody>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let token = state
        .service
        .create_token(p.workspace, &p.actor, operator_id(&id)?, body.label.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// An operator's API tokens (yourself, or anyone as an admin), without their secrets.
#[utoipa::path(get, path = "/v1/operators/{id}/tokens", tag = "operators", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TokenView>), (status = 403), (status = 404)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    Ok(Json(
        state
            .service
            .list_tokens(p.workspace, &p.actor, operator_id(&id)?)
            .await?,
    ))
}

/// Revokes an API token at once (yourself, or anyone as an admin).
#[utoipa::path(delete, path = "/v1/operators/{id}/tokens/{token_id}", tag = "operators", security(("bearer" = [])),
    params(("id" = i64, Path), ("token_id" = i64, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let token: i64 = token
        .parse()
        .map_err(|_| ApiError::not_found(format!("no token `{token}`")))?;
    state
        .service
        .revoke_token(p.workspace, &p.actor, operator_id(&id)?, token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All teams with their members.
#[utoipa::path(get, path = "/v1/teams", tag = "teams", security(("bearer" = [])), responses((status = 200, body = Vec<TeamView>)))]
pub async fn list_teams(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<TeamView>>, ApiError> {
    Ok(Json(state.service.list_teams(p.workspace).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    pub name: String,
}

/// Create a team (managers).
#[utoipa::path(post, path = "/v1/teams", tag = "teams", security(("bearer" = [])), request_body = TeamBody,
    responses((status = 201, body = TeamView), (status = 403), (status = 409, description = "name taken"), (status = 422)))]
pub async fn create_team(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<TeamBody>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.service.create_team(p.workspace, &p.actor, &body.name).await?),
    ))
}

/// Delete a team (managers); its conversations keep their assignee.
#[utoipa::path(delete, path = "/v1/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_team(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_team(p.workspace, &p.actor, team_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a member (managers).
#[utoipa::path(put, path = "/v1/teams/{id}/members/{operator_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = i64, Path), ("operator_id" = i64, Path)), responses((status = 200, body = TeamView), (status = 403), (status = 404)))]
pub async fn add_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, op)): Path<(String, String)>,
) -> Result<Json<TeamView>, ApiError> {
    Ok(Json(
        state
            .service
            .set_team_member(p.workspace, &p.actor, team_id(&id)?, operator_id(&op)?, true)
            .await?,
    ))
}

/// Remove a member (managers).
#[utoipa::path(delete, path = "/v1/teams/{id}/members/{operator_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = i64, Path), ("operator_id" = i64, Path)), responses((status = 200, body = TeamView), (status = 403), (status = 404)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, op)): Path<(String, String)>,
) -> Result<Json<TeamView>, ApiError> {
    Ok(Json(
        state
            .service
            .set_team_member(p.workspace, &p.actor, team_id(&id)?, operator_id(&op)?, false)
            .await?,
    ))
}

/// All widgets.
#[utoipa::path(get, path = "/v1/widgets", tag = "widgets", security(("bearer" = [])), responses((status = 200, body = Vec<WidgetOut>)))]
pub async fn list_widgets(State(state): State<AppState>, Auth(p): Auth) -> Result<Json<Vec<WidgetOut>>, ApiError> {
    let all = state.service.list_widgets(p.workspace).await?;
    Ok(Json(
        all.into_iter().map(|w| WidgetOut::of(w, &state.platforms)).collect(),
    ))
}

/// One widget.
#[utoipa::path(get, path = "/v1/widgets/{id}", tag = "widgets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = WidgetOut), (status = 404)))]
pub async fn show_widget(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Json<WidgetOut>, ApiError> {
    let w = state.service.widget(p.workspace, &id).await?;
    Ok(Json(WidgetOut::of(w, &state.platforms)))
}

/// Change routing mode, eligible operators or channels (managers).
#[utoipa::path(patch, path = "/v1/widgets/{id}", tag = "widgets", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = WidgetPatchBody, responses((status = 200, body = WidgetOut), (status = 403), (status = 404), (status = 422)))]
pub async fn update_widget(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WidgetPatchBody>,
) -> Result<Json<WidgetOut>, ApiError> {
    let patch = body.into_service(&state.platforms)?;
    let w = state.service.update_widget(p.workspace, &p.actor, &id, patch).await?;
    Ok(Json(WidgetOut::of(w, &state.platforms)))
}
