//! The outbox table (SPEC §6): rows are written in the transaction of the change that
//! caused them and claimed by workers under a lease. Rows sharing an ordering key go
//! one at a time, in id order: a row is only claimable while no earlier row of its key
//! is still pending or in flight. Claims are conditional updates, so two workers (or two
//! instances on one PostgreSQL) never hold the same row.

use sqlx::AnyConnection;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub workspace_id: i64,
    pub target: String,
    pub kind: String,
    pub ordering_key: String,
    pub payload: String,
    pub idempotency_key: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    /// How many times it was claimed, this time included, not counting attempts the
    /// platform refused with a 429 (those certainly did not reach it).
    pub claims: i64,
}

const COLUMNS: &str = "id, workspace_id, target, kind, ordering_key, payload, idempotency_key, status, attempts, \
    next_attempt_at, locked_until, last_error, created_at, delivered_at, claims";

/// A row to write.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub workspace_id: i64,
    pub target: &'static str,
    pub kind: &'static str,
    pub ordering_key: String,
    pub payload: serde_json::Value,
}

pub async fn enqueue(conn: &mut AnyConnection, row: &NewRow, now: i64) -> Result<i64, sqlx::Error> {
    let key = hex::encode(rand::random::<[u8; 16]>());
    sqlx::query_scalar(
        "insert into outbox (workspace_id, target, kind, ordering_key, payload, idempotency_key, status, attempts, \
         next_attempt_at, created_at) values ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) returning id",
    )
    .bind(row.workspace_id)
    .bind(row.target)
    .bind(row.kind)
    .bind(&row.ordering_key)
    .bind(row.payload.to_string())
    .bind(key)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Claims up to `limit` rows that are due and head their ordering key, leasing them
/// until `lease_until`.
pub async fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "select o.id from outbox o \
         where ((o.status = 'pending' and o.next_attempt_at <= $1) or (o.status = 'inflight' and o.locked_until < $1)) \
         and not exists (select 1 from outbox p where p.ordering_key = o.ordering_key and p.id < o.id \
                         and p.status in ('pending', 'inflight')) \
         order by o.id limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<OutboxRow> = sqlx::query_as(&format!(
            "update outbox set status = 'inflight', locked_until = $2, claims = claims + 1 where id = $1 \
             and (status = 'pending' or (status = 'inflight' and locked_until < $3)) returning {COLUMNS}"
        ))
        .bind(id)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        rows.extend(row);
    }
    Ok(rows)
}

pub async fn mark_done(conn: &mut AnyConnection, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update outbox set status = 'done', delivered_at = $2, locked_until = null, attempts = attempts + 1 where id = $1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Back to pending, due at `next_at`. `count` says whether this was a failed attempt
/// (5xx, timeout: it may have reached the platform) or a hold-back (429: it certainly did
/// not), which neither uses up an attempt nor counts as a claim.
pub async fn mark_retry(
    conn: &mut AnyConnection,
    id: i64,
    next_at: i64,
    error: &str,
    count: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update outbox set status = 'pending', next_attempt_at = $2, last_error = $3, locked_until = null, \
         attempts = attempts + $4, claims = claims - (1 - $4) where id = $1",
    )
    .bind(id)
    .bind(next_at)
    .bind(error)
    .bind(i64::from(count))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_dead(conn: &mut AnyConnection, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update outbox set status = 'dead', last_error = $2, locked_until = null, attempts = attempts + 1 where id = $1")
        .bind(id)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(())
}

/// The earliest time a pending row falls due, to sleep until then.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("select min(next_attempt_at) from outbox where status = 'pending'")
        .fetch_one(conn)
        .await
}

/// Rows per status, for metrics and readiness.
pub async fn depth(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select status, count(*) from outbox where status <> 'done' group by status")
        .fetch_all(conn)
        .await
}
