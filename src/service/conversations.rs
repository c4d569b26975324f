//! Conversation actions (claim, reject, transfer, unassign, resolve, reply) and the
//! inbox views. [`Service::apply_decision`] is the single writer of assignment changes:
//! the widget events go through it too.

use super::routing::{self, Routed};
use super::views::{AuditEntry, ConversationDetail, ConversationView, TeamRef, TranscriptLine, Visitor, rfc3339};
use super::{MAX_ATTEMPTS, Origin, Service, ServiceError, deliveries};
use crate::engine::effects::{self, Effect};
use crate::engine::transition::{self, Command, Context, Decision, Outcome, Refusal, TransferTarget};
use crate::engine::{Actor, Assignment, Author, ChangeReason, OperatorId, OperatorRef, Status, TeamId, WorkspaceId};
use crate::store::audit::{self, AuditRow};
use crate::store::conversations::{self as convs, ConversationRow, Decline, Filter, NewMessage};
use crate::store::timers::{self, Kind as TimerKind, NewTimer};
use crate::store::{Tx, now_ms, operators, refs, teams, widgets};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The result of an action: what happened and the conversation afterwards.
#[derive(Debug, Clone)]
pub struct Acted {
    pub outcome: Outcome,
    pub conversation: ConversationView,
    /// The transcript line written (a reply or a note), if any.
    pub message_id: Option<i64>,
}

/// What [`Service::apply_decision`] wrote, before commit.
pub(super) struct Applied {
    pub outcome: Outcome,
    pub row: ConversationRow,
    pub message_id: Option<i64>,
    /// Whether an assignment change was written (the change feed reads it back).
    pub changed: bool,
    pub outbox_rows: bool,
    /// An Accept or a claim of a conversation that waited: how long it waited (ms)
    /// since it last changed (its handoff or routing).
    pub accepted_after: Option<i64>,
}

impl Service {
    /// Runs `cmd` on a conversation as `actor`: one transaction, retried if another
    /// writer changed the conversation in between.
    pub async fn act(&self, ws: WorkspaceId, id: &str, actor: &Actor, cmd: Command) -> Result<Acted, ServiceError> {
        self.act_from(ws, id, actor, cmd, &Origin::Api).await
    }

    /// [`Service::act`] for a message written somewhere in particular (a thread on a chat
    /// platform).
    pub async fn act_from(
        &self,
        ws: WorkspaceId,
        id: &str,
        actor: &Actor,
        cmd: Command,
        origin: &Origin,
    ) -> Result<Acted, ServiceError> {
        let acted = self.act_once(ws, id, actor, &cmd, origin).await;
        let result = match &acted {
            Ok(_) => "done",
            Err(ServiceError::Internal(_)) => "failed",
            Err(_) => "refused",
        };
        metrics::counter!("handoff_actions_total", "kind" => cmd.kind(), "result" => result).increment(1);
        acted
    }

    async fn act_once(
        &self,
        ws: WorkspaceId,
        id: &str,
        actor: &Actor,
        cmd: &Command,
        origin: &Origin,
    ) -> Result<Acted, ServiceError> {
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.store().write().await?;
            if cmd.may_route() {
                self.lock_routing(tx.conn(), ws).await?;
            }
            let Some(applied) = self.act_in(&mut tx, ws, id, actor, cmd, origin).await? else {
                continue; // stale: roll back and read again
            };
            let view = self.view(tx.conn(), &applied.row).await?;
            tx.commit().await?;
            self.announce(applied.changed, applied.outbox_rows);
            if let Some(waited) = applied.accepted_after {
                metrics::histogram!("handoff_time_to_accept_seconds").record(waited.max(0) as f64 / 1000.0);
            }
            return Ok(Acted {
                outcome: applied.outcome,
                conversation: view,
                message_id: applied.message_id,
            });
        }
        Err(ServiceError::Internal(anyhow::anyhow!(
            "conversation {id} kept changing; try again"
        )))
    }

    pub(super) async fn act_in(
        &self,
        tx: &mut Tx,
        ws: WorkspaceId,
        id: &str,
        actor: &Actor,
        cmd: &Command,
        origin: &Origin,
    ) -> Result<Option<Applied>, ServiceError> {
        let conn = tx.conn();
        let row = convs::get(conn, id)
            .await?
            .filter(|r| r.workspace_id == ws.0)
            .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{id}`")))?;
        if let (Command::Reply { .. }, Origin::Platform(at)) = (cmd, origin)
            && refs::taken(conn, at).await?
        {
            // This platform message was acted on already (its event came again after a
            // crash or a lost lease): once is enough.
            return Ok(Some(Applied {
                outcome: Outcome::Unchanged("already taken in"),
                row,
                message_id: None,
                changed: false,
                outbox_rows: false,
                accepted_after: None,
            }));
        }
        match cmd {
            Command::Transfer(TransferTarget::Operator(op)) => {
                operators::get(conn, ws, *op)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no operator {op}")))?;
            }
            Command::Transfer(TransferTarget::Team(team)) => {
                teams::get(conn, ws, *team)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no team {team}")))?;
            }
            _ => {}
        }
        let eligible = match actor.operator() {
            Some(op) => widgets::is_eligible(conn, &row.widget_id, op).await?,
            None => false,
        };
        let conv = row.to_engine(convs::declined(conn, id).await?);
        let ctx = Context {
            actor,
            actor_eligible: eligible,
            policy: self.policy(),
        };
        let decision = match transition::decide(&conv, &ctx, cmd) {
            Ok(d) => d,
            Err(refusal) => return Err(self.refusal(conn, ws, refusal).await?),
        };
        self.apply_decision(conn, &row, actor, cmd, decision, origin).await
    }

    async fn refusal(
        &self,
        conn: &mut AnyConnection,
        ws: WorkspaceId,
        r: Refusal,
    ) -> Result<ServiceError, ServiceError> {
        Ok(match r {
            Refusal::AlreadyAssigned {
                owner,
                takeover_allowed,
            } => {
                let name = operators::get(conn, ws, owner)
                    .await?
                    .map(|o| o.name)
                    .unwrap_or_default();
                ServiceError::AlreadyAssigned {
                    owner: OperatorRef { id: owner, name },
                    takeover_allowed,
                }
            }
            Refusal::Forbidden(why) => ServiceError::Forbidden(why),
            Refusal::InvalidState(why) => ServiceError::InvalidState(why),
        })
    }

    /// Writes a decision: transcript line, declines, routing, the version-checked
    /// assignment, audit rows and outbox rows. `None` when the version moved (the caller
    /// rolls back and retries).
    pub(super) async fn apply_decision(
        &self,
        conn: &mut AnyConnection,
        row: &ConversationRow,
        actor: &Actor,
        cmd: &Command,
        decision: Decision,
        origin: &Origin,
    ) -> Result<Option<Applied>, ServiceError> {
        let now = now_ms();
        let id = row.id.as_str();
        let before = row.assignment();
        let mut message_id = None;
        let mut fx = Vec::new();
        // The row as this transaction leaves it.
        let mut after = None;

        if let Command::Reply { text, .. } = cmd {
            let author = match decision.outcome {
                Outcome::InternalNote | Outcome::Discussion => Some(Author::Note),
                Outcome::Replied { .. } => Some(Author::Operator),
                _ => None,
            };
            if let Some(author) = author {
                message_id = convs::insert_message(
                    conn,
                    &NewMessage {
                        conversation: id,
                        author,
                        operator: actor.operator(),
                        text,
                        attachments: None,
                        external_id: None,
                        delivery: (author == Author::Operator).then_some("pending"),
                        at: now,
                        origin: origin.platform(),
                    },
                )
                .await?;
                if let (Some(message), Origin::Platform(at)) = (message_id, origin) {
                    refs::set_message(conn, message, at).await?;
                    if let Command::Reply { files, .. } = cmd {
                        self.attach_files(conn, id, message, &at.platform, files).await?;
                    }
                }
            }
        }
        let mirror = message_id.map(|message_id| Effect::MirrorMessage { message_id });

        if let Some(change) = &decision.change {
            if change.clear_declines {
                convs::clear_declines(conn, id).await?;
            }
            if let Some(op) = change.decline {
                convs::record_decline(conn, id, op, change.timed_out, now).await?;
            }
            let mut to = change.to.clone();
            let mut routed = None;
            if let Some(scope) = change.route {
                routed = routing::route(conn, row, scope, &mut to).await?;
            }
            let Some(written) =
                convs::write_assignment(conn, id, row.version, &to, change.handback.as_ref(), now).await?
            else {
                return Ok(None);
            };
            after = Some(written);
            let version = row.version + 1;
            // The new assignee's `last_assigned_at` and open chats follow from the write
            // (triggers of the `open_chats` migration).
            let mut audit_rows = vec![audit_row(
                row,
                version,
                &before,
                &change.to,
                actor.kind(),
                actor.operator(),
                change.reason,
                now,
            )];
            if let Some(r) = routed {
                audit_rows.push(audit_row(row, version, &change.to, &to, "routing", None, r.reason, now));
            }
            audit::insert_all(conn, &audit_rows).await?;
            // It was waiting for its assignee to accept: whatever changed it ends the
            // wait (a timer tied to the old version would change nothing, but goes now).
            if before.status == Status::HandedOff && before.assignee.is_some() {
                timers::cancel(conn, id, TimerKind::Accept).await?;
            }
            // Resolved or back with the bot: nobody owes the visitor a reply any more.
            if before.status.is_open() && !to.status.is_open() {
                timers::cancel_reply(conn, id).await?;
            }
            // The one routing picked has this long to accept: a timer tied to this
            // version, so any change before it falls due leaves it without effect.
            if let (
                Some(Routed {
                    accept_within: Some(within),
                    ..
                }),
                Some(picked),
            ) = (routed, to.assignee)
            {
                timers::arm(
                    conn,
                    &NewTimer {
                        workspace: WorkspaceId(row.workspace_id),
                        conversation: id,
                        kind: TimerKind::Accept,
                        due_at: now + within.as_millis(),
                        version,
                        operator: Some(picked),
                        now,
                    },
                )
                .await?;
            }
            fx = effects::plan(&before, &to, change, actor);
        }
        fx.extend(mirror);
        if decision.relay.is_some()
            && let Some(message_id) = message_id
        {
            fx.push(Effect::WidgetMessage { message_id });
            // The visitor has their answer: their wait (`reply_within`) is over.
            timers::cancel_reply(conn, id).await?;
        }

        let accepted_after = decision
            .change
            .as_ref()
            .filter(|c| {
                matches!(c.reason, ChangeReason::Accept | ChangeReason::Claim) && before.status == Status::HandedOff
            })
            .map(|_| now - row.updated_at);
        let after = after.unwrap_or_else(|| row.clone());
        let outbox_rows = deliveries::enqueue(conn, &self.recipients(origin.platform()), &after, &fx, now).await?;
        Ok(Some(Applied {
            outcome: decision.outcome,
            row: after,
            message_id,
            changed: decision.change.is_some(),
            outbox_rows,
            accepted_after,
        }))
    }

    /// Takes the workspace's routing lock (see [`routing::lock`]).
    pub(super) async fn lock_routing(&self, conn: &mut AnyConnection, ws: WorkspaceId) -> Result<(), ServiceError> {
        routing::lock(conn, self.store().backend(), ws).await
    }

    /// Adds an internal note (team only) to a conversation and shows it in its threads.
    pub async fn add_note(
        &self,
        ws: WorkspaceId,
        id: &str,
        operator: OperatorId,
        text: &str,
    ) -> Result<(), ServiceError> {
        let now = now_ms();
        let mut tx = self.store().write().await?;
        let row = convs::get(tx.conn(), id)
            .await?
            .filter(|r| r.workspace_id == ws.0)
            .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{id}`")))?;
        let message = NewMessage {
            conversation: id,
            author: Author::Note,
            operator: Some(operator),
            text,
            attachments: None,
            external_id: None,
            delivery: None,
            at: now,
            origin: None,
        };
        let Some(message_id) = convs::insert_message(tx.conn(), &message).await? else {
            return Ok(());
        };
        let fx = [Effect::MirrorMessage { message_id }];
        let rows = deliveries::enqueue(tx.conn(), &self.recipients(None), &row, &fx, now).await?;
        tx.commit().await?;
        self.announce(false, rows);
        Ok(())
    }

    /// Keeps a reply that was not sent (someone else owns the conversation) so its author
    /// can still "take over & send" it. Returns the held line's id.
    pub async fn hold_reply(
        &self,
        conversation: &str,
        operator: OperatorId,
        text: &str,
        files: &[crate::engine::SharedFile],
        origin: &Origin,
    ) -> Result<i64, ServiceError> {
        let mut tx = self.store().write().await?;
        let id = convs::insert_message(
            tx.conn(),
            &NewMessage {
                conversation,
                author: Author::Held,
                operator: Some(operator),
                text,
                attachments: None,
                external_id: None,
                delivery: None,
                at: now_ms(),
                origin: origin.platform(),
            },
        )
        .await?
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("held reply not stored")))?;
        if let Origin::Platform(at) = origin {
            refs::set_message(tx.conn(), id, at).await?;
            // Its files wait with it, to go when it is sent.
            self.attach_files(tx.conn(), conversation, id, &at.platform, files)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Sends a held reply of the acting operator, taking the conversation over: in one
    /// transaction the held reply is removed and the reply acted on, so a refusal (the
    /// takeover setting, someone else's newer claim) keeps it held, and nothing is sent
    /// twice. Returns the change and the conversation it was for.
    pub async fn send_held(&self, ws: WorkspaceId, id: i64, actor: &Actor) -> Result<(Acted, String), ServiceError> {
        let operator = actor
            .operator()
            .ok_or_else(|| ServiceError::Forbidden("only an operator sends their held reply".into()))?;
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.store().write().await?;
            let line = convs::message(tx.conn(), id)
                .await?
                .filter(|m| m.author == Author::Held && m.operator_id == Some(operator.0))
                .ok_or_else(|| ServiceError::NotFound("that reply is no longer waiting to be sent".into()))?;
            let written = refs::messages_of(tx.conn(), id).await?.into_iter().next();
            let origin = written.map_or(Origin::Api, Origin::Platform);
            let files = self.files_of(tx.conn(), id).await?;
            sqlx::query("delete from messages where id = $1")
                .bind(id)
                .execute(tx.conn())
                .await?;
            let cmd = Command::Reply {
                text: line.text.clone(),
                explicit: true,
                takeover: true,
                files,
            };
            let Some(applied) = self
                .act_in(&mut tx, ws, &line.conversation_id, actor, &cmd, &origin)
                .await?
            else {
                continue; // stale: roll back (the held reply too) and read again
            };
            let view = self.view(tx.conn(), &applied.row).await?;
            tx.commit().await?;
            self.announce(applied.changed, applied.outbox_rows);
            let acted = Acted {
                outcome: applied.outcome,
                conversation: view,
                message_id: applied.message_id,
            };
            return Ok((acted, line.conversation_id));
        }
        Err(ServiceError::Internal(anyhow::anyhow!(
            "the conversation kept changing; try again"
        )))
    }

    /// Who gets outbox rows for a change; `origin` is the platform a reply was written on.
    pub(super) fn recipients<'a>(&'a self, origin: Option<&'a str>) -> deliveries::Recipients<'a> {
        deliveries::Recipients {
            widget: self.inner.widget,
            mirrors: &self.inner.mirrors,
            origin,
            files: &self.inner.files,
        }
    }

    /// An inbox: `filter` and optional widget and status.
    pub async fn list_conversations(
        &self,
        ws: WorkspaceId,
        filter: Filter,
        widget: Option<&str>,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<ConversationView>, ServiceError> {
        let mut conn = self.store().read().await?;
        let rows = convs::list(&mut conn, ws, filter, widget, status, limit).await?;
        let names = Names::load(&mut conn, ws).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let declines = convs::declines(&mut conn, &row.id).await?;
            let accept_by = accept_by(&mut conn, row).await?;
            out.push(names.view(row, &declines, accept_by));
        }
        Ok(out)
    }

    /// One conversation with its transcript and audit trail.
    pub async fn conversation(&self, ws: WorkspaceId, id: &str) -> Result<ConversationDetail, ServiceError> {
        let mut conn = self.store().read().await?;
        let row = convs::get(&mut conn, id)
            .await?
            .filter(|r| r.workspace_id == ws.0)
            .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{id}`")))?;
        let names = Names::load(&mut conn, ws).await?;
        let declines = convs::declines(&mut conn, id).await?;
        let transcript = convs::messages(&mut conn, id)
            .await?
            .into_iter()
            .filter(|m| m.author != Author::Held)
            .map(|m| TranscriptLine {
                attachments: self.shown_attachments(&m.attachment_urls()),
                edited_at: m.edited_at.map(rfc3339),
                deleted_at: m.deleted_at.map(rfc3339),
                id: m.id,
                author: m.author,
                operator: m.operator_id.and_then(|o| names.operator(OperatorId(o))),
                text: m.text,
                delivery: m.delivery,
                at: rfc3339(m.at),
            })
            .collect();
        let audit = audit::for_conversation(&mut conn, id)
            .await?
            .into_iter()
            .map(|a| AuditEntry {
                version: a.version,
                from_status: a.from_status,
                to_status: a.to_status,
                from_assignee: a.from_assignee,
                to_assignee: a.to_assignee,
                team_id: a.team_id,
                actor: a.actor,
                actor_operator_id: a.actor_operator_id,
                reason: a.reason,
                at: rfc3339(a.at),
            })
            .collect();
        Ok(ConversationDetail {
            conversation: names.view(&row, &declines, accept_by(&mut conn, &row).await?),
            transcript,
            audit,
        })
    }

    pub(super) async fn view(
        &self,
        conn: &mut AnyConnection,
        row: &ConversationRow,
    ) -> Result<ConversationView, ServiceError> {
        let declines = convs::declines(conn, &row.id).await?;
        let names = Names::of(conn, row, &declines).await?;
        let accept_by = accept_by(conn, row).await?;
        Ok(names.view(row, &declines, accept_by))
    }
}

/// When a conversation waiting for its assignee to accept is routed on, if a timer
/// waits on this very state of it.
async fn accept_by(conn: &mut AnyConnection, row: &ConversationRow) -> Result<Option<i64>, sqlx::Error> {
    if row.status != Status::HandedOff || row.assignee_id.is_none() {
        return Ok(None);
    }
    Ok(timers::get(conn, &row.id, TimerKind::Accept)
        .await?
        .filter(|t| t.version == row.version)
        .map(|t| t.due_at))
}

#[allow(clippy::too_many_arguments)]
fn audit_row(
    row: &ConversationRow,
    version: i64,
    from: &Assignment,
    to: &Assignment,
    actor: &str,
    actor_operator: Option<OperatorId>,
    reason: ChangeReason,
    now: i64,
) -> AuditRow {
    AuditRow {
        id: 0,
        workspace_id: row.workspace_id,
        conversation_id: row.id.clone(),
        version,
        from_status: Some(from.status.as_str().to_owned()),
        to_status: to.status,
        from_assignee: from.assignee.map(|o| o.0),
        to_assignee: to.assignee.map(|o| o.0),
        team_id: to.team.map(|t| t.0),
        actor: actor.to_owned(),
        actor_operator_id: actor_operator.map(|o| o.0),
        reason,
        at: now,
    }
}

/// Operator and team names of a workspace, loaded once per view.
pub struct Names {
    operators: HashMap<i64, String>,
    teams: HashMap<i64, String>,
}

impl Names {
    /// Just the names one conversation's view needs (its assignee, team and decliners).
    async fn of(conn: &mut AnyConnection, row: &ConversationRow, declines: &[Decline]) -> Result<Names, sqlx::Error> {
        let mut operators = HashMap::new();
        for id in row.assignee_id.into_iter().chain(declines.iter().map(|d| d.operator.0)) {
            if let Some(r) = operators::reference(conn, OperatorId(id)).await? {
                operators.insert(id, r.name);
            }
        }
        let mut names = HashMap::new();
        if let Some(t) = row.team_id
            && let Some(team) = teams::get(conn, WorkspaceId(row.workspace_id), TeamId(t)).await?
        {
            names.insert(t, team.name);
        }
        Ok(Names {
            operators,
            teams: names,
        })
    }

    /// Every operator and team name of a workspace, for lists.
    pub async fn load(conn: &mut AnyConnection, ws: WorkspaceId) -> Result<Names, sqlx::Error> {
        let operators = operators::list(conn, ws)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let teams = teams::list(conn, ws)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        Ok(Names { operators, teams })
    }

    pub fn operator(&self, id: OperatorId) -> Option<OperatorRef> {
        self.operators
            .get(&id.0)
            .map(|name| OperatorRef { id, name: name.clone() })
    }

    pub fn team(&self, id: TeamId) -> Option<TeamRef> {
        self.teams.get(&id.0).map(|name| TeamRef {
            id: id.0,
            name: name.clone(),
        })
    }

    pub(super) fn view(&self, row: &ConversationRow, declines: &[Decline], accept_by: Option<i64>) -> ConversationView {
        let who = |timed_out: bool| -> Vec<OperatorRef> {
            declines
                .iter()
                .filter(|d| d.timed_out == timed_out)
                .filter_map(|d| self.operator(d.operator))
                .collect()
        };
        ConversationView {
            id: row.id.clone(),
            widget_id: row.widget_id.clone(),
            status: row.status,
            assignee: row.assignee_id.and_then(|o| self.operator(OperatorId(o))),
            team: row.team_id.and_then(|t| self.team(TeamId(t))),
            version: row.version,
            visitor: Visitor {
                name: row.visitor_name.clone(),
                email: row.visitor_email.clone(),
            },
            summary: row.summary.clone(),
            reason: row.reason.clone(),
            declined_by: who(false),
            timed_out: who(true),
            accept_by: accept_by.map(rfc3339),
            accept_by_ms: accept_by,
            resolution: row.resolution(),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}
