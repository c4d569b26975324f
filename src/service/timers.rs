//! The timer worker (docs/behaviour.md#timers): fires the timers that transitions arm,
//! such as a widget's `accept_within`. A timer is a row (`store::timers`); the worker
//! claims due rows under a lease, then fires each in one transaction that takes the
//! routing lock first (as every transaction that may route does), deletes the row under
//! its claim, and acts only if the conversation is still in the state the timer was
//! armed for. A click that races the timer is decided by the version check: whichever
//! commits first wins, and the other finds the conversation changed.

use super::{Origin, Service, ServiceError};
use crate::engine::Actor;
use crate::engine::transition::Command;
use crate::store::timers::{self, Kind, TimerRow};
use crate::store::{Backend, conversations as convs, now_ms};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a claim holds timers before another worker may take them.
const LEASE: Duration = Duration::from_secs(30);
/// Timers claimed at once.
const BATCH: i64 = 32;
/// The longest sleep with nothing due: timers armed by other instances, or whose
/// claim lapsed, are found within this.
const POLL: Duration = Duration::from_secs(1);

impl Service {
    /// Fires due timers until `stop` is cancelled. A timer that fell due while the
    /// service was down fires at the first pass.
    pub async fn run_timers(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let claimed = match self.timers_pass().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "timer pass failed");
                    0
                }
            };
            if claimed > 0 {
                continue;
            }
            let wait = self.until_next_timer().await;
            tokio::select! {
                _ = self.inner.timers_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    /// Claims the timers due now and fires each; returns how many it claimed.
    async fn timers_pass(&self) -> Result<usize, ServiceError> {
        let now = now_ms();
        let skip_locked = self.store().backend() == Backend::Postgres;
        let (token, due) = {
            let mut tx = self.store().write().await?;
            let claimed = timers::claim_due(tx.conn(), now, now + LEASE.as_millis() as i64, BATCH, skip_locked).await?;
            tx.commit().await?;
            claimed
        };
        for timer in &due {
            if let Err(e) = self.fire(timer, &token).await {
                // Rolled back: the row stays, and is fired again when its claim lapses.
                tracing::warn!(timer = timer.id, conversation = %timer.conversation_id, error = %e, "a timer could not fire");
            }
        }
        Ok(due.len())
    }

    async fn until_next_timer(&self) -> Duration {
        let next = match self.store().read().await {
            Ok(mut conn) => timers::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        match next {
            Some(at) => Duration::from_millis((at - now_ms()).clamp(1, POLL.as_millis() as i64) as u64),
            None => POLL,
        }
    }

    /// Fires one claimed timer, in one transaction.
    async fn fire(&self, claimed: &TimerRow, token: &str) -> Result<(), ServiceError> {
        let ws = claimed.workspace();
        let mut tx = self.store().write().await?;
        // Firing may route: the routing lock comes first, as in every such transaction;
        // then the conversation's row, before the timer's, in the order every change
        // takes them (its write, then the cancel of its timer), so that a click racing
        // the timer waits for it or it for the click, never both for each other.
        self.lock_routing(tx.conn(), ws).await?;
        if self.store().backend() == Backend::Postgres {
            convs::lock(tx.conn(), &claimed.conversation_id).await?;
        }
        let Some(timer) = timers::take(tx.conn(), claimed.id, token).await? else {
            return Ok(()); // re-armed or taken by another claim meanwhile
        };
        let row = convs::get(tx.conn(), &timer.conversation_id).await?;
        let cmd = match (timer.kind, timer.operator()) {
            (Kind::Accept, Some(operator)) => Command::Timeout { operator },
            (Kind::Accept, None) => return Ok(tx.commit().await?),
        };
        let applied = match row {
            // Anything that changed the conversation since the timer was armed (an
            // Accept, a Reject, a transfer) decided it: the timer only goes.
            Some(row) if row.version == timer.version => {
                self.act_in(&mut tx, ws, &row.id, &Actor::System, &cmd, &Origin::Api)
                    .await?
            }
            _ => None,
        };
        tx.commit().await?;
        if let Some(applied) = applied
            && applied.changed
        {
            metrics::counter!("handoff_timeouts_total", "kind" => timer.kind.as_str()).increment(1);
            tracing::info!(conversation = %timer.conversation_id, operator = ?timer.operator_id, "not accepted in time; routed on");
            self.announce(applied.changed, applied.outbox_rows);
        }
        Ok(())
    }
}
