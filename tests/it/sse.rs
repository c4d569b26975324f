//! `GET /v1/events`: a client connected to the stream sees a change made by another.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases! {
    async fn a_stream_client_sees_a_claim_made_by_another_client(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        app.handoff("c1", "support").await;

        let res = app.http.get(app.url("/v1/events")).bearer_auth(&bo.token).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut res = res;

        let (s, _) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        let mut buf = String::new();
        let event = tokio::time::timeout(DEADLINE, async {
            while let Some(chunk) = res.chunk().await.unwrap() {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                for block in buf.split("\n\n") {
                    if block.contains("event: assignment") {
                        let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                        let v: Value = serde_json::from_str(&data).unwrap();
                        if v["reason"] == "claim" {
                            return v;
                        }
                    }
                }
            }
            panic!("the stream ended");
        })
        .await
        .expect("the claim arrives on the stream");
        assert_eq!(event["conversation_id"], "c1");
        assert_eq!(event["assignee"]["name"], "Ada");
        assert_eq!(event["status"], "active");
        assert_eq!(event["version"], 2);
    }

    async fn a_stream_shows_changes_made_through_another_instance_on_the_same_database(db) {
        let a = TestApp::spawn(&db).await;
        let b = TestApp::spawn(&db).await;
        let ada = a.operator("Ada", "agent").await;
        a.handoff("c1", "support").await;
        let mut res = a.http.get(a.url("/v1/events")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let (s, _) = b.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let mut buf = String::new();
        let seen = tokio::time::timeout(DEADLINE, async {
            while let Some(chunk) = res.chunk().await.unwrap() {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                if buf.contains("\"reason\":\"claim\"") {
                    return;
                }
            }
        })
        .await;
        assert!(seen.is_ok(), "instance A's stream carried the claim made on B: {buf}");
        assert!(buf.contains("\"name\":\"Ada\""), "{buf}");
    }

    async fn the_stream_needs_a_token(db) {
        let app = TestApp::spawn(&db).await;
        let res = app.http.get(app.url("/v1/events")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
}
