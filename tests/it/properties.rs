//! Property tests of the engine through the real service: any sequence of actions, by
//! any operator (or the admin token), on a few conversations keeps the invariants a
//! support team relies on. Checked after every step:
//! - a refused action leaves the conversation exactly as it was;
//! - an accepted change raises the version, and nothing else moves it;
//! - at most one assignee (one field, by construction), none once back with the bot,
//!   and an active conversation always has one;
//! - every operator's open-chat count equals a recount of the conversations.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::standins::widget::WidgetClient;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One action: who (0–2 operators, 3 the admin token), what, on which conversation.
#[derive(Debug, Clone)]
enum Act {
    Claim { takeover: bool },
    Reject,
    Unassign,
    Resolve,
    TransferTo(usize),
    TransferToBot,
    Reply,
    HandoffAgain,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        any::<bool>().prop_map(|takeover| Act::Claim { takeover }),
        Just(Act::Reject),
        Just(Act::Unassign),
        Just(Act::Resolve),
        (0usize..3).prop_map(Act::TransferTo),
        Just(Act::TransferToBot),
        Just(Act::Reply),
        Just(Act::HandoffAgain),
    ]
}

fn steps() -> impl Strategy<Value = Vec<(usize, Act, usize)>> {
    proptest::collection::vec((0usize..4, act(), 0usize..2), 1..20)
}

on_both_databases! {
    async fn any_sequence_of_actions_keeps_the_invariants(db) {
        let app = TestApp::spawn(&db).await;
        let ops = vec![
            app.operator("Ada", "agent").await,
            app.operator("Bo", "agent").await,
            app.operator("Max", "manager").await,
        ];
        app.widget_with_routing("support", "round-robin").await;
        let case = std::sync::atomic::AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
        let handle = tokio::runtime::Handle::current();
        let result = runner.run(&steps(), |steps| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::task::block_in_place(|| handle.block_on(run_case(&app, &ops, n, &steps)))
                .map_err(proptest::test_runner::TestCaseError::fail)
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

async fn run_case(app: &TestApp, ops: &[Operator], case: usize, steps: &[(usize, Act, usize)]) -> Result<(), String> {
    let ids = [format!("p{case}a"), format!("p{case}b")];
    for id in &ids {
        app.handoff(id, "support").await;
    }
    for (who, what, which) in steps {
        let id = &ids[*which];
        let token = match ops.get(*who) {
            Some(o) => o.token.clone(),
            None => ADMIN_TOKEN.to_owned(),
        };
        let before = app.conversation(id).await;
        let status = perform(app, ops, &token, id, what).await;
        let after = app.conversation(id).await;
        let (v0, v1) = (before["version"].as_i64().unwrap(), after["version"].as_i64().unwrap());
        if status.is_success() {
            if v1 < v0 {
                return Err(format!("{what:?} by {who} moved the version back: {v0} → {v1}"));
            }
        } else if strip(&before) != strip(&after) {
            return Err(format!(
                "{what:?} by {who} was refused ({status}) yet changed {id}:\n{before}\n→ {after}"
            ));
        }
        if v1 != v0 && strip_version(&before) == strip_version(&after) {
            return Err(format!("{what:?}: the version moved with nothing else"));
        }
        let st = after["status"].as_str().unwrap_or_default();
        if st == "bot" && !after["assignee"].is_null() {
            return Err(format!("a conversation back with the bot has an assignee: {after}"));
        }
        if st == "active" && after["assignee"].is_null() {
            return Err(format!("an active conversation has no assignee: {after}"));
        }
        recount(app).await?;
    }
    Ok(())
}

async fn perform(app: &TestApp, ops: &[Operator], token: &str, id: &str, what: &Act) -> StatusCode {
    let path = |verb: &str| format!("/v1/conversations/{id}/{verb}");
    match what {
        Act::Claim { takeover } => app.post(&path("claim"), token, json!({"takeover": takeover})).await.0,
        Act::Reject => app.post(&path("reject"), token, json!({})).await.0,
        Act::Unassign => app.post(&path("unassign"), token, json!({})).await.0,
        Act::Resolve => app.post(&path("resolve"), token, json!({})).await.0,
        Act::TransferTo(i) => {
            app.post(&path("transfer"), token, json!({"operator_id": ops[*i].id}))
                .await
                .0
        }
        Act::TransferToBot => app.post(&path("transfer"), token, json!({"to": "bot"})).await.0,
        Act::Reply => app.post(&path("messages"), token, json!({"text": "hello"})).await.0,
        Act::HandoffAgain => app
            .client
            .send(&WidgetClient::handoff_event(id, "support"))
            .await
            .status(),
    }
}

/// The parts of a conversation an action may change (not timestamps of reads).
fn strip(c: &Value) -> Value {
    json!({
        "status": c["status"], "assignee": c["assignee"], "team": c["team"], "version": c["version"],
        "declined_by": c["declined_by"], "transcript": c["transcript"].as_array().map(|t| t.len()),
    })
}

fn strip_version(c: &Value) -> Value {
    let mut v = strip(c);
    v["version"] = Value::Null;
    v["transcript"] = Value::Null;
    v
}

/// Every operator's open-chat count equals a recount of the conversations.
async fn recount(app: &TestApp) -> Result<(), String> {
    let (_, list) = app.get("/v1/operators", ADMIN_TOKEN).await;
    for o in list.as_array().unwrap() {
        let id = o["id"].as_i64().unwrap();
        let counted = app
            .count(&format!(
                "select count(*) from conversations where assignee_id = {id} and status in ('handed_off', 'active')"
            ))
            .await;
        if o["open_chats"].as_i64() != Some(counted) {
            return Err(format!(
                "{} shows {} open chats; a recount finds {counted}",
                o["name"], o["open_chats"]
            ));
        }
    }
    Ok(())
}
