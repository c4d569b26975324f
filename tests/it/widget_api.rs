//! Widget events (`docs/widget-api.md#inbound-events`): signed widget events,
//! idempotency, refusals that change nothing.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::signature;
use handoff_bridge::standins::widget::WidgetClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Row counts of every table an event could touch.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "conversations",
        "messages",
        "assignment_events",
        "inbound_events",
        "outbox",
        "widgets",
    ] {
        out.push(app.count(&format!("select count(*) from {table}")).await);
    }
    out
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_databases! {
    async fn a_handoff_is_listed_as_unassigned_and_filters_are_right(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let c = app.handoff("conv_1", "support").await;
        assert_eq!(c["status"], "handed_off");
        assert_eq!(c["assignee"], Value::Null);
        assert_eq!(c["visitor"]["name"], "Ada");
        assert_eq!(c["transcript"].as_array().unwrap().len(), 2, "the transcript so far is kept");
        app.handoff("conv_2", "support").await;

        let (s, list) = app.get("/v1/conversations?filter=unassigned", &ada.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ids(&list).len(), 2);
        let (s, _) = app.post("/v1/conversations/conv_1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        let (_, mine) = app.get("/v1/conversations?filter=mine", &ada.token).await;
        assert_eq!(ids(&mine), vec!["conv_1"]);
        let (_, unassigned) = app.get("/v1/conversations?filter=unassigned", &ada.token).await;
        assert_eq!(ids(&unassigned), vec!["conv_2"]);
        let (_, all) = app.get("/v1/conversations?filter=all", &ada.token).await;
        assert_eq!(ids(&all).len(), 2);
        let (_, by_widget) = app.get("/v1/conversations?filter=all&widget=other", &ada.token).await;
        assert!(ids(&by_widget).is_empty());
        let (s, e) = app.get("/v1/conversations?filter=everything", &ada.token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(e["error"]["message"].as_str().unwrap().contains("mine, unassigned or all"));
    }

    async fn an_unknown_widget_is_created_with_defaults(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("conv_1", "brand-new").await;
        let (s, w) = app.get("/v1/widgets/brand-new", ADMIN_TOKEN).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(w["routing"], "manual");
        assert_eq!(w["eligible"], json!([]));
    }

    async fn the_same_event_twice_acts_once(db) {
        let app = TestApp::spawn(&db).await;
        let event = WidgetClient::handoff_event("conv_1", "support");
        let first = app.client.send(&event).await;
        assert_eq!(first.status(), StatusCode::OK);
        let before = footprint(&app).await;
        let again = app.client.send(&event).await;
        assert_eq!(again.status(), StatusCode::OK);
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["status"], "duplicate");
        assert_eq!(footprint(&app).await, before, "a repeat changes nothing");
        assert_eq!(app.count("select count(*) from assignment_events where reason = 'handoff'").await, 1);
    }

    async fn bad_requests_are_refused_and_change_nothing(db) {
        let app = TestApp::spawn(&db).await;
        let before = footprint(&app).await;
        let event = WidgetClient::handoff_event("conv_1", "support");
        let body = serde_json::to_vec(&event).unwrap();
        let now = signature::unix_now();

        let bad_sig = app.client.send_raw(body.clone(), now, "not-the-secret").await;
        assert_eq!(bad_sig.status(), StatusCode::UNAUTHORIZED);
        let msg: Value = bad_sig.json().await.unwrap();
        assert!(msg["error"]["message"].as_str().unwrap().contains("does not match"), "{msg}");

        let stale = app.client.send_raw(body.clone(), now - 301, WIDGET_SECRET).await;
        assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
        let msg: Value = stale.json().await.unwrap();
        assert!(msg["error"]["message"].as_str().unwrap().contains("300 seconds"), "{msg}");

        let unsigned = app.http.post(app.url("/v1/widget/events")).body(body.clone()).send().await.unwrap();
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

        let malformed = app.client.send_raw(b"{\"id\": ".to_vec(), now, WIDGET_SECRET).await;
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        let msg: Value = malformed.json().await.unwrap();
        assert_eq!(msg["error"]["code"], "malformed_json");

        let mut wrong = event.clone();
        wrong["conversation"]["transcript"] = json!("not a list");
        let wrong_types = app.client.send(&wrong).await;
        assert_eq!(wrong_types.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let msg: Value = wrong_types.json().await.unwrap();
        assert!(msg["error"]["message"].as_str().unwrap().contains("transcript") || msg["error"]["message"].as_str().unwrap().contains("sequence"), "{msg}");

        let mut unknown_type = event.clone();
        unknown_type["type"] = json!("conversation.exploded");
        assert_eq!(app.client.send(&unknown_type).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let mut long_id = event.clone();
        long_id["conversation"]["id"] = json!("c".repeat(201));
        let too_long = app.client.send(&long_id).await;
        assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let msg: Value = too_long.json().await.unwrap();
        assert!(msg["error"]["message"].as_str().unwrap().contains("200 characters"), "{msg}");

        let close_unknown = app.client.send(&WidgetClient::closed_event("conv_nope")).await;
        assert_eq!(close_unknown.status(), StatusCode::NOT_FOUND);
        let msg: Value = close_unknown.json().await.unwrap();
        assert!(msg["error"]["message"].as_str().unwrap().contains("conv_nope"));

        let huge = json!({"id": "evt_huge", "type": "conversation.handed_off", "conversation": {
            "id": "conv_huge", "widget_id": "support", "summary": "x".repeat(70_000)}});
        let too_big = app.client.send(&huge).await;
        assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);

        assert_eq!(footprint(&app).await, before, "refused requests leave no trace");
    }

    async fn visitor_messages_are_stored_once_and_close_resolves(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("conv_1", "support").await;
        let msg = WidgetClient::message_event("conv_1", "visitor", "Are you there?");
        assert_eq!(app.client.send(&msg).await.status(), StatusCode::OK);
        // The same message under a new event id (the platform re-sent it) is stored once.
        let mut resent = msg.clone();
        resent["id"] = json!("evt_resent");
        assert_eq!(app.client.send(&resent).await.status(), StatusCode::OK);
        let c = app.conversation("conv_1").await;
        let texts: Vec<&str> = c["transcript"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap()).collect();
        assert_eq!(texts.iter().filter(|t| **t == "Are you there?").count(), 1);

        assert_eq!(app.client.send(&WidgetClient::closed_event("conv_1")).await.status(), StatusCode::OK);
        let c = app.conversation("conv_1").await;
        assert_eq!(c["status"], "resolved");
        let last = c["audit"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["reason"], "closed");
        assert_eq!(last["actor"], "widget");

        // A visitor message on a resolved chat is shown, and does not reopen it.
        app.client.send(&WidgetClient::message_event("conv_1", "visitor", "one more thing")).await;
        assert_eq!(app.conversation("conv_1").await["status"], "resolved");
        // A new handoff does.
        app.handoff("conv_1", "support").await;
        assert_eq!(app.conversation("conv_1").await["status"], "handed_off");
    }

    async fn attachments_must_be_web_addresses_and_a_refused_message_stores_nothing(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("conv_1", "support").await;
        let lines = "select count(*) from messages where conversation_id = 'conv_1'";
        let before = app.count(lines).await;
        let long = format!("https://files.example.com/{}", "a".repeat(2100));
        let eleven: Vec<String> = (0..11).map(|i| format!("https://files.example.com/{i}.png")).collect();
        for (attachments, says) in [
            (json!(["javascript:alert(1)"]), "`message.attachments[0]`: `javascript:alert(1)` is not an http or https URL"),
            (json!(["https://files.example.com/ok.pdf", "data:text/html,<b>hi</b>"]), "`message.attachments[1]`"),
            (json!(["file:///etc/passwd"]), "is not an http or https URL"),
            (json!(["receipt.pdf"]), "is not a URL"),
            (json!([long]), "longer than 2048 characters"),
            (json!(eleven), "at most 10 are taken"),
        ] {
            let mut msg = WidgetClient::message_event("conv_1", "visitor", "here is my receipt");
            msg["message"]["attachments"] = attachments.clone();
            let res = app.client.send(&msg).await;
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{attachments}");
            let body: serde_json::Value = res.json().await.unwrap();
            assert!(body["error"]["message"].as_str().unwrap().contains(says), "{attachments}: {body}");
        }
        assert_eq!(app.count(lines).await, before, "nothing was stored");

        let mut msg = WidgetClient::message_event("conv_1", "visitor", "here is my receipt");
        msg["message"]["attachments"] = json!(["https://files.example.com/receipt-123.pdf"]);
        assert_eq!(app.client.send(&msg).await.status(), StatusCode::OK);
        let c = app.conversation("conv_1").await;
        let last = c["transcript"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["attachments"], json!(["https://files.example.com/receipt-123.pdf"]), "{last}");
    }
}
