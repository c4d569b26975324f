//! Inbound event ids already acted on: the idempotency of every front door.

use sqlx::AnyConnection;

/// Forgets the ids of events received before `before` (platforms retry within hours).
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64, sqlx::Error> {
    let res = sqlx::query("delete from inbound_events where received_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(res.rows_affected())
}

/// Records `(source, id)`; returns false if it was already there (a repeat). Run it in
/// the transaction that acts on the event, so the record and the effect commit together.
pub async fn first_time(conn: &mut AnyConnection, source: &str, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "insert into inbound_events (source, event_id, received_at) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(source)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}
