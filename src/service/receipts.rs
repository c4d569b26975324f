//! Delivery receipts of operator replies (`docs/behaviour.md#replies-and-notes`): when
//! the widget platform has taken a reply, or refused it for good, the reply's line
//! records it, and every platform the reply stands on shows it there — a ✅, or ⚠️ and a
//! short thread note. A reply that reaches a thread only after its delivery gets its
//! receipt when its place there is recorded (see [`Service::record_line`]). An edit or
//! deletion of a reply gets its receipt on the platform it was made on (✏️, or a note).

use super::deliveries::{self, TARGET_WIDGET};
use super::{Mirror, Receipt, Service};
use crate::outbox::{Delivery, Target};
use crate::store::outbox::OutboxRow;
use crate::store::{conversations as convs, now_ms, refs};
use sqlx::AnyConnection;
use std::sync::Arc;

/// The widget platform's target, with the receipts of the replies it delivers.
pub struct WithReceipts<T> {
    inner: T,
    mirrors: Vec<Arc<dyn Mirror>>,
}

impl<T: Target> WithReceipts<T> {
    pub fn new(inner: T, service: &Service) -> WithReceipts<T> {
        WithReceipts {
            inner,
            mirrors: service.inner.mirrors.clone(),
        }
    }
}

#[async_trait::async_trait]
impl<T: Target> Target for WithReceipts<T> {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.inner.deliver(row).await
    }

    async fn settled(&self, conn: &mut AnyConnection, row: &OutboxRow, failure: Option<&str>) -> anyhow::Result<bool> {
        let what = match (row.target.as_str(), row.kind.as_str()) {
            (TARGET_WIDGET, "messages") => Receipt::Sent,
            (TARGET_WIDGET, "message_updated") => Receipt::Edited,
            (TARGET_WIDGET, "message_deleted") => Receipt::Deleted,
            _ => return Ok(false),
        };
        let payload: serde_json::Value = serde_json::from_str(&row.payload)?;
        let Some(id) = payload["body"]["message_id"].as_i64() else {
            return Ok(false);
        };
        if what != Receipt::Sent {
            // Shown where the operator made it; the other threads redraw the line.
            let Some(origin) = payload["origin"].as_str() else {
                return Ok(false);
            };
            let Some(at) = refs::message(conn, id, origin).await? else {
                return Ok(false);
            };
            let queued = queue_receipt(conn, &self.mirrors, row.workspace_id, id, &at, what, failure).await?;
            return Ok(queued);
        }
        let state = if failure.is_none() { "delivered" } else { "failed" };
        if !convs::set_delivery(conn, id, state).await? {
            return Ok(false);
        }
        let mut queued = false;
        for at in refs::messages_of(conn, id).await? {
            queued |= queue_receipt(conn, &self.mirrors, row.workspace_id, id, &at, Receipt::Sent, failure).await?;
        }
        Ok(queued)
    }
}

/// Queues the receipt of reply `message_id` where it stands on `at.platform`.
pub(super) async fn queue_receipt(
    conn: &mut AnyConnection,
    mirrors: &[Arc<dyn Mirror>],
    workspace_id: i64,
    message_id: i64,
    at: &refs::MessageRef,
    what: Receipt,
    failure: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let Some(mirror) = mirrors.iter().find(|m| m.platform() == at.platform) else {
        return Ok(false);
    };
    let Some(line) = convs::message(conn, message_id).await? else {
        return Ok(false);
    };
    let thread = refs::thread(conn, &line.conversation_id, &at.platform).await?;
    let now = now_ms();
    let mut queued = false;
    for planned in mirror.receipt(&line.conversation_id, thread.as_ref(), at, what, failure) {
        deliveries::write(conn, workspace_id, mirror.platform(), planned, now).await?;
        queued = true;
    }
    Ok(queued)
}
