//! What the load generator measures, apart from what it drives: latency percentiles,
//! the CPU time of the service's threads (and of the database server's processes), the
//! peak resident memory, and the SQL statements and transactions the service runs.
//!
//! CPU time is read from `/proc` per thread (`schedstat`, in nanoseconds): the service
//! runs on a runtime of its own whose threads are named [`SERVICE_THREADS`], SQLite's
//! connection workers are named by sqlx, and PostgreSQL's backends are processes named
//! `postgres`. The load generator, the stand-ins and the clients run on other threads,
//! so their work is not counted against the service.
//!
//! Statements are counted from sqlx's own statement log (target `sqlx::query`), which
//! the counting layer listens to only while counting is switched on; transactions from
//! the store's counter. `BEGIN` and `COMMIT` are round trips the log does not show on
//! SQLite, so each transaction adds two.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// The name of the service runtime's threads.
pub const SERVICE_THREADS: &str = "hb-service";

/// Latency percentiles of a set of samples.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub count: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    pub fn of(mut samples: Vec<Duration>, elapsed: Duration) -> Summary {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Summary {
            count: samples.len(),
            elapsed,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// `p50 1.20 ms  p95 …  p99 …  max …`.
    pub fn latencies(&self) -> String {
        format!(
            "p50 {:>6.2}  p95 {:>6.2}  p99 {:>6.2}  max {:>7.2} ms",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time so far: the service's threads (SQLite's workers included) and the
/// database server's processes (PostgreSQL's backends; none for SQLite).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub service: Duration,
    pub database: Duration,
}

impl Cpu {
    pub fn now() -> Cpu {
        let mut service = 0u64;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let path = task.path();
                let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                let name = name.trim();
                if name.starts_with(SERVICE_THREADS) || name.starts_with("sqlx-sqlite") {
                    service += schedstat(&path);
                }
            }
        }
        let mut database = 0u64;
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let path = p.path();
                let is_pid = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
                if is_pid && std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres") {
                    database += schedstat(&path);
                }
            }
        }
        Cpu {
            service: Duration::from_nanos(service),
            database: Duration::from_nanos(database),
        }
    }

    /// The CPU time spent since `earlier`, both parts together.
    pub fn since(&self, earlier: Cpu) -> Duration {
        (self.service + self.database).saturating_sub(earlier.service + earlier.database)
    }
}

/// Time on CPU of a thread or process, in nanoseconds (the first field of `schedstat`).
fn schedstat(dir: &std::path::Path) -> u64 {
    std::fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The process's peak resident set so far, in MiB (`VmHWM`).
pub fn peak_rss_mib() -> f64 {
    memory_mib("self", "VmHWM:")
}

/// A process's peak RSS (`VmHWM`) and RSS now (`VmRSS`), in MiB.
pub fn rss_of(pid: u32) -> (f64, f64) {
    let pid = pid.to_string();
    (memory_mib(&pid, "VmHWM:"), memory_mib(&pid, "VmRSS:"))
}

/// A `kB` field of `/proc/<pid>/status`, in MiB (0 when there is none).
fn memory_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next().and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The statements sqlx ran while counting was on, by their SQL.
#[derive(Default)]
pub struct Statements {
    on: AtomicBool,
    total: AtomicU64,
    by_sql: Mutex<HashMap<String, u64>>,
}

/// What one counting window saw.
#[derive(Debug, Clone, Default)]
pub struct Counted {
    pub statements: u64,
    pub transactions: u64,
    /// (SQL, how many times), most frequent first.
    pub by_sql: Vec<(String, u64)>,
}

impl Counted {
    /// Statements plus each transaction's `BEGIN` and `COMMIT`.
    pub fn round_trips(&self) -> u64 {
        self.statements + 2 * self.transactions
    }
}

impl Statements {
    /// Installs the counting layer as the process's subscriber (nothing else is logged:
    /// the load generator prints its own report). Returns `None` if a subscriber was
    /// already installed.
    pub fn install() -> Option<&'static Statements> {
        let counter: &'static Statements = Box::leak(Box::default());
        tracing::subscriber::set_global_default(Registry::default().with(Counting(counter)))
            .ok()
            .map(|_| counter)
    }

    /// Counts from now until [`Self::stop`].
    pub fn start(&self) -> (u64, u64) {
        self.by_sql.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.on.store(true, Ordering::SeqCst);
        (self.total.load(Ordering::SeqCst), crate::store::transactions_begun())
    }

    pub fn stop(&self, started: (u64, u64)) -> Counted {
        self.on.store(false, Ordering::SeqCst);
        let mut by_sql: Vec<(String, u64)> = self.by_sql.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        by_sql.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Counted {
            statements: self.total.load(Ordering::SeqCst) - started.0,
            transactions: crate::store::transactions_begun() - started.1,
            by_sql,
        }
    }
}

struct Counting(&'static Statements);

impl<S: tracing::Subscriber> Layer<S> for Counting {
    /// Only sqlx's statements, and those asked about at every statement, so that sqlx
    /// formats nothing while counting is off.
    fn register_callsite(&self, m: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        if m.target() == "sqlx::query" {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, m: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.0.on.load(Ordering::Relaxed) && m.target() == "sqlx::query"
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if !self.0.on.load(Ordering::Relaxed) {
            return;
        }
        let mut sql = SqlOf::default();
        event.record(&mut sql);
        let text = if sql.statement.trim().is_empty() {
            sql.summary
        } else {
            sql.statement
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = text.split(' ').next().unwrap_or_default().to_ascii_lowercase();
        // Transactions are counted by the store: the log shows their BEGIN and COMMIT on
        // PostgreSQL only.
        if matches!(first.as_str(), "begin" | "commit" | "rollback") {
            return;
        }
        self.0.total.fetch_add(1, Ordering::Relaxed);
        let key: String = text.chars().take(90).collect();
        *self
            .0
            .by_sql
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }
}

/// The `summary` and `db.statement` fields of a sqlx statement event.
#[derive(Default)]
struct SqlOf {
    summary: String,
    statement: String,
}

impl tracing::field::Visit for SqlOf {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "summary" => self.summary = format!("{value:?}").trim_matches('"').to_owned(),
            "db.statement" => self.statement = format!("{value:?}").trim_matches('"').to_owned(),
            _ => {}
        }
    }
}
