//! The outbox (`docs/architecture.md#the-outbox`, `docs/widget-api.md#outbound-calls`):
//! calls to the widget platform are signed, carry an idempotency key, go in order per
//! conversation, are retried on 5xx, held back on 429, kept as dead letters on other 4xx,
//! and survive a crash.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::standins::widget::{RecordedCall, WidgetClient, WidgetPlatform};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

fn ok_calls(calls: &[RecordedCall]) -> Vec<&RecordedCall> {
    calls.iter().filter(|c| c.status == 200).collect()
}

on_both_databases! {
    async fn a_call_failing_three_times_is_delivered_once_with_the_same_key(db) {
        let app = TestApp::spawn(&db).await;
        app.widget.fail_next(3, 500);
        app.handoff("c1", "support").await;
        let calls = app.widget.wait_for(DEADLINE, "the assignment delivered", |calls| !ok_calls(calls).is_empty()).await;
        assert_eq!(calls.len(), 4, "three failures, then success: {calls:?}");
        let keys: Vec<_> = calls.iter().map(|c| c.idempotency_key.clone().unwrap()).collect();
        assert!(keys.iter().all(|k| *k == keys[0]), "every retry carries the same key");
        assert!(calls.iter().all(|c| c.signature_ok));
        assert_eq!(calls[3].kind.as_deref(), Some("assignment"));
        assert_eq!(calls[3].body["status"], "handed_off");
        assert_eq!(app.widget.delivered().len(), 1);
        eventually("the row marked done", || async {
            (app.count("select count(*) from outbox where status = 'done' and attempts = 4").await == 1).then_some(())
        }).await;
    }

    async fn a_call_that_times_out_is_retried_with_the_same_key(db) {
        let app = TestApp::spawn_with(&db, &[("HANDOFF_OUTBOX_TIMEOUT_MS", "150")]).await;
        app.widget.set_delay(std::time::Duration::from_millis(600));
        app.handoff("c1", "support").await;
        app.widget.wait_for(DEADLINE, "a first, slow call", |calls| !calls.is_empty()).await;
        app.widget.set_delay(std::time::Duration::ZERO);
        eventually("the row delivered", || async {
            (app.count("select count(*) from outbox where status = 'done'").await == 1).then_some(())
        }).await;
        let calls = app.widget.calls();
        assert!(calls.len() >= 2, "the timed-out call was retried: {calls:?}");
        assert!(calls.iter().all(|c| c.idempotency_key == calls[0].idempotency_key));
        assert_eq!(app.widget.delivered().len(), 1, "the platform acted once");
        let error: Option<String> = sqlx::query_scalar("select last_error from outbox").fetch_one(&app.pool).await.unwrap();
        assert!(error.as_deref().is_some_and(|e| e.starts_with("timed out")), "{error:?}");
    }

    async fn a_rate_limited_call_is_held_back_and_order_is_kept(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.widget.rate_limit_next(1, 1);
        app.handoff("c1", "support").await;
        let (s, _) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = app.post("/v1/conversations/c1/messages", &ada.token, json!({"text": "hello"})).await;
        assert_eq!(s, StatusCode::OK);
        let calls = app.widget.wait_for(DEADLINE, "all three calls delivered", |calls| ok_calls(calls).len() >= 3).await;
        assert_eq!(calls[0].status, 429);
        let first_ok = calls.iter().position(|c| c.status == 200).unwrap();
        assert_eq!(calls[first_ok].idempotency_key, calls[0].idempotency_key, "the held-back call went first");
        let delivered = app.widget.delivered();
        let order: Vec<_> = delivered.iter().map(|c| (c.kind.clone().unwrap(), c.body["version"].as_i64())).collect();
        assert_eq!(order, vec![
            ("assignment".to_owned(), Some(1)),
            ("assignment".to_owned(), Some(2)),
            ("messages".to_owned(), None),
        ], "in order per conversation");
        assert_eq!(delivered[1].body["assignee"]["name"], "Ada");
        let held: i64 = app.count("select attempts from outbox order by id limit 1").await;
        assert_eq!(held, 1, "a 429 does not use up an attempt");
    }

    async fn a_refused_call_becomes_a_dead_letter_and_the_next_one_still_goes(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.widget.fail_next(1, 400);
        app.handoff("c1", "support").await;
        let (s, _) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let calls = app.widget.wait_for(DEADLINE, "the claim delivered", |calls| !ok_calls(calls).is_empty()).await;
        assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [400, 200], "a 400 is not retried: {calls:?}");
        assert_eq!(calls[0].body["version"], 1, "the handoff's assignment was refused");
        assert_eq!(calls[1].body["version"], 2, "the claim's assignment went out after it");
        assert_eq!(calls[1].body["assignee"]["name"], "Ada");

        // This service's own outbox: the refused call is kept as a dead letter saying why.
        type Row = (String, String, String, i64, Option<String>);
        let rows: Vec<Row> = eventually("both outbox rows settled", || async {
            let rows: Vec<Row> = sqlx::query_as("select idempotency_key, kind, status, attempts, last_error from outbox order by id")
                .fetch_all(&app.pool)
                .await
                .unwrap();
            rows.iter().all(|r| r.2 == "dead" || r.2 == "done").then_some(rows)
        }).await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let (key, kind, status, attempts, error) = &rows[0];
        assert_eq!((kind.as_str(), status.as_str(), *attempts), ("assignment", "dead", 1), "{rows:?}");
        assert_eq!(error.as_deref(), Some("HTTP 400"));
        assert_eq!(Some(key), calls[0].idempotency_key.as_ref(), "the dead row is the refused call");
        let (key, kind, status, attempts, _) = &rows[1];
        assert_eq!((kind.as_str(), status.as_str(), *attempts), ("assignment", "done", 1), "{rows:?}");
        assert_eq!(Some(key), calls[1].idempotency_key.as_ref());

        // The metrics endpoint serves the outbox and request families. The recorder is
        // shared by every service in this process, so their values are not this test's.
        let res = app.http.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let metrics = res.text().await.unwrap();
        for family in ["handoff_outbox_deliveries_total", "handoff_outbox_rows", "handoff_http_request_seconds"] {
            assert!(metrics.contains(family), "{family} in:\n{metrics}");
        }
    }

    async fn after_a_crash_every_undelivered_call_goes_out_once(db) {
        let widget = WidgetPlatform::start(WIDGET_SECRET).await;
        widget.fail_next(100_000, 503);
        let mut env = test_env(&db, &widget);
        env.insert("HANDOFF_OUTBOX_LEASE_MS".into(), "300".into());

        let (mut first, base) = start_process(&env).await;
        let client = WidgetClient::new(&base, WIDGET_SECRET);
        for i in 0..5 {
            let res = client.send(&WidgetClient::handoff_event(&format!("c{i}"), "support")).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        widget.wait_for(DEADLINE, "retries under way", |calls| calls.len() >= 10).await;
        first.kill().expect("SIGKILL");
        first.wait().unwrap();
        let pool = db.pool().await;
        let undelivered: i64 = sqlx::query_scalar("select count(*) from outbox where status <> 'done'").fetch_one(&pool).await.unwrap();
        assert_eq!(undelivered, 5, "nothing was delivered before the crash");

        widget.clear_faults();
        let (mut second, _) = start_process(&env).await;
        eventually("every row delivered after the restart", || async {
            let left: i64 = sqlx::query_scalar("select count(*) from outbox where status <> 'done'").fetch_one(&pool).await.unwrap();
            (left == 0).then_some(())
        }).await;
        second.kill().ok();
        second.wait().ok();

        let keys: Vec<String> = sqlx::query_scalar("select idempotency_key from outbox order by id").fetch_all(&pool).await.unwrap();
        let mut ok_per_key: HashMap<String, usize> = HashMap::new();
        for c in ok_calls(&widget.calls()) {
            *ok_per_key.entry(c.idempotency_key.clone().unwrap()).or_default() += 1;
        }
        assert_eq!(ok_per_key.len(), 5);
        for key in &keys {
            assert_eq!(ok_per_key.get(key), Some(&1), "row {key} delivered exactly once");
        }
    }
}

/// Runs the real binary (so it can be SIGKILLed) and waits until it answers.
pub async fn start_process(env: &HashMap<String, String>) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_handoff-bridge"))
        .arg("serve")
        .env_clear()
        .envs(env)
        .env("HANDOFF_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start handoff-bridge");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("the process to answer /healthz", || {
        let http = http.clone();
        let url = format!("{base}/healthz");
        async move {
            http.get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        }
    })
    .await;
    (child, base)
}
