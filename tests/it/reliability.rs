//! The outbox against a platform that misbehaves: a 429 with a malformed `Retry-After`,
//! a call that never answers, a worker that panics, and a worker whose lease runs out
//! while it is still delivering. Nothing may stop delivery for everyone else, and
//! nothing may be delivered twice.

use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::*;
use async_trait::async_trait;
use handoff_bridge::config::OutboxSettings;
use handoff_bridge::outbox::{Delivery, Target, Targets, Worker};
use handoff_bridge::standins::widget::WidgetClient;
use handoff_bridge::store::outbox::{self, NewRow, OutboxRow};
use handoff_bridge::store::{Store, now_ms};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// The Slack thread roots of `conversation` (the bridge keys each root by its
/// conversation in the message metadata).
fn roots(s: &SlackApp, conversation: &str) -> Vec<String> {
    let key = format!("root:{conversation}");
    s.slack
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.thread_ts.is_none() && m.metadata["event_payload"]["key"] == key.as_str())
        .map(|m| m.ts)
        .collect()
}

fn root_ts(s: &SlackApp, conversation: &str) -> Option<String> {
    roots(s, conversation).into_iter().next()
}

async fn handoff(s: &SlackApp, conversation: &str) {
    let res = s
        .client
        .send(&WidgetClient::handoff_event(conversation, "support"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

on_both_databases! {
    async fn a_malformed_retry_after_gets_the_normal_backoff_and_delivery_goes_on(db) {
        let s = SlackApp::spawn(&db).await;
        s.widget.rate_limit_next_raw(1, "nan");
        s.slack.rate_limit_next_raw("chat.postMessage", 1, "nan");
        handoff(&s, "visitor-one").await;
        handoff(&s, "visitor-two").await;
        // Both conversations reach the widget platform and Slack, the rate-limited
        // calls included, after the normal backoff.
        s.widget.wait_for(DEADLINE, "assignments of both conversations", |calls| {
            let ok = |c: &str| calls.iter().any(|x| x.status == 200 && x.path.contains(c) && x.kind.as_deref() == Some("assignment"));
            ok("visitor-one") && ok("visitor-two")
        }).await;
        eventually("both thread roots", || async {
            (root_ts(&s, "visitor-one").is_some() && root_ts(&s, "visitor-two").is_some()).then_some(())
        }).await;
        assert!(s.widget.calls().iter().any(|c| c.status == 429), "the widget platform did answer 429");
        assert_eq!(s.count("select count(*) from outbox where status = 'dead'").await, 0);
        let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::OK, "the worker is still running");
    }

    async fn a_call_that_never_answers_holds_up_only_its_own_conversation(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.hang_next("chat.postMessage", 1);
        s.widget.hang_next(1);
        handoff(&s, "stuck").await;
        // The stuck conversation's first Slack post and first widget call hang until the
        // delivery timeout gives them up; the conversations handed off after it go out
        // meanwhile, so they reach Slack and the widget platform first.
        s.widget.wait_for(DEADLINE, "the stuck conversation's first call to hang", |calls| {
            calls.iter().any(|x| x.path.contains("stuck"))
        }).await;
        // Its root post holds the one hang (a later conversation's post must not take it).
        eventually("the stuck conversation's root post to hang", || async {
            s.slack.calls().iter().any(|c| c.method == "chat.postMessage" && c.status == 0).then_some(())
        }).await;
        for c in ["free-a", "free-b"] {
            handoff(&s, c).await;
        }
        eventually("every conversation's root, the stuck one's once it is retried", || async {
            ["free-a", "free-b", "stuck"].iter().all(|c| root_ts(&s, c).is_some()).then_some(())
        }).await;
        s.widget.wait_for(DEADLINE, "every conversation at the widget platform", |calls| {
            ["free-a", "free-b", "stuck"].iter().all(|c| calls.iter().any(|x| x.status == 200 && x.path.contains(c)))
        }).await;
        let posted: Vec<Option<String>> = s.slack.messages(CHANNEL).into_iter()
            .filter(|m| m.thread_ts.is_none())
            .map(|m| m.metadata["event_payload"]["key"].as_str().map(str::to_owned))
            .collect();
        let at = |c: &str| posted.iter().position(|k| k.as_deref() == Some(&format!("root:{c}"))).unwrap();
        assert!(at("stuck") > at("free-a") && at("stuck") > at("free-b"), "the hung post held up nobody: {posted:?}");
        let calls = s.widget.calls();
        let ok = |c: &str| calls.iter().position(|x| x.status == 200 && x.path.contains(c)).unwrap();
        assert!(ok("stuck") > ok("free-a") && ok("stuck") > ok("free-b"), "the hung call held up nobody");
        assert_eq!(roots(&s, "stuck").len(), 1, "one thread for the stuck conversation");
    }

    async fn a_worker_that_panics_is_restarted_and_readyz_says_so_meanwhile(db) {
        let app = TestApp::spawn(&db).await;
        let ready = |app: &TestApp| {
            let req = app.http.get(app.url("/readyz"));
            async move { req.send().await.unwrap().status() }
        };
        assert_eq!(ready(&app).await, StatusCode::OK);
        app.outbox_faults.panic_next_passes(1);
        app.handoff("c1", "support").await;
        eventually("/readyz to fail while the worker is down", || async {
            (ready(&app).await == StatusCode::SERVICE_UNAVAILABLE).then_some(())
        }).await;
        eventually("/readyz to recover once it is restarted", || async {
            (ready(&app).await == StatusCode::OK).then_some(())
        }).await;
        app.widget.wait_for(DEADLINE, "the handoff delivered after the restart", |calls| {
            calls.iter().any(|c| c.status == 200 && c.path.contains("c1"))
        }).await;
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("handoff_outbox_worker_restarts_total"), "{metrics}");
    }

    async fn a_late_result_from_an_expired_lease_does_not_overwrite_the_next_claim(db) {
        let store = Store::connect(&db.url).await.unwrap();
        let mut tx = store.write().await.unwrap();
        let row = NewRow { workspace_id: 1, target: "probe", kind: "call", ordering_key: "k".into(), payload: json!({}) };
        let id = outbox::enqueue(tx.conn(), &row, now_ms()).await.unwrap();
        tx.commit().await.unwrap();

        let probe = Arc::new(Probe::default());
        let mut targets = Targets::default();
        targets.insert("probe", probe.clone() as Arc<dyn Target>);
        let settings = OutboxSettings { lease: Duration::from_millis(2000), ..OutboxSettings::default() };
        let worker = || Worker::new(store.clone(), Arc::new(Notify::new()), settings.clone(), targets.clone());
        let (first, second) = (worker(), worker());

        // The first worker claims the row and stalls past its lease.
        assert_eq!(first.pass().await.unwrap(), 1);
        // The second claims it once the lease has run out, and is still delivering when
        // the first one's late "delivered" comes back.
        eventually("the row to be claimed again", || async {
            (second.pass().await.unwrap() == 1).then_some(())
        }).await;
        first.settle().await;
        let (status, token): (String, Option<String>) = sqlx::query_as("select status, claim_token from outbox where id = $1")
            .bind(id).fetch_one(&db.pool().await).await.unwrap();
        assert_eq!(status, "inflight", "the late result did not mark the row");
        assert!(token.is_some());

        probe.gate.add_permits(1);
        second.settle().await;
        let (status, attempts): (String, i64) = sqlx::query_as("select status, attempts from outbox where id = $1")
            .bind(id).fetch_one(&db.pool().await).await.unwrap();
        assert_eq!((status.as_str(), attempts), ("done", 1), "recorded once, by the claim that held it");
        assert_eq!(probe.calls.load(Ordering::SeqCst), 2, "delivered by the next claimant, not a third time");
        assert_eq!(second.pass().await.unwrap(), 0, "nothing left to deliver");
    }

    async fn a_delivery_that_panics_is_retried_and_the_worker_goes_on(db) {
        let store = Store::connect(&db.url).await.unwrap();
        let mut tx = store.write().await.unwrap();
        for key in ["a", "b"] {
            let row = NewRow { workspace_id: 1, target: "flaky", kind: "call", ordering_key: key.into(), payload: json!({"key": key}) };
            outbox::enqueue(tx.conn(), &row, now_ms()).await.unwrap();
        }
        tx.commit().await.unwrap();
        let flaky = Arc::new(PanicsOnce::default());
        let mut targets = Targets::default();
        targets.insert("flaky", flaky.clone() as Arc<dyn Target>);
        let settings = OutboxSettings { backoff_min: Duration::from_millis(10), backoff_max: Duration::from_millis(20), ..OutboxSettings::default() };
        let worker = Worker::new(store.clone(), Arc::new(Notify::new()), settings, targets);

        assert_eq!(worker.pass().await.unwrap(), 2);
        worker.settle().await;
        let pool = db.pool().await;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as("select ordering_key, status, last_error from outbox order by id")
            .fetch_all(&pool).await.unwrap();
        assert_eq!(rows[0], ("a".into(), "pending".into(), Some("the delivery panicked".into())), "the panic is a failed attempt");
        assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("b", "done"), "the other row was delivered");
        eventually("the panicked row delivered on its retry", || async {
            worker.pass().await.unwrap();
            worker.settle().await;
            let status: String = sqlx::query_scalar("select status from outbox where ordering_key = 'a'").fetch_one(&pool).await.unwrap();
            (status == "done").then_some(())
        }).await;
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }
}

/// A target whose first call for row `a` panics.
#[derive(Default)]
struct PanicsOnce {
    calls: AtomicUsize,
}

#[async_trait]
impl Target for PanicsOnce {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) < 2;
        if first && row.ordering_key == "a" {
            panic!("a bug in one delivery");
        }
        Delivery::Delivered
    }
}

/// A target whose first call stalls its thread past the lease (a paused process), and
/// whose later calls wait for the test's go-ahead.
struct Probe {
    calls: AtomicUsize,
    gate: Semaphore,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            calls: AtomicUsize::new(0),
            gate: Semaphore::new(0),
        }
    }
}

#[async_trait]
impl Target for Probe {
    async fn deliver(&self, _row: &OutboxRow) -> Delivery {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(2600));
        } else {
            let _ = self.gate.acquire().await;
        }
        Delivery::Delivered
    }
}
