//! Edits and deletions of transcript lines (`docs/behaviour.md#edits-and-deletions`):
//! an operator's edit or deletion of a message in a thread, and the widget platform's
//! edit of a visitor's message. The engine decides ([`crate::engine::edits`]); here the
//! line is taken, stored changed, and the effects written as outbox rows in the same
//! transaction, behind the message's own rows (an edit never overtakes what it edits).

use super::{MessageRef, Service, ServiceError};
use crate::engine::edits::{self, Decided, Written};
use crate::engine::{Actor, OperatorId, WorkspaceId};
use crate::store::conversations::{self as convs, MessageRow};
use crate::store::{Tx, now_ms, operators, refs};

/// What became of an edit or deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    /// Stored, and carried to the visitor and the other threads as the line requires.
    Done,
    /// Nothing to do: not a line the bridge keeps, unchanged, or already deleted.
    Ignored,
}

fn written(m: &MessageRow) -> Written {
    Written {
        id: m.id,
        author: m.author,
        operator: m.operator_id.map(OperatorId),
        deleted: m.deleted_at.is_some(),
    }
}

impl Service {
    /// An operator edited the platform message `at` to `text`.
    pub async fn edit_line(
        &self,
        ws: WorkspaceId,
        at: &MessageRef,
        actor: &Actor,
        text: &str,
    ) -> Result<Edited, ServiceError> {
        self.change_line(ws, at, Some(actor), Some(text)).await
    }

    /// The platform message `at` was deleted. Platforms do not say who deleted it, only
    /// that someone they allow to did (its writer, or a moderator): it counts as done by
    /// the operator who wrote it.
    pub async fn delete_line(&self, ws: WorkspaceId, at: &MessageRef) -> Result<Edited, ServiceError> {
        self.change_line(ws, at, None, None).await
    }

    async fn change_line(
        &self,
        ws: WorkspaceId,
        at: &MessageRef,
        actor: Option<&Actor>,
        text: Option<&str>,
    ) -> Result<Edited, ServiceError> {
        let mut tx = self.store().write().await?;
        let Some(id) = refs::line_at(tx.conn(), at).await? else {
            if text.is_none() {
                // Deleted before its message was taken in (events can overtake each
                // other): it must never be.
                refs::deleted_first(tx.conn(), at, now_ms()).await?;
                tx.commit().await?;
            }
            return Ok(Edited::Ignored);
        };
        let Some(line) = convs::lock_message(tx.conn(), id).await? else {
            return Ok(Edited::Ignored);
        };
        // Only the message it was written as is the operator's: elsewhere `at` is the
        // bridge's copy, and deleting a copy takes nothing back from the visitor.
        if line.origin.as_deref() != Some(at.platform.as_str()) {
            return Ok(Edited::Ignored);
        }
        // Without an actor (a deletion, which platforms do not attribute), its writer.
        let writer = match (actor, line.operator_id) {
            (None, Some(op)) => operators::get(tx.conn(), ws, OperatorId(op))
                .await?
                .map(|o| Actor::Operator {
                    id: OperatorId(op),
                    role: o.role,
                }),
            _ => None,
        };
        let Some(actor) = actor.or(writer.as_ref()) else {
            return Ok(Edited::Ignored);
        };
        if text.is_some_and(|t| t == line.text) {
            return Ok(Edited::Ignored); // the platform says edited; the words are the same
        }
        let decided = match text {
            Some(text) => edits::edit(actor, &written(&line), text, self.policy()),
            None => edits::delete(actor, &written(&line)),
        }
        .map_err(ServiceError::Forbidden)?;
        let Decided::Apply(effects) = decided else {
            return Ok(Edited::Ignored);
        };
        let now = now_ms();
        let stored = match text {
            Some(text) => convs::edit_message(tx.conn(), id, text, None, now).await?,
            None => convs::delete_message(tx.conn(), id, now).await?,
        };
        if !stored {
            return Ok(Edited::Ignored);
        }
        let rows = self
            .queue_line_effects(&mut tx, ws, &line.conversation_id, &effects, Some(&at.platform))
            .await?;
        tx.commit().await?;
        self.announce(false, rows);
        Ok(Edited::Done)
    }

    /// Writes the outbox rows of an edit's effects; `origin`, the platform it was made
    /// on, is not redrawn (it shows the edit already) and gets the receipt.
    async fn queue_line_effects(
        &self,
        tx: &mut Tx,
        ws: WorkspaceId,
        conversation: &str,
        effects: &[crate::engine::effects::Effect],
        origin: Option<&str>,
    ) -> Result<bool, ServiceError> {
        let row = convs::get(tx.conn(), conversation)
            .await?
            .filter(|r| r.workspace_id == ws.0)
            .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{conversation}`")))?;
        Ok(super::deliveries::enqueue(tx.conn(), &self.recipients(origin), &row, effects, now_ms()).await?)
    }

    /// The widget platform edited the line it knows as `external_id`: its text and
    /// attachments are replaced, and its thread copies redrawn. Inside the event's
    /// transaction; returns what to answer and whether outbox rows were written.
    pub(super) async fn widget_edit_in(
        &self,
        tx: &mut Tx,
        conversation: &str,
        external_id: &str,
        text: &str,
        attachments: Option<String>,
    ) -> Result<(String, bool), ServiceError> {
        let line = convs::message_by_external(tx.conn(), conversation, external_id)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("no message `{external_id}` in conversation `{conversation}`"))
            })?;
        let Some(line) = convs::lock_message(tx.conn(), line.id).await? else {
            return Ok(("message gone".into(), false));
        };
        if line.text == text && line.attachments == attachments {
            return Ok(("message unchanged".into(), false));
        }
        let Decided::Apply(effects) = edits::widget_edit(&written(&line)) else {
            return Ok(("not a visitor or bot message: left as it is".into(), false));
        };
        if !convs::edit_message(tx.conn(), line.id, text, Some(attachments), now_ms()).await? {
            return Ok(("message deleted: left as it is".into(), false));
        }
        let rows = self
            .queue_line_effects(tx, crate::service::DEFAULT_WORKSPACE, conversation, &effects, None)
            .await?;
        Ok(("message updated".into(), rows))
    }
}
