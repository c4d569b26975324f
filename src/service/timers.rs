//! The timer worker (docs/behaviour.md#timers): fires the timers that transitions and
//! visitor messages arm — a widget's `accept_within` and `reply_within`. A timer is a
//! row (`store::timers`); the worker looks for the next one due with a read, claims due
//! rows under a lease, then fires each in one transaction that takes the routing lock
//! first when it may route (as every such transaction does), deletes the row under its
//! claim, and acts only if the conversation is still in the state the timer was armed
//! for. A click that races the timer is decided by the version check: whichever
//! commits first wins, and the other finds the conversation changed.

use super::{Origin, Service, ServiceError};
use crate::engine::effects::{Effect, Notice};
use crate::engine::transition::Command;
use crate::engine::{Actor, OperatorId, Window};
use crate::store::timers::{self, Kind, NewTimer, TimerRow};
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
/// The wait after a pass that found the due timers held by another instance's claim.
const HELD_ELSEWHERE: Duration = Duration::from_millis(50);

impl Service {
    /// Fires due timers until `stop` is cancelled. A timer that fell due while the
    /// service was down fires at the first pass.
    pub async fn run_timers(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            // A read first: a claim (a write transaction) only when something is due, so
            // being woken by every change or polling costs one indexed read.
            let mut wait = self.until_next_timer().await;
            if wait.is_zero() {
                wait = match self.timers_pass().await {
                    Ok(0) => HELD_ELSEWHERE,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "timer pass failed");
                        POLL
                    }
                };
            }
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

    /// How long until a timer can be claimed (zero: now), at most [`POLL`].
    async fn until_next_timer(&self) -> Duration {
        let next = match self.store().read().await {
            Ok(mut conn) => timers::next_due(&mut conn).await.ok().flatten(),
            Err(_) => None,
        };
        match next {
            Some(at) => Duration::from_millis((at - now_ms()).clamp(0, POLL.as_millis() as i64) as u64),
            None => POLL,
        }
    }

    /// Fires one claimed timer, in one transaction.
    async fn fire(&self, claimed: &TimerRow, token: &str) -> Result<(), ServiceError> {
        let ws = claimed.workspace();
        let mut tx = self.store().write().await?;
        // An accept timer may route: the routing lock comes first, as in every such
        // transaction; then the conversation's row, before the timer's, in the order
        // every change takes them (its write, then the cancel of its timer), so that a
        // click racing the timer waits for it or it for the click, never both for each
        // other.
        if claimed.kind == Kind::Accept {
            self.lock_routing(tx.conn(), ws).await?;
        }
        if self.store().backend() == Backend::Postgres {
            convs::lock(tx.conn(), &claimed.conversation_id).await?;
        }
        let Some(timer) = timers::take(tx.conn(), claimed.id, token).await? else {
            return Ok(()); // re-armed or taken by another claim meanwhile
        };
        let row = convs::get(tx.conn(), &timer.conversation_id).await?;
        let (cmd, row) = match (timer.kind, timer.operator(), row) {
            (Kind::Accept, Some(operator), row) => (Command::Timeout { operator }, row),
            (Kind::Reply | Kind::ReplyLate, _, Some(row)) => {
                let rows = self.visitor_waiting(&mut tx, &timer, &row).await?;
                tx.commit().await?;
                self.announce(false, rows);
                return Ok(());
            }
            _ => return Ok(tx.commit().await?),
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

impl Service {
    /// A visitor's message has waited: at the widget's `reply_within` the assignee gets
    /// one DM nudge and the second stage is armed; at twice that the thread gets one
    /// notice. Nothing once the conversation is no longer open. Returns whether it
    /// queued outbox rows.
    async fn visitor_waiting(
        &self,
        tx: &mut crate::store::Tx,
        timer: &TimerRow,
        row: &convs::ConversationRow,
    ) -> Result<bool, ServiceError> {
        if !row.status.is_open() {
            return Ok(false);
        }
        // Since the visitor's first unanswered message: the widget's `reply_within` at the
        // first stage, twice it at the second.
        let window = timer.due_at - timer.created_at;
        let waited = match Window::from_millis(window) {
            Ok(w) => w,
            Err(why) => {
                // A corrupt row: firing it again would not mend it.
                tracing::warn!(timer = timer.id, conversation = %row.id, "a reply timer of {window} ms dropped: {why}");
                return Ok(false);
            }
        };
        let now = now_ms();
        let mut fx = Vec::new();
        if timer.kind == Kind::Reply {
            if let Some(assignee) = row.assignee_id {
                fx.push(Effect::Nudge {
                    operator: OperatorId(assignee),
                    waited,
                    since: timer.created_at,
                });
            }
            timers::arm(
                tx.conn(),
                &NewTimer {
                    workspace: timer.workspace(),
                    conversation: &row.id,
                    kind: Kind::ReplyLate,
                    due_at: timer.due_at + window,
                    version: row.version,
                    operator: None,
                    now: timer.created_at,
                },
            )
            .await?;
        } else {
            fx.push(Effect::Notice(Notice::VisitorWaiting { waited }));
        }
        let kind = if timer.kind == Kind::Reply {
            "nudge"
        } else {
            "reply_notice"
        };
        metrics::counter!("handoff_timeouts_total", "kind" => kind).increment(1);
        Ok(super::deliveries::enqueue(tx.conn(), &self.recipients(None), row, &fx, now).await?)
    }
}
