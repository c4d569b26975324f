//! Claims race: of many concurrent Accepts exactly one wins, on both databases.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::StatusCode;
use serde_json::json;

on_both_databases! {
    async fn of_fifty_concurrent_claims_exactly_one_wins(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("conv_race", "support").await;
        let mut operators = Vec::new();
        for i in 0..50 {
            operators.push(app.operator(&format!("op{i:02}"), "agent").await);
        }
        let claims = operators.iter().map(|op| {
            let app = &app;
            async move { (op.clone(), app.post("/v1/conversations/conv_race/claim", &op.token, json!({})).await) }
        });
        let results = futures_util::future::join_all(claims).await;

        let winners: Vec<_> = results.iter().filter(|(_, (s, _))| *s == StatusCode::OK).collect();
        assert_eq!(winners.len(), 1, "exactly one claim wins");
        let winner = &winners[0].0;
        let losers: Vec<_> = results.iter().filter(|(_, (s, _))| *s != StatusCode::OK).collect();
        assert_eq!(losers.len(), 49);
        for (_, (status, body)) in &losers {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "already_assigned");
            assert_eq!(body["error"]["owner"]["name"], winner.name.as_str(), "the loser is told who has it");
            assert!(body["error"]["message"].as_str().unwrap().contains(&winner.name));
        }
        let c = app.conversation("conv_race").await;
        assert_eq!(c["assignee"]["id"], winner.id);
        assert_eq!(c["status"], "active");
        assert_eq!(app.count("select count(*) from assignment_events where conversation_id = 'conv_race' and reason = 'claim'").await, 1);
    }

    async fn a_second_accept_is_told_who_already_has_it_and_a_manager_may_take_over(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("conv_1", "support").await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let max = app.operator("Max", "manager").await;
        let (s, r) = app.post("/v1/conversations/conv_1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["outcome"], "claimed");
        // Claiming your own again changes nothing.
        let (s, r) = app.post("/v1/conversations/conv_1/claim", &ada.token, json!({})).await;
        assert_eq!((s, r["outcome"].as_str()), (StatusCode::OK, Some("unchanged")));

        let (s, r) = app.post("/v1/conversations/conv_1/claim", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(r["error"]["takeover_allowed"], false);
        let (s, r) = app.post("/v1/conversations/conv_1/claim", &bo.token, json!({"takeover": true})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(r["error"]["message"].as_str().unwrap().contains("manager role"), "{r}");

        let (s, r) = app.post("/v1/conversations/conv_1/claim", &max.token, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "a plain accept never takes over");
        assert_eq!(r["error"]["takeover_allowed"], true);
        let (s, r) = app.post("/v1/conversations/conv_1/claim", &max.token, json!({"takeover": true})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["outcome"], "took_over");
        assert_eq!(r["conversation"]["assignee"]["name"], "Max");
    }

    async fn only_eligible_operators_may_claim(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        app.handoff("conv_1", "vip").await;
        app.set_routing("vip", "manual", Some(&[ada.id])).await;
        let (s, r) = app.post("/v1/conversations/conv_1/claim", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert!(r["error"]["message"].as_str().unwrap().contains("eligible"), "{r}");
        assert_eq!(app.conversation("conv_1").await["assignee"], serde_json::Value::Null);
        let (s, _) = app.post("/v1/conversations/conv_1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
    }
}
