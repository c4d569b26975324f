//! Conversations, their transcript lines and their declines.

use crate::engine::{
    Assignment, Author, Conversation, ConversationId, OperatorId, Resolution, Status, TeamId, WidgetId, WorkspaceId,
};
use sqlx::AnyConnection;
use sqlx::{FromRow, Row};

const COLUMNS: &str = "id, workspace_id, widget_id, status, assignee_id, team_id, version, visitor_name, \
    visitor_email, summary, reason, topic, outcome, tags, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub workspace_id: i64,
    pub widget_id: String,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub version: i64,
    pub visitor_name: Option<String>,
    pub visitor_email: Option<String>,
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub topic: Option<String>,
    pub outcome: Option<String>,
    pub tags: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ConversationRow {
    pub fn assignment(&self) -> Assignment {
        Assignment {
            status: self.status,
            assignee: self.assignee_id.map(OperatorId),
            team: self.team_id.map(TeamId),
        }
    }

    pub fn to_engine(&self, declined: Vec<OperatorId>) -> Conversation {
        Conversation {
            id: ConversationId(self.id.clone()),
            workspace: WorkspaceId(self.workspace_id),
            widget: WidgetId(self.widget_id.clone()),
            assignment: self.assignment(),
            version: self.version,
            declined,
        }
    }

    pub fn resolution(&self) -> Option<Resolution> {
        if self.topic.is_none() && self.outcome.is_none() && self.tags.is_none() {
            return None;
        }
        Some(Resolution {
            topic: self.topic.clone(),
            outcome: self.outcome.clone(),
            tags: self
                .tags
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
        })
    }
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {COLUMNS} from conversations where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub struct NewConversation<'a> {
    pub id: &'a str,
    pub workspace: WorkspaceId,
    pub widget: &'a str,
    pub visitor_name: Option<&'a str>,
    pub visitor_email: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub now: i64,
}

impl<'a> NewConversation<'a> {
    /// A conversation known by its ids alone: no visitor details, summary or reason.
    pub fn bare(id: &'a str, workspace: WorkspaceId, widget: &'a str, now: i64) -> Self {
        NewConversation {
            id,
            workspace,
            widget,
            visitor_name: None,
            visitor_email: None,
            summary: None,
            reason: None,
            now,
        }
    }
}

/// Conversations by status, but for resolved ones, for metrics.
pub async fn open_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select status, count(*) from conversations where status <> 'resolved' group by status")
        .fetch_all(conn)
        .await
}

/// On PostgreSQL, locks the conversation's row until the transaction ends (SQLite's
/// transactions lock the whole database already).
pub async fn lock(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("select id from conversations where id = $1 for update")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts a conversation (status `bot`, version 0) and returns its row.
pub async fn insert(conn: &mut AnyConnection, c: &NewConversation<'_>) -> Result<ConversationRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into conversations (id, workspace_id, widget_id, status, version, visitor_name, \
         visitor_email, summary, reason, created_at, updated_at) \
         values ($1, $2, $3, 'bot', 0, $4, $5, $6, $7, $8, $8) returning {COLUMNS}"
    ))
    .bind(c.id)
    .bind(c.workspace.0)
    .bind(c.widget)
    .bind(c.visitor_name)
    .bind(c.visitor_email)
    .bind(c.summary)
    .bind(c.reason)
    .bind(c.now)
    .fetch_one(conn)
    .await
}

/// Refreshes what the widget says about the visitor and the chat (on a new handoff);
/// returns the row as updated.
pub async fn update_details(conn: &mut AnyConnection, c: &NewConversation<'_>) -> Result<ConversationRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update conversations set visitor_name = coalesce($2, visitor_name), \
         visitor_email = coalesce($3, visitor_email), summary = coalesce($4, summary), \
         reason = coalesce($5, reason), topic = null, outcome = null, tags = null where id = $1 returning {COLUMNS}"
    ))
    .bind(c.id)
    .bind(c.visitor_name)
    .bind(c.visitor_email)
    .bind(c.summary)
    .bind(c.reason)
    .fetch_one(conn)
    .await
}

/// Writes a new assignment if the version is still `expected`, and returns the row as
/// written (`None` if the version moved). The version goes up by one.
pub async fn write_assignment(
    conn: &mut AnyConnection,
    id: &str,
    expected: i64,
    a: &Assignment,
    resolution: Option<&Resolution>,
    now: i64,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    let tags = resolution.map(|r| serde_json::to_string(&r.tags).unwrap_or_else(|_| "[]".into()));
    sqlx::query_as(&format!(
        "update conversations set status = $3, assignee_id = $4, team_id = $5, version = version + 1, \
         updated_at = $6, topic = coalesce($7, topic), outcome = coalesce($8, outcome), tags = coalesce($9, tags) \
         where id = $1 and version = $2 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(expected)
    .bind(a.status.as_str())
    .bind(a.assignee.map(|o| o.0))
    .bind(a.team.map(|t| t.0))
    .bind(now)
    .bind(resolution.and_then(|r| r.topic.clone()))
    .bind(resolution.and_then(|r| r.outcome.clone()))
    .bind(tags)
    .fetch_optional(conn)
    .await
}

/// Whom routing skips for the conversation: who declined it or let it lapse.
pub async fn declined(conn: &mut AnyConnection, id: &str) -> Result<Vec<OperatorId>, sqlx::Error> {
    Ok(declines(conn, id).await?.into_iter().map(|d| d.operator).collect())
}

/// Someone routing skips for a conversation: they rejected it, or let it time out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub operator: OperatorId,
    pub timed_out: bool,
}

/// The conversation's declines and lapses, in the order they happened.
pub async fn declines(conn: &mut AnyConnection, id: &str) -> Result<Vec<Decline>, sqlx::Error> {
    let rows =
        sqlx::query("select operator_id, timed_out from declines where conversation_id = $1 order by at, operator_id")
            .bind(id)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .iter()
        .map(|r| Decline {
            operator: OperatorId(r.get::<i64, _>(0)),
            timed_out: r.get::<i64, _>(1) != 0,
        })
        .collect())
}

pub async fn add_decline(conn: &mut AnyConnection, id: &str, op: OperatorId, now: i64) -> Result<(), sqlx::Error> {
    record_decline(conn, id, op, false, now).await
}

/// Records that `op` declined the conversation, or let it time out (`timed_out`); a
/// Reject after a lapse, or a lapse after a Reject, keeps the first.
pub async fn record_decline(
    conn: &mut AnyConnection,
    id: &str,
    op: OperatorId,
    timed_out: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into declines (conversation_id, operator_id, at, timed_out) values ($1, $2, $3, $4)          on conflict do nothing",
    )
    .bind(id)
    .bind(op.0)
    .bind(now)
    .bind(i64::from(timed_out))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear_declines(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from declines where conversation_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Which conversations an inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Open chats assigned to this operator.
    Mine(OperatorId),
    /// Open chats nobody owns.
    Unassigned,
    /// Everything.
    All,
}

pub async fn list(
    conn: &mut AnyConnection,
    workspace: WorkspaceId,
    filter: Filter,
    widget: Option<&str>,
    status: Option<Status>,
    limit: i64,
) -> Result<Vec<ConversationRow>, sqlx::Error> {
    let mut sql = format!("select {COLUMNS} from conversations where workspace_id = $1");
    let mut n = 1;
    let mut arg = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace("$?", &format!("${n}")));
    };
    match filter {
        Filter::Mine(_) => arg(&mut sql, " and assignee_id = $? and status in ('handed_off', 'active')"),
        Filter::Unassigned => sql.push_str(" and assignee_id is null and status in ('handed_off', 'active')"),
        Filter::All => {}
    }
    if widget.is_some() {
        arg(&mut sql, " and widget_id = $?");
    }
    if status.is_some() {
        arg(&mut sql, " and status = $?");
    }
    arg(&mut sql, " order by updated_at desc, id limit $?");
    let mut q = sqlx::query_as(&sql).bind(workspace.0);
    if let Filter::Mine(op) = filter {
        q = q.bind(op.0);
    }
    if let Some(w) = widget {
        q = q.bind(w);
    }
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    q.bind(limit).fetch_all(conn).await
}

#[derive(Debug, Clone, FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: String,
    #[sqlx(try_from = "String")]
    pub author: Author,
    pub operator_id: Option<i64>,
    pub text: String,
    pub attachments: Option<String>,
    pub external_id: Option<String>,
    pub delivery: Option<String>,
    pub at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The platform an operator's line was written on.
    pub origin: Option<String>,
}

impl MessageRow {
    /// The attachment URLs, stored as a JSON array (none when unset or unreadable).
    pub fn attachment_urls(&self) -> Vec<String> {
        self.attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default()
    }
}

pub struct NewMessage<'a> {
    pub conversation: &'a str,
    pub author: Author,
    pub operator: Option<OperatorId>,
    pub text: &'a str,
    pub attachments: Option<String>,
    pub external_id: Option<&'a str>,
    pub delivery: Option<&'a str>,
    pub at: i64,
    /// The platform an operator wrote it on.
    pub origin: Option<&'a str>,
}

/// Appends a transcript line; `None` if a line with the same external id is already there.
pub async fn insert_message(conn: &mut AnyConnection, m: &NewMessage<'_>) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "insert into messages (conversation_id, author, operator_id, text, attachments, external_id, delivery, at, origin) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict do nothing returning id",
    )
    .bind(m.conversation)
    .bind(m.author.as_str())
    .bind(m.operator.map(|o| o.0))
    .bind(m.text)
    .bind(m.attachments.clone())
    .bind(m.external_id)
    .bind(m.delivery)
    .bind(m.at)
    .bind(m.origin)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.get::<i64, _>(0)))
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, author, operator_id, text, attachments, external_id, delivery, at, edited_at, deleted_at, origin";

pub async fn messages(conn: &mut AnyConnection, id: &str) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MESSAGE_COLUMNS} from messages where conversation_id = $1 order by at, id"
    ))
    .bind(id)
    .fetch_all(conn)
    .await
}

pub async fn message(conn: &mut AnyConnection, id: i64) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {MESSAGE_COLUMNS} from messages where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The line the widget platform knows by `external_id` in a conversation.
pub async fn message_by_external(
    conn: &mut AnyConnection,
    conversation: &str,
    external_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MESSAGE_COLUMNS} from messages where conversation_id = $1 and external_id = $2"
    ))
    .bind(conversation)
    .bind(external_id)
    .fetch_optional(conn)
    .await
}

/// Takes a line's row for the rest of the transaction (an edit reads, decides, writes).
pub async fn lock_message(conn: &mut AnyConnection, id: i64) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update messages set id = id where id = $1 returning {MESSAGE_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Stores an edit of a line's text (and, if given, its attachments); `false` if it was
/// deleted meanwhile.
pub async fn edit_message(
    conn: &mut AnyConnection,
    id: i64,
    text: &str,
    attachments: Option<Option<String>>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = match attachments {
        Some(a) => sqlx::query(
            "update messages set text = $1, attachments = $2, edited_at = $3 where id = $4 and deleted_at is null",
        )
        .bind(text)
        .bind(a)
        .bind(now)
        .bind(id),
        None => sqlx::query("update messages set text = $1, edited_at = $2 where id = $3 and deleted_at is null")
            .bind(text)
            .bind(now)
            .bind(id),
    }
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a line's attachments (a JSON array of addresses).
pub async fn set_attachments(conn: &mut AnyConnection, id: i64, attachments: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update messages set attachments = $1 where id = $2")
        .bind(attachments)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a line deleted (its text is kept for the team's record).
pub async fn delete_message(conn: &mut AnyConnection, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update messages set deleted_at = $1 where id = $2 and deleted_at is null")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Transcript lines not yet shown on `platform` (held replies are never shown).
pub async fn unmirrored(conn: &mut AnyConnection, id: &str, platform: &str) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {MESSAGE_COLUMNS} from messages m where conversation_id = $1 and author <> 'held' \
         and not exists (select 1 from message_refs r where r.message_id = m.id and r.platform = $2) order by at, id"
    ))
    .bind(id)
    .bind(platform)
    .fetch_all(conn)
    .await
}

pub async fn last_message_at(conn: &mut AnyConnection, id: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("select max(at) from messages where conversation_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    row.try_get::<Option<i64>, _>(0)
}

/// Records whether an operator's reply reached the visitor. Returns false if the line
/// is gone. The line's row is locked first (see [`super::refs::set_message`]).
pub async fn set_delivery(conn: &mut AnyConnection, message_id: i64, delivery: &str) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("update messages set delivery = $2 where id = $1")
        .bind(message_id)
        .bind(delivery)
        .execute(conn)
        .await?;
    Ok(res.rows_affected() == 1)
}
