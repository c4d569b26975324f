//! What chat platform adapters ask of the service: the state a thread shows, where a
//! conversation and its lines stand on their platform, people's accounts there, and
//! rows of their own to queue. Adapters reach the database only through these methods,
//! so every write they cause is one of the service's transactions.

use super::deliveries;
use super::receipts::queue_receipt;
use super::{
    ConversationView, DEFAULT_WORKSPACE, LinkedOperator, MessageRef, Planned, Service, ServiceError, ThreadRef,
};
use crate::engine::{Author, ChangeReason, OperatorId, Role, WorkspaceId};
use crate::store::{audit, conversations as convs, identities, now_ms, refs, widgets};

/// What a conversation's thread root on one platform shows.
#[derive(Debug, Clone)]
pub struct ThreadState {
    pub conversation: ConversationView,
    /// Its thread on this platform, once opened.
    pub thread: Option<ThreadRef>,
    /// The widget's channel on this platform, if it has one.
    pub widget_channel: Option<String>,
    /// The assignee's account on this platform, if they have one.
    pub assignee_account: Option<String>,
    /// Routing found nobody available at the last change.
    pub unrouted: bool,
}

/// A transcript line to show in a thread.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: i64,
    pub conversation_id: String,
    /// visitor, bot, operator or note.
    pub author: Author,
    /// The operator who wrote it, by name.
    pub operator: Option<String>,
    pub text: String,
    /// Attachment URLs, in order.
    pub attachments: Vec<String>,
    /// Edited since it was written.
    pub edited: bool,
    /// Deleted (a reply: taken back from the visitor).
    pub deleted: bool,
}

impl Service {
    /// A conversation as its thread root on `platform` shows it; `None` if there is no
    /// such conversation.
    pub async fn thread_state(&self, platform: &str, id: &str) -> Result<Option<ThreadState>, ServiceError> {
        let mut conn = self.store().read().await?;
        let Some(row) = convs::get(&mut conn, id).await? else {
            return Ok(None);
        };
        let conversation = self.view(&mut conn, &row).await?;
        let thread = refs::thread(&mut conn, id, platform).await?;
        let widget_channel = widgets::channel(&mut conn, &row.widget_id, platform).await?;
        let assignee_account = match row.assignee_id {
            Some(op) => identities::get(&mut conn, OperatorId(op), platform).await?,
            None => None,
        };
        let unrouted = audit::last_reason(&mut conn, id).await? == Some(ChangeReason::Unrouted);
        Ok(Some(ThreadState {
            conversation,
            thread,
            widget_channel,
            assignee_account,
            unrouted,
        }))
    }

    /// Records the thread a conversation has on a platform.
    pub async fn record_thread(&self, conversation: &str, thread: &ThreadRef) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        refs::set_thread(tx.conn(), conversation, thread).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The conversation mirrored in this thread, if any.
    pub async fn conversation_of_thread(
        &self,
        platform: &str,
        channel: &str,
        thread: &str,
    ) -> Result<Option<String>, ServiceError> {
        let mut conn = self.store().read().await?;
        Ok(refs::conversation_of_thread(&mut conn, platform, channel, thread).await?)
    }

    /// The conversation mirrored in the thread with this id, on a platform whose thread
    /// ids are unique by themselves.
    pub async fn conversation_by_thread(&self, platform: &str, thread: &str) -> Result<Option<String>, ServiceError> {
        let mut conn = self.store().read().await?;
        Ok(refs::conversation_by_thread(&mut conn, platform, thread).await?)
    }

    /// The conversation a platform message is a line of, and that conversation's thread
    /// there, if any.
    pub async fn thread_of_line(
        &self,
        platform: &str,
        at: &MessageRef,
    ) -> Result<Option<(String, Option<String>)>, ServiceError> {
        let mut conn = self.store().read().await?;
        let Some(id) = refs::line_at(&mut conn, at).await? else {
            return Ok(None);
        };
        let Some(m) = convs::message(&mut conn, id).await? else {
            return Ok(None);
        };
        let thread = refs::thread(&mut conn, &m.conversation_id, platform).await?;
        Ok(Some((m.conversation_id, thread.and_then(|t| t.thread))))
    }

    /// Remembers the last platform message taken in from a thread (see
    /// [`Service::open_threads`]).
    pub async fn note_seen(&self, platform: &str, thread: &str, message: &str) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        refs::note_seen(tx.conn(), platform, thread, message).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The threads on `platform` of conversations still open, each with the last message
    /// taken in from it: what to catch up on after downtime.
    pub async fn open_threads(&self, platform: &str) -> Result<Vec<super::OpenThread>, ServiceError> {
        let mut conn = self.store().read().await?;
        Ok(refs::open_threads(&mut conn, platform).await?)
    }

    /// Whether a row before `row` on its ordering key died after it was claimed: a call
    /// it made whose answer was lost may have left something on the platform that
    /// nothing records, so `row` must look before it posts again.
    pub async fn died_before(&self, row: &crate::store::outbox::OutboxRow) -> Result<bool, ServiceError> {
        let mut conn = self.store().read().await?;
        Ok(crate::store::outbox::died_before(&mut conn, row).await?)
    }

    /// The transcript lines of a conversation not yet shown on `platform`, in order.
    pub async fn lines_to_mirror(&self, platform: &str, conversation: &str) -> Result<Vec<Line>, ServiceError> {
        let mut conn = self.store().read().await?;
        let mut lines = Vec::new();
        for m in convs::unmirrored(&mut conn, conversation, platform).await? {
            lines.push(self.line(&mut conn, m).await?);
        }
        Ok(lines)
    }

    /// One transcript line, if it is not yet shown on `platform` (held replies never are).
    pub async fn line_to_mirror(&self, platform: &str, message_id: i64) -> Result<Option<Line>, ServiceError> {
        let mut conn = self.store().read().await?;
        let Some(m) = convs::message(&mut conn, message_id).await? else {
            return Ok(None);
        };
        if m.author == Author::Held || refs::message(&mut conn, message_id, platform).await?.is_some() {
            return Ok(None);
        }
        Ok(Some(self.line(&mut conn, m).await?))
    }

    /// A line already shown on `platform`, to draw again (it was edited or deleted), with
    /// where it stands there; `None` if it is not shown there (yet: it is drawn as it is
    /// now when it is posted).
    pub async fn line_to_redraw(
        &self,
        platform: &str,
        message_id: i64,
    ) -> Result<Option<(Line, MessageRef)>, ServiceError> {
        let mut conn = self.store().read().await?;
        let Some(m) = convs::message(&mut conn, message_id).await? else {
            return Ok(None);
        };
        let Some(at) = refs::message(&mut conn, message_id, platform).await? else {
            return Ok(None);
        };
        Ok(Some((self.line(&mut conn, m).await?, at)))
    }

    async fn line(&self, conn: &mut sqlx::AnyConnection, m: convs::MessageRow) -> Result<Line, ServiceError> {
        let operator = match m.operator_id {
            Some(op) => crate::store::operators::reference(conn, OperatorId(op))
                .await?
                .map(|o| o.name),
            None => None,
        };
        Ok(Line {
            attachments: self.shown_attachments(&m.attachment_urls()),
            edited: m.edited_at.is_some(),
            deleted: m.deleted_at.is_some(),
            id: m.id,
            conversation_id: m.conversation_id,
            author: m.author,
            operator,
            text: m.text,
        })
    }

    /// Records where a line now stands on a platform. An operator's reply whose
    /// delivery to the visitor is already settled gets its receipt there now.
    pub async fn record_line(&self, message_id: i64, at: &MessageRef) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        let delivery = refs::set_message(tx.conn(), message_id, at).await?;
        let failure = match delivery.as_deref() {
            Some("delivered") => Some(None),
            Some("failed") => Some(Some("see the service log")),
            _ => None,
        };
        let mut queued = false;
        if let Some(failure) = failure {
            queued = queue_receipt(
                tx.conn(),
                &self.inner.mirrors,
                DEFAULT_WORKSPACE.0,
                message_id,
                at,
                super::Receipt::Sent,
                failure,
            )
            .await?;
        }
        tx.commit().await?;
        if queued {
            self.wake_outbox();
        }
        Ok(())
    }

    /// Whom a thread notice of this conversation mentions on `platform`: the widget's
    /// escalation target there, the first time only (it is recorded as mentioned, so
    /// nobody is pinged twice for one conversation).
    pub async fn escalation_for(&self, platform: &str, conversation: &str) -> Result<Option<String>, ServiceError> {
        let mut tx = self.store().write().await?;
        let Some(row) = convs::get(tx.conn(), conversation).await? else {
            return Ok(None);
        };
        let target = widgets::one_of(tx.conn(), &row.widget_id, platform, widgets::PerPlatform::Escalation).await?;
        let target = match target {
            Some(t) if widgets::first_escalation(tx.conn(), conversation, platform, now_ms()).await? => Some(t),
            _ => None,
        };
        tx.commit().await?;
        Ok(target)
    }

    /// An operator's account on a platform.
    pub async fn account_of(&self, platform: &str, operator: OperatorId) -> Result<Option<String>, ServiceError> {
        let mut conn = self.store().read().await?;
        Ok(identities::get(&mut conn, operator, platform).await?)
    }

    /// The operator behind a platform account, if any.
    pub async fn operator_by_account(
        &self,
        ws: WorkspaceId,
        platform: &str,
        account: &str,
    ) -> Result<Option<LinkedOperator>, ServiceError> {
        let mut conn = self.store().read().await?;
        let Some(id) = identities::operator_of(&mut conn, ws, platform, account).await? else {
            return Ok(None);
        };
        let row: Option<(String, String)> = sqlx::query_as("select role, name from operators where id = $1")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
        let Some((role, name)) = row else { return Ok(None) };
        let role = role
            .parse()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("operator {id} has a corrupt role: {e}")))?;
        Ok(Some(LinkedOperator { id, role, name }))
    }

    /// Creates the operator of a platform account seen for the first time, if the
    /// provisioning setting lets them in (`member`: the platform counts them as a full
    /// member of the team); if a concurrent request created them first, returns that one.
    pub async fn link_account(
        &self,
        ws: WorkspaceId,
        platform: &str,
        account: &str,
        name: &str,
        role: Role,
        member: bool,
    ) -> Result<LinkedOperator, ServiceError> {
        if let Some(op) = self.operator_by_account(ws, platform, account).await? {
            return Ok(op);
        }
        crate::engine::permissions::provision(self.policy(), member).map_err(ServiceError::Forbidden)?;
        let mut tx = self.store().write().await?;
        if identities::operator_of(tx.conn(), ws, platform, account)
            .await?
            .is_none()
        {
            let id: i64 = sqlx::query_scalar(
                "insert into operators (workspace_id, name, role, presence, created_at) \
                 values ($1, $2, $3, 'available', $4) returning id",
            )
            .bind(ws.0)
            .bind(name)
            .bind(role.as_str())
            .bind(now_ms())
            .fetch_one(tx.conn())
            .await?;
            let linked: Option<i64> = sqlx::query_scalar(
                "insert into operator_identities (operator_id, workspace_id, platform, external_id) \
                 values ($1, $2, $3, $4) on conflict do nothing returning operator_id",
            )
            .bind(id)
            .bind(ws.0)
            .bind(platform)
            .bind(account)
            .fetch_optional(tx.conn())
            .await?;
            if linked.is_some() {
                tx.commit().await?;
            }
            // Otherwise someone else linked the account first: roll back ours.
        }
        self.operator_by_account(ws, platform, account).await?.ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("the operator of {platform} account {account} vanished"))
        })
    }

    /// Queues one row of a platform's own (a private notice, a modal, a reaction) in a
    /// transaction of its own, and wakes the workers.
    pub async fn queue(&self, target: &'static str, row: Planned) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        deliveries::write(tx.conn(), DEFAULT_WORKSPACE.0, target, row, now_ms()).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(())
    }
}
