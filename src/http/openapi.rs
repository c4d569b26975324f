//! `GET /v1/openapi.json`: the OpenAPI document, generated from the handlers'
//! annotations and the types they take and return.

use super::AppState;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "handoff-bridge", description = "Assignment engine, widget events and HTTP API of handoff-bridge."),
    paths(
        super::health::healthz, super::health::readyz, super::health::metrics,
        super::widget_events::receive, super::files::serve,
        super::conversations::list, super::conversations::show, super::conversations::claim,
        super::conversations::reject, super::conversations::transfer, super::conversations::unassign,
        super::conversations::resolve, super::conversations::reply,
        super::directory::list_operators, super::directory::create_operator, super::directory::show_operator,
        super::directory::update_operator, super::directory::set_presence, super::directory::create_token,
        super::directory::list_tokens, super::directory::revoke_token,
        super::directory::list_teams, super::directory::create_team, super::directory::delete_team,
        super::directory::add_member, super::directory::remove_member,
        super::directory::list_widgets, super::directory::show_widget, super::directory::update_widget,
        super::events::stream, openapi_json,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses((status = 200, description = "the OpenAPI document")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
