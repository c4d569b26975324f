//! Routing (`docs/behaviour.md#routing`): round-robin with a persisted cursor,
//! lightest-load with its tie rules, presence, capacity and declines.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn assignee(app: &TestApp, conv: &str) -> Value {
    app.conversation(conv).await["assignee"]["name"].clone()
}

async fn set_presence(app: &TestApp, op: &Operator, presence: &str) {
    let (s, r) = app
        .call(
            Method::PUT,
            &format!("/v1/operators/{}/presence", op.id),
            &op.token,
            Some(json!({"presence": presence})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

async fn transfer_to(app: &TestApp, conv: &str, op: &Operator) {
    let (s, r) = app
        .post(
            &format!("/v1/conversations/{conv}/transfer"),
            ADMIN_TOKEN,
            json!({"operator_id": op.id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

on_both_databases! {
    async fn round_robin_goes_in_order_and_its_cursor_survives_a_restart(db) {
        let app = TestApp::spawn(&db).await;
        let _ada = app.operator("Ada", "agent").await;
        let _bo = app.operator("Bo", "agent").await;
        let _cy = app.operator("Cy", "agent").await;
        app.widget_with_routing("rr", "round-robin").await;
        let mut order = Vec::new();
        for i in 1..=4 {
            let c = app.handoff(&format!("c{i}"), "rr").await;
            order.push(c["assignee"]["name"].as_str().unwrap().to_owned());
            let audit = c["audit"].as_array().unwrap();
            assert_eq!(audit.last().unwrap()["actor"], "routing");
        }
        assert_eq!(order, ["Ada", "Bo", "Cy", "Ada"]);

        let app = app.restart(&db).await;
        app.handoff("c5", "rr").await;
        assert_eq!(assignee(&app, "c5").await, "Bo", "the cursor was kept across the restart");
    }

    async fn an_away_operator_is_skipped_by_round_robin_as_are_full_and_declining_ones(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let cy = app.operator("Cy", "agent").await;
        let _dee = app.operator("Dee", "agent").await;
        app.widget_with_routing("rr", "round-robin").await;
        set_presence(&app, &bo, "away").await;
        let (s, _) = app.call(Method::PATCH, &format!("/v1/operators/{}", cy.id), ADMIN_TOKEN, Some(json!({"capacity": 0}))).await;
        assert_eq!(s, StatusCode::OK);

        app.handoff("c1", "rr").await;
        assert_eq!(assignee(&app, "c1").await, "Ada");
        app.handoff("c2", "rr").await;
        assert_eq!(assignee(&app, "c2").await, "Dee", "Bo is away and Cy is at capacity");

        // Ada rejects c1: it is routed again, skipping her.
        let (s, r) = app.post("/v1/conversations/c1/reject", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let c1 = app.conversation("c1").await;
        assert_eq!(c1["assignee"]["name"], "Dee");
        assert_eq!(c1["declined_by"][0]["name"], "Ada");

        // Manual assignment works even for someone away or full.
        transfer_to(&app, "c2", &bo).await;
        assert_eq!(assignee(&app, "c2").await, "Bo");
    }

    async fn lightest_load_counts_open_chats_and_breaks_ties_by_least_recent_then_lowest_id(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let cy = app.operator("Cy", "agent").await;
        for c in ["b1", "b2", "y1", "a1", "a2"] {
            app.handoff(c, "manual").await;
        }
        transfer_to(&app, "b1", &bo).await;
        transfer_to(&app, "b2", &bo).await;
        transfer_to(&app, "y1", &cy).await;
        transfer_to(&app, "a1", &ada).await;
        transfer_to(&app, "a2", &ada).await;
        // Bo's second chat is resolved: it no longer counts.
        let (s, _) = app.post("/v1/conversations/b2/resolve", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);

        app.widget_with_routing("ll", "lightest-load").await;
        // Ada 2 open; Bo 1 and Cy 1: Bo was assigned least recently.
        app.handoff("n1", "ll").await;
        assert_eq!(assignee(&app, "n1").await, "Bo");
        app.handoff("n2", "ll").await;
        assert_eq!(assignee(&app, "n2").await, "Cy");

        // Two newcomers, never assigned, no chats: the lower id wins.
        let _dee = app.operator("Dee", "agent").await;
        let _eve = app.operator("Eve", "agent").await;
        app.handoff("n3", "ll").await;
        assert_eq!(assignee(&app, "n3").await, "Dee");
    }

    async fn with_nobody_available_it_stays_unassigned(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.widget_with_routing("rr", "round-robin").await;
        set_presence(&app, &ada, "away").await;
        let c = app.handoff("c1", "rr").await;
        assert_eq!(c["assignee"], Value::Null);
        assert_eq!(c["status"], "handed_off");
        assert_eq!(c["audit"].as_array().unwrap().last().unwrap()["reason"], "unrouted");
        // Away operators may still claim by hand.
        let (s, _) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
    }
}
