//! Work one instance at a time must do, such as holding a Discord gateway shard: two
//! connections for one shard would each take its events, or take them from each other.
//! On PostgreSQL a named advisory lock, held on a connection of its own, says which
//! instance; when that instance dies its connection closes, the lock is free, and
//! another instance takes the work over. On SQLite one instance serves, and owns all.

use super::{Service, ServiceError};
use crate::store::{Backend, Held};
use std::time::Duration;

/// How often an owner checks that its lock's connection still answers.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The right to do one piece of work, until released or lost.
pub enum Ownership {
    /// The only instance (SQLite).
    Sole,
    /// An advisory lock on PostgreSQL.
    Locked(Held),
}

impl Ownership {
    /// Completes when ownership is lost: the lock's connection stopped answering, so
    /// another instance may own the work now. Never, for the only instance.
    pub async fn lost(&mut self) {
        match self {
            Ownership::Sole => std::future::pending().await,
            Ownership::Locked(held) => loop {
                tokio::time::sleep(CHECK_EVERY).await;
                if !held.alive().await {
                    tracing::warn!("lost the database connection that holds a lock; giving the work up");
                    return;
                }
            },
        }
    }

    /// Gives the work up, for another instance to take.
    pub async fn release(self) {
        if let Ownership::Locked(held) = self {
            held.release().await;
        }
    }
}

impl Service {
    /// Takes the work named `name` if no other instance has it; `None` when one does.
    pub async fn try_own(&self, name: &str) -> Result<Option<Ownership>, ServiceError> {
        if self.store().backend() == Backend::Sqlite {
            return Ok(Some(Ownership::Sole));
        }
        Ok(self.store().try_hold(name).await?.map(Ownership::Locked))
    }
}
