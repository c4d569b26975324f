//! The HTTP API's edges: authentication, the directory's permission rules, unknown ids,
//! bad bodies, health, and the OpenAPI document.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_databases! {
    async fn requests_without_a_valid_token_are_refused(db) {
        let app = TestApp::spawn(&db).await;
        let res = app.http.get(app.url("/v1/conversations")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        let (s, _) = app.get("/v1/operators", "hbt_not_a_token").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.get("/healthz", "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, r) = app.get("/readyz", "").await;
        assert_eq!((s, r["database"].as_str()), (StatusCode::OK, Some("ok")));
    }

    async fn the_directory_checks_roles(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let max = app.operator("Max", "manager").await;
        let (s, r) = app.post("/v1/teams", &ada.token, json!({"name": "x"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(r["error"]["message"].as_str().unwrap().contains("manager"));
        let (s, r) = app.post("/v1/operators", &max.token, json!({"name": "Boss", "role": "admin"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "only admins set roles: {r}");
        let (s, _) = app.post("/v1/operators", &max.token, json!({"name": "Newbie"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, r) = app.call(Method::PATCH, &format!("/v1/operators/{}", ada.id), &ada.token, Some(json!({"role": "admin"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
        let (s, r) = app.call(Method::PATCH, &format!("/v1/operators/{}", ada.id), &ada.token, Some(json!({"capacity": 3}))).await;
        assert_eq!((s, r["capacity"].as_i64()), (StatusCode::OK, Some(3)));
        let (s, _) = app.call(Method::PUT, &format!("/v1/operators/{}/presence", max.id), &ada.token, Some(json!({"presence": "away"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.post(&format!("/v1/operators/{}/tokens", max.id), &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        app.handoff("c1", "support").await;
        let (s, _) = app.call(Method::PATCH, "/v1/widgets/support", &ada.token, Some(json!({"routing": "round-robin"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, w) = app.call(Method::PATCH, "/v1/widgets/support", &max.token, Some(json!({"routing": "lightest-load", "eligible": [ada.id]}))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(w["routing"], "lightest-load");
        assert_eq!(w["eligible"][0]["name"], "Ada");

        // Linking one Slack user to two operators is a conflict.
        let (s, _) = app.call(Method::PATCH, &format!("/v1/operators/{}", ada.id), ADMIN_TOKEN, Some(json!({"slack_user_id": "U1"}))).await;
        assert_eq!(s, StatusCode::OK);
        let (s, r) = app.call(Method::PATCH, &format!("/v1/operators/{}", max.id), ADMIN_TOKEN, Some(json!({"slack_user_id": "U1"}))).await;
        assert_eq!(s, StatusCode::CONFLICT, "{r}");

        // Teams: create, staff, list, remove, delete.
        let (_, team) = app.post("/v1/teams", &max.token, json!({"name": "billing"})).await;
        let tid = team["id"].as_i64().unwrap();
        let (s, _) = app.post("/v1/teams", &max.token, json!({"name": "billing"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (s, t) = app.call(Method::PUT, &format!("/v1/teams/{tid}/members/{}", ada.id), &max.token, None).await;
        assert_eq!((s, t["members"][0]["name"].as_str()), (StatusCode::OK, Some("Ada")));
        let (_, teams) = app.get("/v1/teams", &ada.token).await;
        assert_eq!(teams[0]["members"].as_array().unwrap().len(), 1);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/teams/{tid}/members/{}", ada.id), &ada.token, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/teams/{tid}/members/{}", ada.id), &max.token, None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/teams/{tid}"), &max.token, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }

    async fn unknown_ids_are_404_and_bad_bodies_say_what_is_wrong(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        for path in ["/v1/conversations/nope", "/v1/operators/999", "/v1/operators/abc", "/v1/widgets/nope"] {
            let (s, r) = app.get(path, &ada.token).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {r}");
            assert_eq!(r["error"]["code"], "not_found");
        }
        let (s, _) = app.post("/v1/conversations/nope/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.call(Method::DELETE, "/v1/teams/42", ADMIN_TOKEN, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        let res = app.http.post(app.url("/v1/operators")).bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json").body("{\"name\": ").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let (s, r) = app.post("/v1/operators", ADMIN_TOKEN, json!({"name": 42})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r["error"]["message"].as_str().unwrap().contains("name"), "{r}");
        let (s, r) = app.post("/v1/operators", ADMIN_TOKEN, json!({"name": "X", "role": "boss"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r["error"]["message"].as_str().unwrap().contains("role"), "{r}");
        let (s, _) = app.call(Method::PUT, &format!("/v1/operators/{}/presence", ada.id), &ada.token, Some(json!({"presence": "asleep"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("select count(*) from operators").await, 1, "nothing was created");
    }

    async fn the_openapi_document_lists_every_route(db) {
        let app = TestApp::spawn(&db).await;
        let doc: Value = app.http.get(app.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let expected = [
            ("get", "/v1/conversations"), ("get", "/v1/conversations/{id}"),
            ("post", "/v1/conversations/{id}/claim"), ("post", "/v1/conversations/{id}/reject"),
            ("post", "/v1/conversations/{id}/transfer"), ("post", "/v1/conversations/{id}/unassign"),
            ("post", "/v1/conversations/{id}/resolve"), ("post", "/v1/conversations/{id}/messages"),
            ("get", "/v1/operators"), ("post", "/v1/operators"), ("get", "/v1/operators/{id}"),
            ("patch", "/v1/operators/{id}"), ("put", "/v1/operators/{id}/presence"),
            ("post", "/v1/operators/{id}/tokens"), ("get", "/v1/teams"), ("post", "/v1/teams"),
            ("delete", "/v1/teams/{id}"), ("put", "/v1/teams/{id}/members/{operator_id}"),
            ("delete", "/v1/teams/{id}/members/{operator_id}"), ("get", "/v1/widgets"),
            ("get", "/v1/widgets/{id}"), ("patch", "/v1/widgets/{id}"), ("get", "/v1/events"),
            ("get", "/v1/openapi.json"), ("post", "/v1/widget/events"), ("get", "/v1/files/{id}/{name}"),
            ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"),
        ];
        for (method, path) in expected {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is documented");
        }
        assert!(doc["components"]["schemas"]["ConversationView"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
