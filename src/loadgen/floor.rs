//! The floor the load generator compares every result with: an HTTP server on the
//! service's threads whose one route runs one database transaction of a handoff's size —
//! a conversation, two transcript lines, two audit rows and three outbox rows, eight
//! single-row inserts — with sqlx's own driver for the database (no `Any` layer, no
//! engine, no rendering) and answers 200. What a handoff costs beyond this is the
//! bridge's own overhead.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

const TABLES: [&str; 4] = ["floor_conversations", "floor_lines", "floor_audit", "floor_outbox"];

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

pub struct Floor {
    url: String,
    pool: Pool,
    stop: tokio_util::sync::CancellationToken,
    serving: tokio::task::JoinHandle<()>,
}

fn ddl() -> Vec<String> {
    vec![
        "create table if not exists floor_conversations (id text primary key, widget_id text not null, \
         status text not null, visitor_name text, summary text, version bigint not null, created_at bigint not null)"
            .into(),
        "create table if not exists floor_lines (conversation_id text not null, author text not null, \
         text text not null, at bigint not null)"
            .into(),
        "create table if not exists floor_audit (conversation_id text not null, version bigint not null, \
         reason text not null, at bigint not null)"
            .into(),
        "create table if not exists floor_outbox (target text not null, kind text not null, ordering_key text not null, \
         payload text not null, idempotency_key text not null unique, status text not null, \
         next_attempt_at bigint not null, created_at bigint not null)"
            .into(),
    ]
}

/// The eight inserts, in order: (SQL, text arguments, the number argument).
fn inserts(id: &str, text: &str, now: i64) -> Vec<(&'static str, Vec<String>, i64)> {
    let payload = format!("{{\"conversation\":\"{id}\",\"text\":\"{text}\"}}");
    let mut out: Vec<(&'static str, Vec<String>, i64)> = vec![(
        "insert into floor_conversations (id, widget_id, status, visitor_name, summary, version, created_at) \
         values ($1, $2, $3, $4, $5, 1, $6)",
        vec![
            id.into(),
            "bench".into(),
            "handed_off".into(),
            "Ada".into(),
            text.into(),
        ],
        now,
    )];
    for line in ["Hi", "Hello! How can I help?"] {
        out.push((
            "insert into floor_lines (conversation_id, author, text, at) values ($1, $2, $3, $4)",
            vec![id.into(), "visitor".into(), line.into()],
            now,
        ));
    }
    for reason in ["handoff", "route"] {
        out.push((
            "insert into floor_audit (conversation_id, reason, version, at) values ($1, $2, 1, $3)",
            vec![id.into(), reason.into()],
            now,
        ));
    }
    for target in ["slack", "discord", "widget"] {
        out.push((
            "insert into floor_outbox (target, kind, ordering_key, payload, idempotency_key, status, next_attempt_at, \
             created_at) values ($1, $2, $3, $4, $5, 'pending', $6, $6)",
            vec![
                target.into(),
                "open_thread".into(),
                id.into(),
                payload.clone(),
                format!("{target}:{id}"),
            ],
            now,
        ));
    }
    out
}

impl Pool {
    async fn connect(url: &str) -> anyhow::Result<Pool> {
        if url.starts_with("sqlite:") {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
            use std::str::FromStr;
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10));
            // One writer, as SQLite allows.
            Ok(Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?,
            ))
        } else {
            Ok(Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .connect(url)
                    .await?,
            ))
        }
    }

    async fn execute_all(&self, statements: &[String]) -> anyhow::Result<()> {
        for s in statements {
            match self {
                Pool::Sqlite(p) => sqlx::query(s).execute(p).await.map(|_| ())?,
                Pool::Postgres(p) => sqlx::query(s).execute(p).await.map(|_| ())?,
            }
        }
        Ok(())
    }

    async fn handoff(&self, id: &str, text: &str) -> Result<(), sqlx::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        macro_rules! run {
            ($pool:expr, $begin:expr) => {{
                let mut tx = $begin?;
                for (sql, texts, number) in inserts(id, text, now) {
                    let mut q = sqlx::query(sql);
                    for t in texts {
                        q = q.bind(t);
                    }
                    q.bind(number).execute(&mut *tx).await?;
                }
                tx.commit().await
            }};
        }
        match self {
            Pool::Sqlite(p) => run!(p, p.begin_with("BEGIN IMMEDIATE").await),
            Pool::Postgres(p) => run!(p, p.begin().await),
        }
    }
}

async fn handle(State(pool): State<Pool>, body: axum::Json<Value>) -> StatusCode {
    let id = body["id"].as_str().unwrap_or_default();
    let text = body["text"].as_str().unwrap_or_default();
    match pool.handoff(id, text).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl Floor {
    /// Creates the floor's tables (emptied) and serves on `runtime`.
    pub async fn start(runtime: &tokio::runtime::Handle, database_url: &str) -> anyhow::Result<Floor> {
        let url = database_url.to_owned();
        let (pool, listener) = runtime
            .spawn(async move {
                let pool = Pool::connect(&url).await?;
                let drop_all: Vec<String> = TABLES.iter().map(|t| format!("drop table if exists {t}")).collect();
                pool.execute_all(&drop_all).await?;
                pool.execute_all(&ddl()).await?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                anyhow::Ok((pool, listener))
            })
            .await??;
        let url = format!("http://{}/floor", listener.local_addr()?);
        let stop = tokio_util::sync::CancellationToken::new();
        let app = axum::Router::new()
            .route("/floor", post(handle))
            .with_state(pool.clone());
        let stopped = stop.clone();
        let serving = runtime.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        Ok(Floor {
            url,
            pool,
            stop,
            serving,
        })
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops serving and drops the floor's tables.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.serving.await;
        let drop_all: Vec<String> = TABLES.iter().map(|t| format!("drop table if exists {t}")).collect();
        let _ = self.pool.execute_all(&drop_all).await;
        match self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}
