//! Platform rate limits kept by all instances together. One instance paces its calls in
//! memory (each adapter's own limiter); several instances on one PostgreSQL would each
//! keep the limit and together send twice it. So on PostgreSQL every call also reserves
//! its slot in the database (`store::pace`), and a platform's `Retry-After` holds the
//! lane there for every instance. A database error never stops a delivery: the call
//! goes by the in-memory pace alone, and the error is logged.

use crate::store::pace;
use crate::store::{Backend, Store, now_ms};
use std::time::Duration;

pub use crate::store::pace::Lane;

/// The shared pace, present only where several instances can share a database.
#[derive(Clone)]
pub struct SharedPace {
    store: Store,
}

impl SharedPace {
    /// `Some` on PostgreSQL; on SQLite one instance serves and its in-memory pace is exact.
    pub fn for_store(store: &Store) -> Option<SharedPace> {
        (store.backend() == Backend::Postgres).then(|| SharedPace { store: store.clone() })
    }

    /// Reserves a slot on every lane and waits until all are due and none is held
    /// (a hold placed by another instance while this one waited is waited out too). A
    /// wait longer than `at_most` is not waited: `Err` says how long it would be.
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
