//! The transitions (`docs/behaviour.md#transitions`) through the HTTP API, each with its
//! permission failures, and what the widget platform is told.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn forbidden_saying(res: &(StatusCode, Value), words: &str) {
    assert_eq!(res.0, StatusCode::FORBIDDEN, "{}", res.1);
    assert_eq!(res.1["error"]["code"], "forbidden");
    let msg = res.1["error"]["message"].as_str().unwrap();
    assert!(msg.contains(words), "`{msg}` should say `{words}`");
}

on_both_databases! {
    async fn reject_by_the_assignee_unassigns_and_by_others_is_refused(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        app.handoff("c1", "support").await;
        app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        let res = app.post("/v1/conversations/c1/reject", &bo.token, json!({})).await;
        forbidden_saying(&res, "only its assignee");
        let (s, r) = app.post("/v1/conversations/c1/reject", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["outcome"], "rejected");
        assert_eq!(r["conversation"]["assignee"], Value::Null, "manual routing: back in the queue");
        assert_eq!(r["conversation"]["declined_by"][0]["name"], "Ada");
        // While unassigned, anyone may reject (decline) it.
        let (s, r) = app.post("/v1/conversations/c1/reject", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["conversation"]["declined_by"].as_array().unwrap().len(), 2);
    }

    async fn transfer_to_an_operator_a_team_and_the_bot(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let cy = app.operator("Cy", "agent").await;
        let max = app.operator("Max", "manager").await;
        app.widget_with_routing("support", "round-robin").await;
        set_presence_all_away_but(&app, &[&ada, &bo, &cy, &max], &[&ada]).await;
        app.handoff("c1", "support").await;
        assert_eq!(app.conversation("c1").await["assignee"]["name"], "Ada");

        // Not the assignee, not a manager: refused, and nothing changes.
        let res = app.post("/v1/conversations/c1/transfer", &bo.token, json!({"operator_id": cy.id})).await;
        forbidden_saying(&res, "assignee or a manager");
        assert_eq!(app.conversation("c1").await["assignee"]["name"], "Ada");
        // Bad bodies.
        let (s, r) = app.post("/v1/conversations/c1/transfer", &ada.token, json!({"operator_id": 1, "team_id": 1})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        let (s, _) = app.post("/v1/conversations/c1/transfer", &ada.token, json!({"to": "nowhere"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = app.post("/v1/conversations/c1/transfer", &ada.token, json!({"operator_id": 9999})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // The assignee hands it to Bo (who is away: manual assignment always works).
        let (s, r) = app.post("/v1/conversations/c1/transfer", &ada.token, json!({"operator_id": bo.id})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["assignee"]["name"], "Bo");

        // A manager sends it to a team: routed among its members (Cy is the available one).
        let (s, team) = app.post("/v1/teams", &max.token, json!({"name": "billing"})).await;
        assert_eq!(s, StatusCode::CREATED, "{team}");
        let tid = team["id"].as_i64().unwrap();
        for op in [&bo, &cy] {
            let (s, _) = app.call(Method::PUT, &format!("/v1/teams/{tid}/members/{}", op.id), &max.token, None).await;
            assert_eq!(s, StatusCode::OK);
        }
        set_presence_all_away_but(&app, &[&ada, &bo, &cy, &max], &[&cy]).await;
        let (s, r) = app.post("/v1/conversations/c1/transfer", &max.token, json!({"team_id": tid})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["team"]["name"], "billing");
        assert_eq!(r["conversation"]["assignee"]["name"], "Cy");

        // Back to the bot: unassigned, status bot, and the widget platform is told.
        let (s, r) = app.post("/v1/conversations/c1/transfer", &cy.token, json!({"to": "bot"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["status"], "bot");
        assert_eq!(r["conversation"]["assignee"], Value::Null);
        app.widget.wait_for(DEADLINE, "a handback for c1", |calls| {
            calls.iter().any(|c| c.conversation.as_deref() == Some("c1") && c.kind.as_deref() == Some("handback") && c.status == 200)
        }).await;
        // Nothing more can be done to it until a new handoff.
        let (s, r) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(r["error"]["code"], "invalid_state");
    }

    async fn unassign_and_resolve_follow_their_rules(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let max = app.operator("Max", "manager").await;
        app.handoff("c1", "support").await;
        app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;

        forbidden_saying(&app.post("/v1/conversations/c1/unassign", &bo.token, json!({})).await, "assignee or a manager");
        forbidden_saying(&app.post("/v1/conversations/c1/resolve", &bo.token, json!({})).await, "assignee or a manager");

        let (s, r) = app.post("/v1/conversations/c1/unassign", &max.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["conversation"]["assignee"], Value::Null);
        assert_eq!(r["conversation"]["status"], "handed_off");

        app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        let (s, r) = app.post("/v1/conversations/c1/resolve", &ada.token, json!({"topic": "refund", "outcome": "refunded", "tags": ["billing", "vip"]})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["status"], "resolved");
        assert_eq!(r["conversation"]["resolution"], json!({"topic": "refund", "outcome": "refunded", "tags": ["billing", "vip"]}));
        let calls = app.widget.wait_for(DEADLINE, "a handback with the resolution", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("handback") && c.status == 200)
        }).await;
        let handback = calls.iter().find(|c| c.kind.as_deref() == Some("handback")).unwrap();
        assert_eq!(handback.body["topic"], "refund");
        assert_eq!(handback.body["tags"], json!(["billing", "vip"]));
        let (s, r) = app.post("/v1/conversations/c1/resolve", &ada.token, json!({})).await;
        assert_eq!((s, r["outcome"].as_str()), (StatusCode::OK, Some("unchanged")));
    }

    async fn a_reply_self_claims_and_reaches_the_visitor_but_not_from_a_non_owner(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let max = app.operator("Max", "manager").await;
        app.handoff("c1", "support").await;

        let (s, r) = app.post("/v1/conversations/c1/messages", &ada.token, json!({"text": "Hi Ada, I can help"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["outcome"], "sent_and_claimed");
        assert_eq!(r["conversation"]["assignee"]["name"], "Ada");
        assert_eq!(r["conversation"]["status"], "active");
        let calls = app.widget.wait_for(DEADLINE, "the reply at the widget platform", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("messages") && c.status == 200)
        }).await;
        let sent = calls.iter().find(|c| c.kind.as_deref() == Some("messages")).unwrap();
        assert_eq!(sent.body["text"], "Hi Ada, I can help");
        assert_eq!(sent.body["operator"]["name"], "Ada");
        assert!(sent.signature_ok);
        eventually("the delivery receipt", || async {
            let c = app.conversation("c1").await;
            let line = c["transcript"].as_array().unwrap().iter().find(|l| l["author"] == "operator").cloned().unwrap();
            (line["delivery"] == "delivered").then_some(())
        }).await;

        // Bo is not the owner: not sent, told who owns it; asking to take over is refused.
        let (s, r) = app.post("/v1/conversations/c1/messages", &bo.token, json!({"text": "me too"})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(r["error"]["owner"]["name"], "Ada");
        assert_eq!(r["error"]["takeover_allowed"], false);
        forbidden_saying(&app.post("/v1/conversations/c1/messages", &bo.token, json!({"text": "me too", "takeover": true})).await, "manager role");
        // An internal note is for the team only.
        let (s, r) = app.post("/v1/conversations/c1/messages", &bo.token, json!({"text": "// she is a VIP"})).await;
        assert_eq!((s, r["outcome"].as_str()), (StatusCode::OK, Some("note")));
        // A manager may take over and send.
        let (s, r) = app.post("/v1/conversations/c1/messages", &max.token, json!({"text": "Max here", "takeover": true})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["outcome"], "sent_and_took_over");
        assert_eq!(r["conversation"]["assignee"]["name"], "Max");

        let calls = app.widget.wait_for(DEADLINE, "Max's reply", |calls| {
            calls.iter().filter(|c| c.kind.as_deref() == Some("messages") && c.status == 200).count() >= 2
        }).await;
        let texts: Vec<&str> = calls.iter().filter(|c| c.kind.as_deref() == Some("messages")).filter_map(|c| c.body["text"].as_str()).collect();
        assert!(!texts.iter().any(|t| t.contains("me too") || t.contains("VIP")), "{texts:?}");
        let transcript = app.conversation("c1").await["transcript"].clone();
        assert!(transcript.as_array().unwrap().iter().any(|l| l["author"] == "note" && l["text"] == "// she is a VIP"));
    }

    async fn the_takeover_setting_decides_who_may_take_over(db) {
        let app = TestApp::spawn_with(&db, &[("HANDOFF_TAKEOVER", "everyone")]).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        app.handoff("c1", "support").await;
        app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        let (s, r) = app.post("/v1/conversations/c1/messages", &bo.token, json!({"text": "mine now", "takeover": true})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["assignee"]["name"], "Bo");

        let db2 = Db::sqlite();
        let app2 = TestApp::spawn_with(&db2, &[("HANDOFF_TAKEOVER", "never")]).await;
        let ada = app2.operator("Ada", "agent").await;
        let max = app2.operator("Max", "admin").await;
        app2.handoff("c1", "support").await;
        app2.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        forbidden_saying(&app2.post("/v1/conversations/c1/claim", &max.token, json!({"takeover": true})).await, "turned off");
    }
}

async fn set_presence_all_away_but(app: &TestApp, all: &[&Operator], available: &[&Operator]) {
    for op in all {
        let p = if available.iter().any(|a| a.id == op.id) {
            "available"
        } else {
            "away"
        };
        let (s, _) = app
            .call(
                Method::PUT,
                &format!("/v1/operators/{}/presence", op.id),
                ADMIN_TOKEN,
                Some(json!({"presence": p})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
}
