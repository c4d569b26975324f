//! The outbox against a platform that misbehaves: a 429 with a malformed `Retry-After`,
//! a call that never answers, a worker that panics, and a worker whose lease runs out
//! while it is still delivering. Nothing may stop delivery for everyone else, and
//! nothing may be delivered twice.

use crate::helpers::*;
use crate::on_both_databases;
use async_trait::async_trait;
use handoff_bridge::config::OutboxSettings;
use handoff_bridge::outbox::{Delivery, Target, Targets, Worker};
use handoff_bridge::store::outbox::{self, NewRow, OutboxRow};
use handoff_bridge::store::{Store, now_ms};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

on_both_databases! {
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
        let settings = OutboxSettings { lease: Duration::from_millis(1000), ..OutboxSettings::default() };
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
            std::thread::sleep(Duration::from_millis(1400));
        } else {
            let _ = self.gate.acquire().await;
        }
        Delivery::Delivered
    }
}
