//! Send slots shared by every instance on one database, by the generic cell rate
//! algorithm: each lane keeps the theoretical arrival time (`tat`) of its next call.
//! Reserving a slot moves it on by the lane's interval in one upsert, so instances that
//! reserve at once get distinct, evenly spaced slots, with the lane's burst allowed up
//! front. A hold (a platform's `Retry-After`) keeps every call on the lane until its end.

use sqlx::AnyConnection;

/// A rate-limited lane: one call per `every_ms`, up to `burst` at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub key: String,
    pub every_ms: i64,
    pub burst: i64,
}

impl Lane {
    /// How far ahead of now the `tat` may be while a call still goes at once.
    fn tolerance(&self) -> i64 {
        self.every_ms * (self.burst.max(1) - 1)
    }
}

/// Reserves the next slot on every lane; returns how many milliseconds to wait until
/// all of them are due and none is held (0: at once).
pub async fn reserve(conn: &mut AnyConnection, lanes: &[Lane], now: i64) -> Result<i64, sqlx::Error> {
    let mut wait = 0;
    for lane in lanes {
        // excluded.tat is now + every: the new tat is max(old, now) + every.
        let (tat, held_until): (i64, i64) = sqlx::query_as(
            "insert into send_pace (lane, tat) values ($1, $2) on conflict (lane) do update \
             set tat = case when send_pace.tat > $3 then send_pace.tat + $4 else excluded.tat end \
             returning tat, held_until",
        )
        .bind(&lane.key)
        .bind(now + lane.every_ms)
        .bind(now)
        .bind(lane.every_ms)
        .fetch_one(&mut *conn)
        .await?;
        wait = wait
            .max(tat - lane.every_ms - lane.tolerance() - now)
            .max(held_until - now);
    }
    Ok(wait.max(0))
}

/// Gives back one slot on each lane, reserved by a call that did not go.
pub async fn give_back(conn: &mut AnyConnection, lanes: &[Lane]) -> Result<(), sqlx::Error> {
    for lane in lanes {
        sqlx::query("update send_pace set tat = tat - $2 where lane = $1")
            .bind(&lane.key)
            .bind(lane.every_ms)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// How many milliseconds from `now` any of the lanes is still held (0: none is).
pub async fn held(conn: &mut AnyConnection, lanes: &[Lane], now: i64) -> Result<i64, sqlx::Error> {
    let mut wait = 0;
    for lane in lanes {
        let until: Option<i64> = sqlx::query_scalar("select held_until from send_pace where lane = $1")
            .bind(&lane.key)
            .fetch_optional(&mut *conn)
            .await?;
        wait = wait.max(until.unwrap_or(0) - now);
    }
    Ok(wait.max(0))
}

/// Holds a lane until `until` (epoch ms): no call before. Its slots are not touched,
/// so what is left of its burst is there when the hold ends.
pub async fn hold(conn: &mut AnyConnection, lane: &Lane, until: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into send_pace (lane, tat, held_until) values ($1, 0, $2) on conflict (lane) do update \
         set held_until = case when send_pace.held_until > excluded.held_until \
         then send_pace.held_until else excluded.held_until end",
    )
    .bind(&lane.key)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}

/// The lanes held past `now`, with until when (epoch ms).
pub async fn holds(conn: &mut AnyConnection, now: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("select lane, held_until from send_pace where held_until > $1")
        .bind(now)
        .fetch_all(conn)
        .await
}

/// Forgets lanes idle since before `before`.
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64, sqlx::Error> {
    let res = sqlx::query("delete from send_pace where tat < $1 and held_until < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(res.rows_affected())
}
