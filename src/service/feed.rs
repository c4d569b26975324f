//! The change feed behind `GET /v1/events`: committed assignment changes are read back
//! from the audit table and broadcast to this process's subscribers. Reading the table
//! (instead of announcing in memory) means every instance sharing a PostgreSQL database
//! streams the changes made through any of them. A local commit wakes the feed at once;
//! otherwise it looks every quarter second.
//!
//! Audit ids are handed out at insert and become visible at commit, which on PostgreSQL
//! need not be in id order: when ids arrive with a gap, the missing ones are watched for
//! a few seconds, so a late commit is still streamed, once. With nobody subscribed the
//! feed only keeps its place (one `max(id)` a poll), so it costs nothing under load.

use super::Service;
use super::views::{ChangeEvent, rfc3339};
use crate::engine::{OperatorId, OperatorRef};
use crate::store::audit;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a gap in the audit ids is watched for a late commit (a rolled-back
/// transaction leaves a gap that never fills).
const HOLE_TTL: Duration = Duration::from_secs(5);
/// At most this many missing ids are watched at once.
const MAX_HOLES: i64 = 1000;
const POLL: Duration = Duration::from_millis(250);
const BATCH: i64 = 2000;

/// Where the feed stands: the highest audit id streamed, and the missing ids below it
/// that may still commit.
#[derive(Debug, Default)]
struct Place {
    high: i64,
    holes: BTreeMap<i64, Instant>,
}

impl Place {
    /// The id to read after.
    fn from(&self) -> i64 {
        self.holes.keys().next().map_or(self.high, |h| h - 1)
    }

    /// Whether the row with this id is new (to be streamed), noting any gap it leaves.
    fn accept(&mut self, id: i64, now: Instant) -> bool {
        if id > self.high {
            for missing in (self.high + 1).max(id - MAX_HOLES)..id {
                self.holes.insert(missing, now);
            }
            self.high = id;
            true
        } else {
            self.holes.remove(&id).is_some()
        }
    }

    fn forget_old_holes(&mut self, now: Instant) {
        self.holes.retain(|_, seen| now.duration_since(*seen) < HOLE_TTL);
    }
}

impl Service {
    /// Streams committed changes to subscribers until `stop` is cancelled.
    pub async fn run_feed(self, stop: CancellationToken) {
        let mut place = Place {
            high: self.last_audit_id().await,
            ..Place::default()
        };
        loop {
            let woken = tokio::select! {
                _ = self.inner.feed_wake.notified() => true,
                _ = tokio::time::sleep(POLL) => false,
                _ = stop.cancelled() => break,
            };
            if self.inner.events.receiver_count() == 0 {
                if !woken {
                    place = Place {
                        high: self.last_audit_id().await.max(place.high),
                        ..Place::default()
                    };
                }
                continue;
            }
            let rows = match self.store().read().await {
                Ok(mut conn) => audit::after(&mut conn, place.from(), BATCH).await,
                Err(e) => Err(e),
            };
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed could not read the audit trail");
                    continue;
                }
            };
            let now = Instant::now();
            for r in rows {
                if !place.accept(r.id, now) {
                    continue; // already streamed
                }
                let event = ChangeEvent {
                    workspace_id: r.workspace_id,
                    conversation_id: r.conversation_id,
                    widget_id: r.widget_id,
                    version: r.version,
                    status: r.to_status,
                    assignee: r.to_assignee.map(|id| OperatorRef {
                        id: OperatorId(id),
                        name: r.assignee_name.unwrap_or_default(),
                    }),
                    team_id: r.team_id,
                    reason: r.reason,
                    actor: r.actor,
                    actor_operator_id: r.actor_operator_id,
                    at: rfc3339(r.at),
                };
                // A subscriber may have left meanwhile: that is fine.
                let _ = self.inner.events.send(event);
            }
            place.forget_old_holes(now);
        }
    }

    async fn last_audit_id(&self) -> i64 {
        match self.store().read().await {
            Ok(mut conn) => audit::last_id(&mut conn).await.unwrap_or(0),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_commit_below_the_high_mark_is_streamed_once_and_old_gaps_are_forgotten() {
        let t0 = Instant::now();
        let mut p = Place {
            high: 10,
            ..Place::default()
        };
        assert!(p.accept(11, t0));
        assert!(p.accept(14, t0), "12 and 13 are not visible yet");
        assert_eq!(p.from(), 11, "the next read starts below the gap");
        assert!(p.accept(13, t0), "13 commits late: streamed");
        assert!(!p.accept(13, t0), "once");
        assert!(!p.accept(14, t0), "14 was streamed already");
        p.forget_old_holes(t0 + HOLE_TTL);
        assert_eq!(p.from(), 14, "12 never came (rolled back): no longer watched");
        assert!(!p.accept(12, t0 + HOLE_TTL));
    }
}
