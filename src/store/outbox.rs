//! The outbox table (`docs/architecture.md#the-outbox`): rows are written in the
//! transaction of the change that caused them and claimed by workers under a lease. Rows
//! sharing an ordering key go one at a time, in id order: a row is only claimable while
//! no earlier row of its key is still pending or in flight. A claim is one conditional
//! update that gives the rows a fresh claim token (on PostgreSQL skipping rows another
//! instance is claiming, with `FOR UPDATE SKIP LOCKED`), so two workers never hold the
//! same row; and a result is recorded only while the token still holds the row, so a
//! worker whose lease ran out cannot overwrite a newer claim.

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
    /// The token of the claim that holds the row.
    pub claim_token: Option<String>,
}

const COLUMNS: &str = "id, workspace_id, target, kind, ordering_key, payload, idempotency_key, status, attempts, \
    next_attempt_at, locked_until, last_error, created_at, delivered_at, claims, claim_token";

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

/// Writes rows in one statement (a change's rows for every target at once).
pub async fn enqueue_all(conn: &mut AnyConnection, rows: &[NewRow], now: i64) -> Result<(), sqlx::Error> {
    // SQLite allows 32,766 parameters; 6 a row, so far more rows than a change writes.
    for chunk in rows.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("({}, 'pending', 0, $1, $1)", super::placeholders(i * 6 + 2, 6)))
            .collect();
        let sql = format!(
            "insert into outbox (workspace_id, target, kind, ordering_key, payload, idempotency_key, status, attempts, \
             next_attempt_at, created_at) values {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now);
        for row in chunk {
            q = q
                .bind(row.workspace_id)
                .bind(row.target)
                .bind(row.kind)
                .bind(&row.ordering_key)
                .bind(row.payload.to_string())
                .bind(hex::encode(rand::random::<[u8; 16]>()));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Claims up to `limit` rows that are due and head their ordering key, leasing them
/// until `lease_until` under a new claim token, except the rows in `busy` (the caller
/// is still delivering them). `skip_locked`: PostgreSQL, where several instances claim
/// at once.
pub async fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
    skip_locked: bool,
    busy: &[i64],
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let token = hex::encode(rand::random::<[u8; 12]>());
    // The busy ids go as one JSON parameter, so the statement's text never changes and
    // its prepared form is reused.
    let (lock, busy_ids) = if skip_locked {
        (
            " for update skip locked",
            "select jsonb_array_elements_text(cast($5 as jsonb))::bigint",
        )
    } else {
        ("", "select value from json_each($5)")
    };
    let busy_json = serde_json::to_string(busy).unwrap_or_else(|_| "[]".into());
    let mut rows: Vec<OutboxRow> = sqlx::query_as(&format!(
        "update outbox set status = 'inflight', locked_until = $2, claims = claims + 1, claim_token = $4 \
         where id in (select o.id from outbox o \
           where ((o.status = 'pending' and o.next_attempt_at <= $1) or (o.status = 'inflight' and o.locked_until < $1)) \
           and not exists (select 1 from outbox p where p.ordering_key = o.ordering_key and p.id < o.id \
                           and p.status in ('pending', 'inflight')) \
           and o.id not in ({busy_ids}) \
           order by o.id limit $3{lock}) \
         returning {COLUMNS}"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .bind(token)
    .bind(busy_json)
    .fetch_all(conn)
    .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// The condition that a result may be recorded: the row is still in flight under this
/// claim.
const HELD: &str = "id = $1 and status = 'inflight' and claim_token = $2";

/// Marks a row delivered; false if the claim no longer holds it.
pub async fn mark_done(conn: &mut AnyConnection, row: &OutboxRow, now: i64) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(&format!(
        "update outbox set status = 'done', delivered_at = $3, locked_until = null, attempts = attempts + 1 where {HELD}"
    ))
    .bind(row.id)
    .bind(&row.claim_token)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Back to pending, due at `next_at`. `count` says whether this was a failed attempt
/// (5xx, timeout: it may have reached the platform) or a hold-back (429: it certainly did
/// not), which neither uses up an attempt nor counts as a claim. False if the claim no
/// longer holds the row.
pub async fn mark_retry(
    conn: &mut AnyConnection,
    row: &OutboxRow,
    next_at: i64,
    error: &str,
    count: bool,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(&format!(
        "update outbox set status = 'pending', next_attempt_at = $3, last_error = $4, locked_until = null, \
         attempts = attempts + $5, claims = claims - (1 - $5) where {HELD}"
    ))
    .bind(row.id)
    .bind(&row.claim_token)
    .bind(next_at)
    .bind(error)
    .bind(i64::from(count))
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Gives a row back unfinished (the process is stopping): due again at once for the next
/// worker, its attempts unchanged; false if the claim no longer holds it. Its claim count
/// stays, because the call may have gone out.
pub async fn release(conn: &mut AnyConnection, row: &OutboxRow, now: i64) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(&format!(
        "update outbox set status = 'pending', next_attempt_at = $3, locked_until = null, \
         last_error = 'given back unfinished when the bridge stopped' where {HELD}"
    ))
    .bind(row.id)
    .bind(&row.claim_token)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Deletes rows delivered before `before`; dead letters stay until someone looks at them.
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64, sqlx::Error> {
    let res = sqlx::query("delete from outbox where status = 'done' and delivered_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(res.rows_affected())
}

/// Keeps a row as a dead letter; false if the claim no longer holds it.
pub async fn mark_dead(conn: &mut AnyConnection, row: &OutboxRow, error: &str) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(&format!(
        "update outbox set status = 'dead', last_error = $3, locked_until = null, attempts = attempts + 1 where {HELD}"
    ))
    .bind(row.id)
    .bind(&row.claim_token)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Whether a claimed row before `row` on its key and target is a dead letter.
pub async fn died_before(conn: &mut AnyConnection, row: &OutboxRow) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "select id from outbox where ordering_key = $1 and status = 'dead' and id < $2 and target = $3 \
         and claims > 0 limit 1",
    )
    .bind(&row.ordering_key)
    .bind(row.id)
    .bind(&row.target)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The earliest time a row may be claimed, to sleep until then.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    // Only rows that head their ordering key: one waiting behind a row in flight falls
    // due when that row is done (which wakes the worker), not before. A lease running
    // out makes its row claimable again.
    sqlx::query_scalar(
        "select min(t) from (\
           select min(o.next_attempt_at) as t from outbox o where o.status = 'pending' \
             and not exists (select 1 from outbox p where p.ordering_key = o.ordering_key and p.id < o.id \
                             and p.status in ('pending', 'inflight')) \
           union all \
           select min(locked_until) as t from outbox where status = 'inflight') due",
    )
    .fetch_one(conn)
    .await
}

/// Rows not delivered yet, per target and status: (target, status, rows, oldest row's
/// `created_at`), for metrics.
pub async fn depth(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select target, status, count(*), min(created_at) from outbox where status <> 'done' \
         group by target, status",
    )
    .fetch_all(conn)
    .await
}
