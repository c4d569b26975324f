//! The change feed behind `GET /v1/events`: committed assignment changes are read back
//! from the audit table and broadcast to this process's subscribers. Reading the table
//! (instead of announcing in memory) means every instance sharing a PostgreSQL database
//! streams the changes made through any of them. A local commit wakes the feed at once;
//! otherwise it looks every quarter second.
//!
//! Audit ids are handed out at insert and become visible at commit, which on PostgreSQL
//! need not be in id order: the feed re-reads a window below its high-water mark and
//! remembers which ids it has already sent, so a late commit is still streamed, once.

use super::Service;
use super::views::{ChangeEvent, rfc3339};
use crate::engine::{OperatorId, OperatorRef, Status};
use crate::store::audit;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How far below the newest id seen the feed keeps looking for late commits.
const LOOKBACK: i64 = 1000;
const POLL: Duration = Duration::from_millis(250);
const BATCH: i64 = 2000;

impl Service {
    /// Streams committed changes to subscribers until `stop` is cancelled.
    pub async fn run_feed(self, stop: CancellationToken) {
        let mut high = match self.store().read().await {
            Ok(mut conn) => audit::last_id(&mut conn).await.unwrap_or(0),
            Err(_) => 0,
        };
        let mut sent: BTreeSet<i64> = BTreeSet::new();
        loop {
            tokio::select! {
                _ = self.inner.feed_wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.cancelled() => break,
            }
            let rows = match self.store().read().await {
                Ok(mut conn) => audit::after(&mut conn, (high - LOOKBACK).max(0), BATCH).await,
                Err(e) => Err(e),
            };
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed could not read the audit trail");
                    continue;
                }
            };
            for r in rows {
                high = high.max(r.id);
                if !sent.insert(r.id) {
                    continue;
                }
                let event = ChangeEvent {
                    workspace_id: r.workspace_id,
                    conversation_id: r.conversation_id,
                    widget_id: r.widget_id,
                    version: r.version,
                    status: r.to_status.parse().unwrap_or(Status::Bot),
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
                // No subscribers is fine: nobody is listening.
                let _ = self.inner.events.send(event);
            }
            // Ids far below the window can no longer come back.
            sent = sent.split_off(&(high - LOOKBACK));
        }
    }
}
