//! Storage: one SQL text per query, run on SQLite or PostgreSQL through sqlx's `Any`
//! driver, picked by the database URL's scheme. Row types live next to their queries;
//! nothing here decides anything — the engine decides and the service writes.
//!
//! Writes go through [`Store::write`]: one transaction, and on SQLite (one writer at a
//! time anyway) an in-process lock taken first, so concurrent writers queue in memory
//! instead of spinning in SQLite's busy handler; `BEGIN IMMEDIATE` keeps other processes
//! out too.

pub mod audit;
pub mod conversations;
pub mod files;
pub mod identities;
pub mod inbound;
pub mod link_codes;
pub mod operators;
pub mod outbox;
pub mod pace;
pub mod refs;
pub mod teams;
pub mod timers;
pub mod tokens;
pub mod widgets;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: serialises this process's write transactions.
    write_lock: Option<Arc<Mutex<()>>>,
}

/// A write transaction (and, on SQLite, the write lock). Dropped without
/// [`Tx::commit`], it rolls back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// Write transactions begun by this process, for the load generator's counts (each is
/// two round trips besides its statements: `BEGIN` and `COMMIT`).
static TRANSACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many write transactions this process has begun.
pub fn transactions_begun() -> u64 {
    TRANSACTIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// `$first, $first+1, …`: the `n` placeholders of one row of a multi-row insert.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|k| format!("${k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Epoch milliseconds, the time type of every table.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connects (creating a SQLite file if needed) and applies the migrations.
    /// For a SQLite file, an exclusive lock that one serving instance holds for as long
    /// as it runs: SQLite's writes are serialised inside one process, so a second process
    /// on the same file is refused with a clear message (several instances need
    /// PostgreSQL). `None` for PostgreSQL and in-memory databases.
    pub fn lock_sqlite_file(url: &str) -> anyhow::Result<Option<std::fs::File>> {
        let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
            return Ok(None);
        };
        let path = rest.split('?').next().unwrap_or(rest);
        if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
            return Ok(None);
        }
        let lock_path = format!("{path}.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| anyhow::anyhow!("cannot open {lock_path}: {e}"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
                "another handoff-bridge is already serving the SQLite database {path}: SQLite allows one \
                 instance; to run several, use PostgreSQL (DATABASE_URL=postgres://…)"
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!("cannot lock {lock_path}: {e}")),
        }
    }

    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        let store = Store {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    /// Begins a write transaction.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.write_lock {
            Some(lock) => {
                let guard = lock.clone().lock_owned().await;
                Ok(Tx {
                    tx: self.begin(Some("BEGIN IMMEDIATE")).await?,
                    _guard: Some(guard),
                })
            }
            None => Ok(Tx {
                tx: self.begin(None).await?,
                _guard: None,
            }),
        }
    }

    /// Opens a transaction in a task of its own, so that a caller cancelled meanwhile (a
    /// timeout, a dropped request) cannot leave its connection inside a transaction
    /// nobody tracks. sqlx counts a transaction as open only once `BEGIN` has been
    /// answered: on PostgreSQL a `begin()` cancelled in between returns the connection
    /// to the pool mid-transaction, and what the next borrowers write on it is lost when
    /// it closes. Spawned, the `BEGIN` always completes; when nobody waits for it any
    /// more, the transaction is dropped there, which rolls it back.
    async fn begin(
        &self,
        statement: Option<&'static str>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let pool = self.pool.clone();
        let begun = tokio::spawn(async move {
            match statement {
                Some(s) => pool.begin_with(s).await,
                None => pool.begin().await,
            }
        });
        begun
            .await
            .map_err(|e| sqlx::Error::Io(std::io::Error::other(format!("opening a transaction failed: {e}"))))?
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// `SELECT 1`, for readiness.
    pub async fn ping(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// A PostgreSQL session-level advisory lock, held on a connection of its own for as
/// long as this lives (see [`Store::try_hold`]). When the process dies, its connection
/// closes and the lock goes with it.
pub struct Held {
    conn: AnyConnection,
    key: i64,
}

impl Held {
    /// Whether the lock's connection still answers (if not, another instance may hold it).
    pub async fn alive(&mut self) -> bool {
        sqlx::query("select 1").execute(&mut self.conn).await.is_ok()
    }

    /// Gives the lock up.
    pub async fn release(mut self) {
        let _ = sqlx::query("select pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut self.conn)
            .await;
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

/// A lock key for a name: FNV-1a, stable across builds and instances.
fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl Store {
    /// On PostgreSQL, takes the advisory lock named `name` if no other session holds it:
    /// `None` when another does. On SQLite (one instance) there is nothing to share:
    /// `Err` is never returned for that, callers check [`Store::backend`] first.
    pub async fn try_hold(&self, name: &str) -> Result<Option<Held>, sqlx::Error> {
        let key = lock_key(name);
        let mut conn = self.pool.acquire().await?.detach();
        let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(Held { conn, key }))
        } else {
            let _ = sqlx::Connection::close(conn).await;
            Ok(None)
        }
    }
}

/// Whether a database error is a unique-constraint violation (mapped to 409 at the edge).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
