//! Widgets: routing mode, eligible operators, round-robin cursor and mirror channels.

use crate::engine::{OperatorId, RoutingMode, Window, WorkspaceId};
use sqlx::AnyConnection;
use sqlx::{FromRow, Row};

const COLUMNS: &str = "id, workspace_id, routing, rr_cursor, accept_within_ms, reply_within_ms, created_at";

#[derive(Debug, Clone, FromRow)]
pub struct WidgetRow {
    pub id: String,
    pub workspace_id: i64,
    #[sqlx(try_from = "String")]
    pub routing: RoutingMode,
    pub rr_cursor: Option<i64>,
    /// How long a routed conversation waits for its assignee to accept; `None` = forever.
    pub accept_within_ms: Option<i64>,
    /// How long a visitor's message waits for a reply before the assignee is nudged.
    pub reply_within_ms: Option<i64>,
    pub created_at: i64,
}

impl WidgetRow {
    pub fn accept_within(&self) -> Result<Option<Window>, sqlx::Error> {
        stored_window(self.accept_within_ms)
    }

    pub fn reply_within(&self) -> Result<Option<Window>, sqlx::Error> {
        stored_window(self.reply_within_ms)
    }
}

/// A stored window: out of range is corrupt data, an error, never "off".
fn stored_window(ms: Option<i64>) -> Result<Option<Window>, sqlx::Error> {
    ms.map(|ms| Window::from_millis(ms).map_err(|why| sqlx::Error::Decode(format!("widget timer: {why}").into())))
        .transpose()
}

/// Sets a widget's timers; `None` leaves one as it is, `Some(None)` switches it off.
pub async fn set_timers(
    conn: &mut AnyConnection,
    id: &str,
    accept_within: Option<Option<Window>>,
    reply_within: Option<Option<Window>>,
) -> Result<(), sqlx::Error> {
    for (column, value) in [("accept_within_ms", accept_within), ("reply_within_ms", reply_within)] {
        if let Some(value) = value {
            sqlx::query(&format!("update widgets set {column} = $2 where id = $1"))
                .bind(id)
                .bind(value.map(Window::as_millis))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<WidgetRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {COLUMNS} from widgets where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn list(conn: &mut AnyConnection, ws: WorkspaceId) -> Result<Vec<WidgetRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from widgets where workspace_id = $1 order by id"
    ))
    .bind(ws.0)
    .fetch_all(conn)
    .await
}

/// Creates the widget with the workspace defaults (manual routing, default channels) if
/// it is new.
pub async fn ensure(conn: &mut AnyConnection, ws: WorkspaceId, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into widgets (id, workspace_id, routing, created_at) values ($1, $2, 'manual', $3) on conflict do nothing",
    )
    .bind(id)
    .bind(ws.0)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_routing(conn: &mut AnyConnection, id: &str, routing: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update widgets set routing = $2 where id = $1")
        .bind(id)
        .bind(routing)
        .execute(conn)
        .await?;
    Ok(())
}

/// Platform name → the channel the widget's conversations are mirrored into there.
pub type Channels = std::collections::BTreeMap<String, String>;

/// What a widget has on each platform, kept in a table of its own keyed by
/// (widget, platform): its channel (`widget_channels.channel`), or whom its notices
/// mention (`widget_escalations.target`).
#[derive(Debug, Clone, Copy)]
pub enum PerPlatform {
    Channel,
    Escalation,
}

impl PerPlatform {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            PerPlatform::Channel => ("widget_channels", "channel"),
            PerPlatform::Escalation => ("widget_escalations", "target"),
        }
    }
}

pub async fn channels(conn: &mut AnyConnection, id: &str) -> Result<Channels, sqlx::Error> {
    all_of(conn, id, PerPlatform::Channel).await
}

/// Platform name → the widget's setting there.
pub async fn all_of(conn: &mut AnyConnection, id: &str, what: PerPlatform) -> Result<Channels, sqlx::Error> {
    let (table, column) = what.table_and_column();
    let rows: Vec<(String, String)> =
        sqlx::query_as(&format!("select platform, {column} from {table} where widget_id = $1"))
            .bind(id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn channel(conn: &mut AnyConnection, id: &str, platform: &str) -> Result<Option<String>, sqlx::Error> {
    one_of(conn, id, platform, PerPlatform::Channel).await
}

/// The widget's setting on one platform.
pub async fn one_of(
    conn: &mut AnyConnection,
    id: &str,
    platform: &str,
    what: PerPlatform,
) -> Result<Option<String>, sqlx::Error> {
    let (table, column) = what.table_and_column();
    sqlx::query_scalar(&format!(
        "select {column} from {table} where widget_id = $1 and platform = $2"
    ))
    .bind(id)
    .bind(platform)
    .fetch_optional(conn)
    .await
}

/// Sets (`Some`) or clears (`None`) the widget's channel on a platform.
pub async fn set_channel(
    conn: &mut AnyConnection,
    id: &str,
    platform: &str,
    channel: Option<&str>,
) -> Result<(), sqlx::Error> {
    set_one(conn, id, platform, PerPlatform::Channel, channel).await
}

/// Sets (`Some`) or clears (`None`) the widget's setting on a platform.
pub async fn set_one(
    conn: &mut AnyConnection,
    id: &str,
    platform: &str,
    what: PerPlatform,
    value: Option<&str>,
) -> Result<(), sqlx::Error> {
    let (table, column) = what.table_and_column();
    match value {
        Some(value) => {
            sqlx::query(&format!(
                "insert into {table} (widget_id, platform, {column}) values ($1, $2, $3) \
                 on conflict (widget_id, platform) do update set {column} = excluded.{column}"
            ))
            .bind(id)
            .bind(platform)
            .bind(value)
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query(&format!("delete from {table} where widget_id = $1 and platform = $2"))
                .bind(id)
                .bind(platform)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Records that a conversation's notices have mentioned the widget's escalation target
/// on a platform; false if they had already (nobody is pinged twice for one
/// conversation).
pub async fn first_escalation(
    conn: &mut AnyConnection,
    conversation: &str,
    platform: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into conversation_escalations (conversation_id, platform, at) values ($1, $2, $3) \
         on conflict do nothing",
    )
    .bind(conversation)
    .bind(platform)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn set_cursor(conn: &mut AnyConnection, id: &str, cursor: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("update widgets set rr_cursor = $2 where id = $1")
        .bind(id)
        .bind(cursor.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn eligible(conn: &mut AnyConnection, id: &str) -> Result<Vec<OperatorId>, sqlx::Error> {
    let rows = sqlx::query("select operator_id from widget_eligible where widget_id = $1 order by operator_id")
        .bind(id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| OperatorId(r.get::<i64, _>(0))).collect())
}

pub async fn set_eligible(conn: &mut AnyConnection, id: &str, ops: &[OperatorId]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from widget_eligible where widget_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for op in ops {
        sqlx::query("insert into widget_eligible (widget_id, operator_id) values ($1, $2) on conflict do nothing")
            .bind(id)
            .bind(op.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether the operator may pick up this widget's conversations (empty set = everyone).
pub async fn is_eligible(conn: &mut AnyConnection, id: &str, op: OperatorId) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "select case when not exists (select 1 from widget_eligible where widget_id = $1) then 1 \
         when exists (select 1 from widget_eligible where widget_id = $1 and operator_id = $2) then 1 else 0 end",
    )
    .bind(id)
    .bind(op.0)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
}

/// Makes `to` eligible wherever `from` is, and `from` nowhere. A widget's list never
/// becomes empty by this (empty would mean everyone).
pub async fn move_eligibility(conn: &mut AnyConnection, from: OperatorId, to: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into widget_eligible (widget_id, operator_id) \
         select widget_id, $2 from widget_eligible where operator_id = $1 on conflict do nothing",
    )
    .bind(from.0)
    .bind(to.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query("delete from widget_eligible where operator_id = $1")
        .bind(from.0)
        .execute(conn)
        .await?;
    Ok(())
}
