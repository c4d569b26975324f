//! `GET /v1/events`: a client connected to the stream sees a change made by another.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::StatusCode;
use serde_json::json;

on_both_databases! {
    async fn a_stream_client_sees_a_claim_made_by_another_client(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        app.handoff("c1", "support").await;

        let mut events = EventStream::open(&app, &bo.token).await;
        let (s, _) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        let event = events
            .wait_for("the claim on the stream", "assignment", |v| v["reason"] == "claim")
            .await;
        assert_eq!(event["conversation_id"], "c1");
        assert_eq!(event["assignee"]["name"], "Ada");
        assert_eq!(event["status"], "active");
        assert_eq!(event["version"], 2);
    }

    async fn the_stream_needs_a_token(db) {
        let app = TestApp::spawn(&db).await;
        let res = app.http.get(app.url("/v1/events")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}

/// Several instances share one PostgreSQL (SQLite allows one instance; see
/// `review::a_second_instance_on_one_sqlite_file_is_refused`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(test_database_url), ignore = "PostgreSQL: set TEST_DATABASE_URL")]
async fn a_stream_shows_changes_made_through_another_instance_on_the_same_postgres() {
    let db = Db::postgres().await;
    let a = TestApp::spawn(&db).await;
    let b = TestApp::spawn(&db).await;
    let ada = a.operator("Ada", "agent").await;
    a.handoff("c1", "support").await;
    let mut events = EventStream::open(&a, ADMIN_TOKEN).await;
    let (s, _) = b.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let event = events
        .wait_for("instance A's stream to carry the claim made on B", "assignment", |v| {
            v["conversation_id"] == "c1" && v["reason"] == "claim"
        })
        .await;
    assert_eq!(event["assignee"]["name"], "Ada");
    assert_eq!(event["status"], "active");
    assert_eq!(event["version"], 2);
}
