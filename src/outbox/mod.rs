//! The outbox worker: delivers the rows that state changes wrote (see
//! `docs/architecture.md#the-outbox`), in order per ordering key, retrying 5xx and
//! timeouts with exponential backoff, holding back as a 429's `Retry-After` says, and
//! keeping what fails for good as a dead letter. Every delivery carries the row's
//! idempotency key, so a retry after a crash cannot act twice at a platform that
//! honours it.
//!
//! The worker knows no platform: it delivers each row through the [`Target`] registered
//! under the row's `target` name. Rows are delivered independently — a slow or hung
//! call holds up only its own ordering key — each under a timeout shorter than the
//! lease, and a panic in one delivery is caught and retried like any failure. The loop
//! itself runs under a supervisor that restarts it if it panics; [`Health`] says
//! whether it is running, for `/readyz`.

pub mod pace;
mod retry_after;
mod widget;

pub use crate::store::outbox::OutboxRow;
pub use retry_after::{MAX_HOLD_BACK, parse as parse_retry_after};
pub use widget::{WidgetTarget, classify};

use crate::config::OutboxSettings;
use crate::store::outbox;
use crate::store::{Backend, Store, now_ms};
use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::FutureExt;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// 5xx, timeout, connection failure: try again later.
    Retry(String),
    /// 429: try again after this long (`None`: the platform did not say in a form we
    /// trust, so the normal backoff), without using up an attempt.
    HoldBack(Option<Duration>, String),
    /// Any other 4xx, or nowhere to send it: keep as a dead letter.
    Dead(String),
}

/// Where the rows of one `target` go: a chat platform, the widget platform, or an
/// adapter's own queue of inbound events.
#[async_trait::async_trait]
pub trait Target: Send + Sync + 'static {
    /// Delivers one row. Runs under the worker's timeout; a panic counts as a retry.
    async fn deliver(&self, row: &OutboxRow) -> Delivery;

    /// Called in the transaction that records a row's final result — delivered
    /// (`failure` is `None`) or dead — to write what follows from it (such as a
    /// delivery receipt). Returns whether it queued new rows.
    async fn settled(
        &self,
        _conn: &mut AnyConnection,
        _row: &OutboxRow,
        _failure: Option<&str>,
    ) -> anyhow::Result<bool> {
        Ok(false)
    }
}

/// The targets rows are delivered to, by name.
#[derive(Clone, Default)]
pub struct Targets(HashMap<String, Arc<dyn Target>>);

impl Targets {
    pub fn insert(&mut self, name: impl Into<String>, target: Arc<dyn Target>) {
        self.0.insert(name.into(), target);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Target>> {
        self.0.get(name)
    }

    /// The targets' names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Whether the worker loop is running (`/readyz` fails while it is not).
#[derive(Clone, Default)]
pub struct Health(Arc<AtomicBool>);

impl Health {
    pub fn is_running(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self, running: bool) {
        self.0.store(running, Ordering::SeqCst);
    }
}

/// Faults a test can inject into the worker loop, to prove the supervisor restarts it;
/// and a pause, for the load generator to count what a request writes apart from what
/// its deliveries do.
#[derive(Default)]
pub struct Faults {
    panics: AtomicUsize,
    paused: AtomicBool,
    resumed: Notify,
}

impl Faults {
    /// Holds the worker loop before its next pass until [`Self::resume`]; deliveries
    /// already going finish.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
        self.resumed.notify_waiters();
    }

    /// Returns once the worker is not paused (or `stop` is cancelled).
    async fn unpaused(&self, stop: &CancellationToken) {
        loop {
            let resumed = self.resumed.notified();
            if !self.paused.load(Ordering::SeqCst) {
                return;
            }
            tokio::select! {
                _ = resumed => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Makes the worker loop panic at its next `n` passes.
    pub fn panic_next_passes(&self, n: usize) {
        self.panics.store(n, Ordering::SeqCst);
    }

    fn take_panic(&self) -> bool {
        self.panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// How long deliveries in flight may go on once the worker is told to stop; then they
/// are abandoned and their rows given back for the next start.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// How often delivered rows and old inbound ids are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Rows in flight at once (each heads its own ordering key).
const MAX_IN_FLIGHT: usize = 64;
/// Longest idle wait between looks at the table: other instances may have written rows.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// The same on SQLite, where no other instance writes and every local commit wakes the
/// worker: a look now and then only in case a row was changed by hand.
const IDLE_POLL_SQLITE: Duration = Duration::from_secs(2);
/// Shortest wait for a row already due that the last pass did not claim (its lease runs
/// out while this worker still delivers it), so the loop never spins.
const MIN_WAIT: Duration = Duration::from_millis(5);

#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    wake: Arc<Notify>,
    settings: OutboxSettings,
    targets: Targets,
    /// One permit per delivery in flight.
    slots: Arc<Semaphore>,
    /// Deliveries in flight, awaited on shutdown.
    tracker: TaskTracker,
    /// The rows this worker is delivering: never claimed again by it, even if a slow
    /// result makes their lease run out (another instance may; its claim then wins).
    delivering: std::sync::Mutex<std::collections::HashSet<i64>>,
    health: Health,
    faults: Arc<Faults>,
    /// Cancelled when the grace after a stop has run out: deliveries still going give
    /// their rows back.
    abandon: CancellationToken,
}

impl Worker {
    pub fn new(store: Store, wake: Arc<Notify>, settings: OutboxSettings, targets: Targets) -> Worker {
        Worker {
            inner: Arc::new(Inner {
                store,
                wake,
                settings,
                targets,
                slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
                tracker: TaskTracker::new(),
                delivering: Default::default(),
                health: Health::default(),
                faults: Arc::new(Faults::default()),
                abandon: CancellationToken::new(),
            }),
        }
    }

    pub fn health(&self) -> Health {
        self.inner.health.clone()
    }

    pub fn faults(&self) -> Arc<Faults> {
        self.inner.faults.clone()
    }

    /// Waits until every delivery started so far has finished and recorded its result.
    pub async fn settle(&self) {
        let tracker = &self.inner.tracker;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
    }

    /// How long one delivery may take: the request timeout, but always well inside the
    /// lease, so no other worker can claim a row that is still being delivered.
    pub fn delivery_timeout(&self) -> Duration {
        let s = &self.inner.settings;
        s.request_timeout.min(s.lease.mul_f64(0.8))
    }

    /// Runs the worker loop until `stop` is cancelled, restarting it if it panics;
    /// deliveries in flight finish first.
    pub async fn run_supervised(self, stop: CancellationToken, restart_delay: Duration) {
        // Shown at 0 from the start, so a dashboard reads no gap.
        metrics::counter!("handoff_outbox_worker_restarts_total").increment(0);
        loop {
            let run = tokio::spawn(self.clone().run(stop.clone()));
            match run.await {
                Ok(()) => break,
                Err(e) => {
                    self.inner.health.set(false);
                    metrics::counter!("handoff_outbox_worker_restarts_total").increment(1);
                    tracing::error!(error = %e, "outbox worker stopped unexpectedly; restarting");
                    tokio::select! {
                        _ = tokio::time::sleep(restart_delay) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            }
        }
        self.inner.health.set(false);
        self.inner.tracker.close();
        // Deliveries in flight get a short grace (most finish at once); the rest, waiting
        // on a rate limit or a slow platform, give their rows back for the next start.
        if tokio::time::timeout(STOP_GRACE, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::info!("stopping: giving back the deliveries still in flight");
            self.inner.abandon.cancel();
            self.inner.tracker.wait().await;
        }
        tracing::info!("outbox worker stopped");
    }

    /// The worker loop: claims what is due whenever a slot is free, and sleeps until
    /// woken (a commit, a finished delivery) or the next row falls due.
    async fn run(self, stop: CancellationToken) {
        self.inner.health.set(true);
        tracing::info!("outbox worker started");
        let mut pruned_at: Option<std::time::Instant> = None;
        while !stop.is_cancelled() {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                if let Err(e) = self.prune().await {
                    tracing::warn!(error = %e, "could not prune delivered rows");
                }
            }
            if self.inner.faults.take_panic() {
                panic!("injected outbox worker fault");
            }
            self.inner.faults.unpaused(&stop).await;
            let claimed = match self.pass().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed");
                    0
                }
            };
            if claimed > 0 && self.inner.slots.available_permits() > 0 {
                continue;
            }
            let wait = self.idle_wait().await;
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    async fn idle_wait(&self) -> Duration {
        let next = match self.inner.store.read().await {
            Ok(mut conn) => outbox::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        let poll = match self.inner.store.backend() {
            Backend::Sqlite => IDLE_POLL_SQLITE,
            Backend::Postgres => IDLE_POLL,
        };
        match next {
            Some(at) => Duration::from_millis((at - now_ms()).clamp(0, poll.as_millis() as i64) as u64).max(MIN_WAIT),
            None => poll,
        }
    }

    /// Claims as many due rows as there are free slots and starts delivering each on its
    /// own; returns how many it claimed.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let free = self.inner.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = now_ms();
        let lease_until = now + self.inner.settings.lease.as_millis() as i64;
        let skip_locked = self.inner.store.backend() == Backend::Postgres;
        let busy: Vec<i64> = self.delivering().iter().copied().collect();
        let rows = {
            let mut tx = self.inner.store.write().await?;
            let rows = outbox::claim(tx.conn(), now, lease_until, free as i64, skip_locked, &busy).await?;
            tx.commit().await?;
            rows
        };
        let n = rows.len();
        self.delivering().extend(rows.iter().map(|r| r.id));
        for row in rows {
            let permit = self.inner.slots.clone().acquire_owned().await?;
            let worker = self.clone();
            self.inner.tracker.spawn(async move {
                let id = row.id;
                worker.deliver(row).await;
                worker.delivering().remove(&id);
                drop(permit);
                // The key's next row may be due now, and a slot is free.
                worker.inner.wake.notify_one();
            });
        }
        metrics::gauge!("handoff_outbox_inflight").set((MAX_IN_FLIGHT - self.inner.slots.available_permits()) as f64);
        Ok(n)
    }

    fn delivering(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.inner.delivering.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn deliver(&self, row: OutboxRow) {
        let started = std::time::Instant::now();
        let target = self.inner.targets.get(&row.target).cloned();
        let mut timed_out = false;
        let result = match &target {
            Some(t) => {
                let attempt = AssertUnwindSafe(t.deliver(&row)).catch_unwind();
                let timed = tokio::time::timeout(self.delivery_timeout(), attempt);
                let outcome = tokio::select! {
                    outcome = timed => outcome,
                    _ = self.inner.abandon.cancelled() => {
                        self.give_back(&row).await;
                        return;
                    }
                };
                match outcome {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Delivery::Retry("the delivery panicked".into()),
                    Err(_) => {
                        timed_out = true;
                        Delivery::Retry(format!("timed out after {:?}", self.delivery_timeout()))
                    }
                }
            }
            None => Delivery::Dead(format!("no delivery target `{}` is configured", row.target)),
        };
        metrics::histogram!("handoff_outbox_delivery_seconds", "target" => row.target.clone())
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = self.record(&row, &result, target.as_deref(), timed_out).await {
            // The lease runs out and the row is tried again, with the same key.
            tracing::warn!(outbox_id = row.id, error = %e, "could not record a delivery result");
        }
    }

    /// Deletes delivered rows, and the ids of inbound events, older than the retention.
    async fn prune(&self) -> anyhow::Result<()> {
        // Send-pace lanes idle for a day hold nothing any more.
        let mut tx = self.inner.store.write().await?;
        crate::store::pace::prune(tx.conn(), now_ms() - 86_400_000).await?;
        tx.commit().await?;
        let Some(keep) = self.inner.settings.retention else {
            return Ok(());
        };
        let before = now_ms() - keep.as_millis() as i64;
        let mut tx = self.inner.store.write().await?;
        let rows = outbox::prune(tx.conn(), before).await?;
        let ids = crate::store::inbound::prune(tx.conn(), before).await?;
        tx.commit().await?;
        if rows + ids > 0 {
            tracing::info!(rows, inbound_ids = ids, "pruned what is past the retention");
        }
        Ok(())
    }

    /// Gives an unfinished row back at a stop, so the next start need not wait out its lease.
    async fn give_back(&self, row: &OutboxRow) {
        let released = async {
            let mut tx = self.inner.store.write().await?;
            let held = outbox::release(tx.conn(), row, now_ms()).await?;
            tx.commit().await?;
            anyhow::Ok(held)
        };
        match released.await {
            Ok(_) => tracing::debug!(outbox_id = row.id, "given back unfinished"),
            Err(e) => {
                tracing::warn!(outbox_id = row.id, error = %e, "could not give a row back; its lease will run out")
            }
        }
    }

    /// Records a delivery's result. After an attempt that timed out, the next one waits at
    /// least one more timeout: a call it left in flight may still land on the platform,
    /// and must have landed before the next attempt looks for what the last one did.
    async fn record(
        &self,
        row: &OutboxRow,
        result: &Delivery,
        target: Option<&dyn Target>,
        timed_out: bool,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let name = row.target.clone();
        let mut tx = self.inner.store.write().await?;
        let conn = tx.conn();
        let (held, outcome, failure) = match result {
            Delivery::Delivered => {
                // From the change that queued it to the platform having it: for a
                // thread opening, the time from handoff to thread.
                metrics::histogram!("handoff_outbox_latency_seconds", "target" => name.clone(), "kind" => row.kind.clone())
                    .record((now - row.created_at).max(0) as f64 / 1000.0);
                (outbox::mark_done(conn, row, now).await?, "delivered", Some(None))
            }
            Delivery::HoldBack(after, why) => {
                let after = after.unwrap_or_else(|| self.backoff(row.attempts));
                let held = outbox::mark_retry(conn, row, now + after.as_millis() as i64, why, false).await?;
                if held {
                    tracing::info!(
                        outbox_id = row.id,
                        retry_in_ms = after.as_millis() as u64,
                        "rate limited; holding back"
                    );
                }
                (held, "rate_limited", None)
            }
            Delivery::Retry(why) if (row.attempts + 1) < i64::from(self.inner.settings.max_attempts) => {
                let mut delay = self.backoff(row.attempts);
                if timed_out {
                    delay = delay.max(self.delivery_timeout());
                }
                let held = outbox::mark_retry(conn, row, now + delay.as_millis() as i64, why, true).await?;
                if held {
                    tracing::info!(outbox_id = row.id, attempt = row.attempts + 1, retry_in_ms = delay.as_millis() as u64, error = %why, "delivery failed; will retry");
                }
                (held, "retry", None)
            }
            Delivery::Retry(why) | Delivery::Dead(why) => {
                let held = outbox::mark_dead(conn, row, why).await?;
                if held {
                    tracing::warn!(outbox_id = row.id, kind = %row.kind, error = %why, "delivery failed for good; kept as a dead letter");
                }
                (held, "dead", Some(Some(why.as_str())))
            }
        };
        if !held {
            // Another worker claimed the row after this one's lease ran out: its result
            // stands, this one is dropped.
            metrics::counter!("handoff_outbox_stale_results_total", "target" => name).increment(1);
            tracing::warn!(
                outbox_id = row.id,
                "the row's lease ran out during delivery; result dropped"
            );
            return Ok(());
        }
        let mut queued = false;
        if let (Some(failure), Some(target)) = (failure, target) {
            queued = target.settled(conn, row, failure).await?;
        }
        tx.commit().await?;
        metrics::counter!("handoff_outbox_deliveries_total", "target" => name, "result" => outcome).increment(1);
        if queued {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// The wait before attempt `attempts + 1`: exponential from the minimum, capped, with jitter.
    fn backoff(&self, attempts: i64) -> Duration {
        let s = &self.inner.settings;
        ExponentialBuilder::new()
            .with_min_delay(s.backoff_min)
            .with_max_delay(s.backoff_max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempts.clamp(0, 64) as usize)
            .unwrap_or(s.backoff_max)
    }
}
