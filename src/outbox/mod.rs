//! Outbox workers (SPEC §6): deliver the rows that state changes wrote, in order per
//! ordering key, retrying 5xx and timeouts with exponential backoff, holding back as a
//! 429's `Retry-After` says, and keeping what fails for good as a dead letter. Every
//! delivery carries the row's idempotency key, so a retry after a crash cannot act twice
//! at a platform that honours it. Rows are leased, so a crashed worker's rows are picked
//! up again once the lease runs out; a restarted process resumes with the same keys.

mod widget;

pub use widget::WidgetTarget;

use crate::config::OutboxSettings;
use crate::slack::Slack;
use crate::store::outbox::{self, OutboxRow};
use crate::store::{Store, conversations, now_ms};
use backon::{BackoffBuilder, ExponentialBuilder};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// 5xx, timeout, connection failure: try again later.
    Retry(String),
    /// 429: try again after this long, without using up an attempt.
    HoldBack(Duration, String),
    /// Any other 4xx, or nowhere to send it: keep as a dead letter.
    Dead(String),
}

/// Rows claimed per pass; each heads its own ordering key, so they go out concurrently.
const BATCH: i64 = 32;
/// Longest idle wait between looks at the table (other instances may have written rows).
const IDLE_POLL: Duration = Duration::from_millis(500);

pub struct Worker {
    store: Store,
    wake: Arc<Notify>,
    settings: OutboxSettings,
    widget: Option<WidgetTarget>,
    slack: Option<Slack>,
}

impl Worker {
    pub fn new(
        store: Store,
        wake: Arc<Notify>,
        settings: OutboxSettings,
        widget: Option<WidgetTarget>,
        slack: Option<Slack>,
    ) -> Worker {
        Worker {
            store,
            wake,
            settings,
            widget,
            slack,
        }
    }

    /// Delivers until `stop` is cancelled; deliveries in flight finish first.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!("outbox worker started");
        while !stop.is_cancelled() {
            let delivered = match self.pass().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed");
                    0
                }
            };
            if delivered > 0 {
                continue;
            }
            let wait = self.idle_wait().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    async fn idle_wait(&self) -> Duration {
        let next = match self.store.read().await {
            Ok(mut conn) => outbox::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        match next {
            Some(at) => Duration::from_millis((at - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64),
            None => IDLE_POLL,
        }
    }

    /// Claims one batch and delivers it; returns how many rows it handled.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let now = now_ms();
        let rows = {
            let mut tx = self.store.write().await?;
            let rows = outbox::claim(tx.conn(), now, now + self.settings.lease.as_millis() as i64, BATCH).await?;
            tx.commit().await?;
            rows
        };
        let n = rows.len();
        metrics::gauge!("handoff_outbox_inflight").set(n as f64);
        futures_util::future::join_all(rows.into_iter().map(|row| self.deliver(row))).await;
        Ok(n)
    }

    async fn deliver(&self, row: OutboxRow) {
        let started = std::time::Instant::now();
        let result = match row.target.as_str() {
            crate::service::TARGET_WIDGET => match &self.widget {
                Some(w) => w.deliver(&row).await,
                None => Delivery::Dead("the widget platform's API URL is not configured".into()),
            },
            crate::service::TARGET_SLACK => match &self.slack {
                Some(s) => s.deliver(&row).await,
                None => Delivery::Dead("Slack is not configured".into()),
            },
            crate::slack::TARGET_SLACK_INBOUND => match &self.slack {
                Some(s) => s.process_inbound(&row).await,
                None => Delivery::Dead("Slack is not configured".into()),
            },
            other => Delivery::Dead(format!("no delivery target `{other}` is configured")),
        };
        metrics::histogram!("handoff_outbox_delivery_seconds", "target" => row.target.clone())
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = self.record(&row, &result).await {
            // The lease runs out and the row is tried again, with the same key.
            tracing::warn!(outbox_id = row.id, error = %e, "could not record a delivery result");
        }
    }

    async fn record(&self, row: &OutboxRow, result: &Delivery) -> anyhow::Result<()> {
        let now = now_ms();
        let target = row.target.clone();
        let mut tx = self.store.write().await?;
        let conn = tx.conn();
        match result {
            Delivery::Delivered => {
                outbox::mark_done(conn, row.id, now).await?;
                self.note_message(conn, row, None).await?;
                metrics::counter!("handoff_outbox_deliveries_total", "target" => target, "result" => "delivered")
                    .increment(1);
                tracing::debug!(outbox_id = row.id, kind = %row.kind, "delivered");
            }
            Delivery::HoldBack(after, why) => {
                let at = now + after.as_millis() as i64;
                outbox::mark_retry(conn, row.id, at, why, false).await?;
                metrics::counter!("handoff_outbox_deliveries_total", "target" => target, "result" => "rate_limited")
                    .increment(1);
                tracing::info!(
                    outbox_id = row.id,
                    retry_in_ms = after.as_millis() as u64,
                    "rate limited; holding back"
                );
            }
            Delivery::Retry(why) if (row.attempts + 1) < i64::from(self.settings.max_attempts) => {
                let delay = self.backoff(row.attempts);
                outbox::mark_retry(conn, row.id, now + delay.as_millis() as i64, why, true).await?;
                metrics::counter!("handoff_outbox_deliveries_total", "target" => target, "result" => "retry")
                    .increment(1);
                tracing::info!(outbox_id = row.id, attempt = row.attempts + 1, retry_in_ms = delay.as_millis() as u64, error = %why, "delivery failed; will retry");
            }
            Delivery::Retry(why) | Delivery::Dead(why) => {
                outbox::mark_dead(conn, row.id, why).await?;
                self.note_message(conn, row, Some(why.as_str())).await?;
                metrics::counter!("handoff_outbox_deliveries_total", "target" => target, "result" => "dead")
                    .increment(1);
                tracing::warn!(outbox_id = row.id, kind = %row.kind, error = %why, "delivery failed for good; kept as a dead letter");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Operator replies carry their transcript line's id: record whether the visitor got
    /// it (`failure` = why not), and put the receipt where the reply was written — a ✅
    /// reaction, or ⚠️ and a short thread note (§3.2a).
    async fn note_message(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: &OutboxRow,
        failure: Option<&str>,
    ) -> anyhow::Result<()> {
        if row.target != crate::service::TARGET_WIDGET || row.kind != "messages" {
            return Ok(());
        }
        let payload: serde_json::Value = serde_json::from_str(&row.payload)?;
        let Some(id) = payload["body"]["message_id"].as_i64() else {
            return Ok(());
        };
        let delivery = if failure.is_none() { "delivered" } else { "failed" };
        let posted = conversations::set_delivery(conn, id, delivery).await?;
        if let (Some(_), Some((channel, ts))) = (&self.slack, posted) {
            if let Some(line) = conversations::message(conn, id).await? {
                let conversation = line.conversation_id;
                crate::slack::deliver::enqueue_receipt(conn, row.workspace_id, &conversation, &channel, &ts, failure)
                    .await?;
            }
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The wait before attempt `attempts + 1`: exponential from the minimum, capped, with jitter.
    fn backoff(&self, attempts: i64) -> Duration {
        ExponentialBuilder::new()
            .with_min_delay(self.settings.backoff_min)
            .with_max_delay(self.settings.backoff_max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
            .nth(attempts.clamp(0, 64) as usize)
            .unwrap_or(self.settings.backoff_max)
    }
}
