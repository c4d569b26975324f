//! Operators, and the routing candidates drawn from them.

use crate::engine::routing::Candidate;
use crate::engine::{OperatorId, OperatorRef, Presence, Role, RoutingMode, WorkspaceId};
use sqlx::AnyConnection;
use sqlx::FromRow;

const COLUMNS: &str = "id, workspace_id, name, role, presence, capacity, last_assigned_at, created_at, seed_key";

#[derive(Debug, Clone, FromRow)]
pub struct OperatorRow {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    #[sqlx(try_from = "String")]
    pub presence: Presence,
    pub capacity: Option<i64>,
    pub last_assigned_at: Option<i64>,
    pub created_at: i64,
    /// The key configuration seeding declared this operator under, if it did.
    pub seed_key: Option<String>,
}

pub async fn get(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    id: OperatorId,
) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from operators where workspace_id = $1 and id = $2"
    ))
    .bind(ws.0)
    .bind(id.0)
    .fetch_optional(conn)
    .await
}

/// An operator's id and name.
pub async fn reference(conn: &mut AnyConnection, id: OperatorId) -> Result<Option<OperatorRef>, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("select name from operators where id = $1")
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    Ok(name.map(|name| OperatorRef { id, name }))
}

pub async fn list(conn: &mut AnyConnection, ws: WorkspaceId) -> Result<Vec<OperatorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from operators where workspace_id = $1 order by id"
    ))
    .bind(ws.0)
    .fetch_all(conn)
    .await
}

pub async fn find_by_name(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    name: &str,
) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from operators where workspace_id = $1 and name = $2 order by id limit 1"
    ))
    .bind(ws.0)
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// The operator configuration seeding declared under `key`.
pub async fn find_by_seed_key(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    key: &str,
) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from operators where workspace_id = $1 and seed_key = $2"
    ))
    .bind(ws.0)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// An operator from before seeding had keys, with this name: the earliest one no key
/// claims yet.
pub async fn find_unkeyed_by_name(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    name: &str,
) -> Result<Option<OperatorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from operators where workspace_id = $1 and name = $2 and seed_key is null \
         order by id limit 1"
    ))
    .bind(ws.0)
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Marks an operator as the one seeding declared under `key`.
pub async fn set_seed_key(conn: &mut AnyConnection, id: OperatorId, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update operators set seed_key = $2 where id = $1")
        .bind(id.0)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The fields an operator is created with or changed to.
#[derive(Debug, Clone)]
pub struct OperatorFields {
    pub name: String,
    pub role: Role,
    pub capacity: Option<i64>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    f: &OperatorFields,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into operators (workspace_id, name, role, presence, capacity, created_at) \
         values ($1, $2, $3, 'available', $4, $5) returning id",
    )
    .bind(ws.0)
    .bind(&f.name)
    .bind(f.role.as_str())
    .bind(f.capacity)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update(conn: &mut AnyConnection, id: OperatorId, f: &OperatorFields) -> Result<(), sqlx::Error> {
    sqlx::query("update operators set name = $2, role = $3, capacity = $4 where id = $1")
        .bind(id.0)
        .bind(&f.name)
        .bind(f.role.as_str())
        .bind(f.capacity)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_presence(conn: &mut AnyConnection, id: OperatorId, presence: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update operators set presence = $2 where id = $1")
        .bind(id.0)
        .bind(presence)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether anything refers to the operator besides their directory entries: a
/// conversation assigned to them (in any status), a transcript line, a decline or an
/// audit row. Such an operator is kept when retired, so the history keeps its names.
pub async fn has_history(conn: &mut AnyConnection, id: OperatorId) -> Result<bool, sqlx::Error> {
    const QUERIES: [&str; 4] = [
        "select count(*) from conversations where assignee_id = $1",
        "select count(*) from messages where operator_id = $1",
        "select count(*) from declines where operator_id = $1",
        "select count(*) from assignment_events \
         where from_assignee = $1 or to_assignee = $1 or actor_operator_id = $1",
    ];
    for sql in QUERIES {
        let n: i64 = sqlx::query_scalar(sql).bind(id.0).fetch_one(&mut *conn).await?;
        if n > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Takes an operator out of routing for good: away, and a capacity of 0.
pub async fn retire(conn: &mut AnyConnection, id: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("update operators set presence = 'away', capacity = 0 where id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes an operator without history (see [`has_history`]); their accounts, tokens,
/// memberships, eligibility and codes go with them.
pub async fn delete(conn: &mut AnyConnection, id: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from operators where id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Open chats (`handed_off` or `active`) per operator, as kept on their row by the
/// conversation triggers (see the `open_chats` migration).
pub async fn open_chats(conn: &mut AnyConnection, id: OperatorId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select open_chats from operators where id = $1")
        .bind(id.0)
        .fetch_one(conn)
        .await
}

/// Whose operators a routing picks from.
#[derive(Debug, Clone, Copy)]
pub enum Pool<'a> {
    /// The widget's eligible operators (everyone in the workspace when none are listed).
    Widget(WorkspaceId, &'a str),
    /// A team's members.
    Team(i64),
}

#[derive(FromRow)]
struct CandidateRow {
    id: i64,
    #[sqlx(try_from = "String")]
    presence: Presence,
    capacity: Option<i64>,
    last_assigned_at: Option<i64>,
    open_chats: i64,
}

const CANDIDATE: &str = "select o.id, o.presence, o.capacity, o.last_assigned_at, o.open_chats from operators o";

fn candidates(rows: Vec<CandidateRow>) -> Vec<Candidate> {
    rows.into_iter()
        .map(|r| Candidate {
            id: OperatorId(r.id),
            presence: r.presence,
            capacity: r.capacity,
            open_chats: r.open_chats,
            last_assigned_at: r.last_assigned_at,
        })
        .collect()
}

/// Every operator of the pool, whatever their presence or load, in id order.
pub async fn pool(conn: &mut AnyConnection, pool: Pool<'_>) -> Result<Vec<Candidate>, sqlx::Error> {
    let sql = format!("{CANDIDATE} where {} order by o.id", pool_filter(pool));
    let rows = bind_pool(sqlx::query_as(&sql), pool).fetch_all(conn).await?;
    Ok(candidates(rows))
}

/// The pool's filter on `o`: over `$1` and `$2` for a widget, `$1` for a team.
fn pool_filter(pool: Pool<'_>) -> &'static str {
    match pool {
        Pool::Widget(..) => {
            "o.workspace_id = $1 and (not exists (select 1 from widget_eligible e where e.widget_id = $2) \
             or o.id in (select e.operator_id from widget_eligible e where e.widget_id = $2))"
        }
        Pool::Team(_) => "o.id in (select m.operator_id from team_members m where m.team_id = $1)",
    }
}

fn bind_pool<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    pool: Pool<'q>,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    match pool {
        Pool::Widget(ws, widget) => query.bind(ws.0).bind(widget),
        Pool::Team(team) => query.bind(team),
    }
}

/// The few operators of the pool that routing in `mode` could pick for `conversation`,
/// read in one statement that walks an index instead of the whole pool: the ones that
/// can take it (available, below capacity, not declined), narrowed to the first after
/// `cursor` and the first overall for round-robin, and to the least loaded for
/// lightest-load. [`crate::engine::routing::pick`] over these picks whom it would pick
/// over the whole pool, so the rules stay the engine's while the cost stays flat as a
/// team grows.
pub async fn pickable(
    conn: &mut AnyConnection,
    pool: Pool<'_>,
    mode: RoutingMode,
    conversation: &str,
    cursor: Option<OperatorId>,
) -> Result<Vec<Candidate>, sqlx::Error> {
    let next = match pool {
        Pool::Widget(..) => 3,
        Pool::Team(_) => 2,
    };
    let (conv, cur) = (format!("${next}"), format!("${}", next + 1));
    let can_take = format!(
        "{} and o.presence = 'available' and (o.capacity is null or o.open_chats < o.capacity) \
         and not exists (select 1 from declines d where d.conversation_id = {conv} and d.operator_id = o.id)",
        pool_filter(pool)
    );
    let sql = match mode {
        RoutingMode::Manual => return Ok(Vec::new()),
        RoutingMode::RoundRobin => format!(
            "select * from ({CANDIDATE} where {can_take} and o.id > {cur} order by o.id limit 1) as next \
             union all select * from ({CANDIDATE} where {can_take} order by o.id limit 1) as first"
        ),
        RoutingMode::LightestLoad => {
            format!("{CANDIDATE} where {can_take} order by o.open_chats, o.last_assigned_at nulls first, o.id limit 1")
        }
    };
    let mut query = bind_pool(sqlx::query_as(&sql), pool).bind(conversation);
    if mode == RoutingMode::RoundRobin {
        query = query.bind(cursor.map_or(i64::MIN, |c| c.0));
    }
    Ok(candidates(query.fetch_all(conn).await?))
}
