//! Platform rate limits kept by all instances together, and across restarts. One
//! instance paces its calls in memory (each adapter's own limiter); several instances on
//! one PostgreSQL would each keep the limit and together send twice it. So on PostgreSQL
//! every call also reserves its slot in the database (`store::pace`). A platform's
//! `Retry-After` holds its lane in the database on either backend, so every instance
//! keeps it, and so does an instance started again after a crash. A database error
//! never stops a delivery: the call goes by the in-memory pace alone, and the error is
//! logged.

use crate::store::pace;
use crate::store::{Backend, Store, now_ms};
use std::time::Duration;

pub use crate::store::pace::Lane;

/// The pace kept in the database.
#[derive(Clone)]
pub struct SharedPace {
    store: Store,
}

impl SharedPace {
    pub fn for_store(store: &Store) -> SharedPace {
        SharedPace { store: store.clone() }
    }

    /// Whether calls reserve their slots here: on PostgreSQL, where several instances
    /// serve. On SQLite one instance serves and its in-memory pace is exact.
    pub fn reserves(&self) -> bool {
        self.store.backend() == Backend::Postgres
    }

    /// The lanes held now, with how long each still is (read at start-up: holds outlive
    /// a crash).
    pub async fn holds(&self) -> Vec<(String, Duration)> {
        let now = now_ms();
        let held = async {
            let mut conn = self.store.read().await?;
            pace::holds(&mut conn, now).await
        };
        match held.await {
            Ok(rows) => rows
                .into_iter()
                .map(|(lane, until)| (lane, Duration::from_millis((until - now).max(0) as u64)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the rate-limit holds");
                Vec::new()
            }
        }
    }

    /// Reserves a slot on every lane and waits until all are due and none is held
    /// (a hold placed by another instance while this one waited is waited out too). A
    /// wait longer than `at_most` is not waited: the slots are given back, and `Err`
    /// says how long it would be.
    pub async fn wait(&self, lanes: &[Lane], at_most: Duration) -> Result<(), Duration> {
        let reserved = async {
            let mut conn = self.store.read().await?;
            pace::reserve(&mut conn, lanes, now_ms()).await
        };
        let mut wait = or_no_wait(reserved.await);
        // A hold that came in meanwhile is waited out; a few times at most.
        for _ in 0..4 {
            if wait.is_zero() {
                return Ok(());
            }
            if wait > at_most {
                self.give_back(lanes).await;
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
            let held = async {
                let mut conn = self.store.read().await?;
                pace::held(&mut conn, lanes, now_ms()).await
            };
            wait = or_no_wait(held.await);
        }
        Ok(())
    }

    /// Gives back the slots a call reserved and will not use, so calls that never went
    /// do not push every later one further off.
    async fn give_back(&self, lanes: &[Lane]) {
        let given = async {
            let mut conn = self.store.read().await?;
            pace::give_back(&mut conn, lanes).await
        };
        if let Err(e) = given.await {
            tracing::warn!(error = %e, "could not give back unused send-pace slots");
        }
    }

    /// Holds `lane` for every instance for `wait` from now.
    pub async fn hold(&self, lane: &Lane, wait: Duration) {
        let held = async {
            let mut conn = self.store.read().await?;
            pace::hold(&mut conn, lane, now_ms() + wait.as_millis() as i64).await
        };
        if let Err(e) = held.await {
            tracing::warn!(error = %e, "could not share a rate-limit hold; it holds in this instance only");
        }
    }
}

/// A wait in milliseconds; a database error counts as none (logged): the in-memory pace
/// still applies.
fn or_no_wait(ms: Result<i64, sqlx::Error>) -> Duration {
    match ms {
        Ok(ms) => Duration::from_millis(ms.max(0) as u64),
        Err(e) => {
            tracing::warn!(error = %e, "could not use the shared send pace; pacing in memory only");
            Duration::ZERO
        }
    }
}
