//! The test harness: a fresh database per test (a SQLite file, or a new PostgreSQL
//! database on the server `TEST_DATABASE_URL` names), the real service on port 0 against the
//! widget platform stand-in, and one method per API call.

use handoff_bridge::config::Settings;
use handoff_bridge::standins::widget::{WidgetClient, WidgetPlatform};
use handoff_bridge::startup::Application;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const WIDGET_SECRET: &str = "test-widget-secret";
/// How long a test waits for something to happen before failing.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Runs one test body on SQLite and on PostgreSQL. The PostgreSQL variant needs
/// `TEST_DATABASE_URL` when the tests are built (see `build.rs`): without it, it is
/// marked ignored, and cargo's summary counts it as such; with it, it runs, and fails if
/// the database cannot be reached.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($db: $crate::helpers::Db) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    run($crate::helpers::Db::sqlite()).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(test_database_url), ignore = "PostgreSQL: set TEST_DATABASE_URL")]
                async fn postgres() {
                    run($crate::helpers::Db::postgres().await).await
                }
            }
        )*
    };
}

/// A database of the test's own: a SQLite file in a temporary directory, or a
/// PostgreSQL database that is dropped again when the test ends.
pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// The admin URL and the name of a PostgreSQL database to drop.
    postgres: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let pool = AnyPool::connect(&admin).await.ok()?;
                let res = sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(&pool)
                    .await;
                pool.close().await;
                res.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: a test database was left behind");
        }
    }
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/handoff.db", dir.path().display());
        Db {
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A new database on the PostgreSQL server `TEST_DATABASE_URL` names; fails the test
    /// if that is not set or the server cannot be reached.
    pub async fn postgres() -> Db {
        let admin = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .expect("TEST_DATABASE_URL names the PostgreSQL server to test on (it was set when the tests were built)");
        let name = format!("hb_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"));
        sqlx::query(&format!("create database {name}"))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Db {
            url: format!("{base}/{name}"),
            _dir: None,
            postgres: Some((admin.clone(), name)),
        }
    }

    pub async fn pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url).await.expect("connect to the test database")
    }
}

/// A running service and what surrounds it.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub widget: WidgetPlatform,
    pub client: WidgetClient,
    pub pool: AnyPool,
    pub env: HashMap<String, String>,
    /// Faults to inject into the service's outbox worker.
    pub outbox_faults: std::sync::Arc<handoff_bridge::outbox::Faults>,
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A stopped service: its widget stand-in and settings, to start it again.
pub struct Stopped {
    pub widget: WidgetPlatform,
    env: HashMap<String, String>,
}

impl Stopped {
    pub async fn start(self, db: &Db) -> TestApp {
        TestApp::start(db, self.widget, self.env).await
    }
}

/// The environment a test service runs with.
pub fn test_env(db: &Db, widget: &WidgetPlatform) -> HashMap<String, String> {
    [
        ("DATABASE_URL", db.url.clone()),
        ("HANDOFF_LISTEN", "127.0.0.1:0".into()),
        ("HANDOFF_ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ("HANDOFF_WIDGET_SECRET", WIDGET_SECRET.into()),
        ("HANDOFF_WIDGET_API_URL", widget.url()),
        ("HANDOFF_OUTBOX_BACKOFF_MIN_MS", "20".into()),
        ("HANDOFF_OUTBOX_BACKOFF_MAX_MS", "200".into()),
        ("HANDOFF_OUTBOX_LEASE_MS", "2500".into()),
        ("HANDOFF_MAX_BODY_BYTES", "65536".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl TestApp {
    /// Waits until this instance's outbox has delivered everything queued so far.
    pub async fn settle(&self) {
        eventually("the outbox to drain", || async {
            let open = self
                .count("select count(*) from outbox where status in ('pending', 'inflight')")
                .await;
            (open == 0).then_some(())
        })
        .await;
    }

    /// The texts of the operators' replies the widget platform got, in order.
    pub fn visitor_replies(&self) -> Vec<String> {
        self.widget
            .delivered()
            .iter()
            .filter(|c| c.kind.as_deref() == Some("messages"))
            .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn spawn(db: &Db) -> TestApp {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the service with extra environment settings.
    pub async fn spawn_with(db: &Db, extra: &[(&str, &str)]) -> TestApp {
        let widget = WidgetPlatform::start(WIDGET_SECRET).await;
        let mut env = test_env(db, &widget);
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Self::start(db, widget, env).await
    }

    /// Starts the service with a TOML configuration file as well.
    pub async fn spawn_with_config(db: &Db, toml: &str) -> TestApp {
        Self::launch(db, &[], Some(toml)).await
    }

    /// Starts the service with extra environment settings and an optional config file.
    pub async fn launch(db: &Db, extra: &[(&str, &str)], toml: Option<&str>) -> TestApp {
        let widget = WidgetPlatform::start(WIDGET_SECRET).await;
        let mut env = test_env(db, &widget);
        for (k, v) in extra {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        if let Some(toml) = toml {
            let path =
                std::env::temp_dir().join(format!("handoff-test-{}.toml", hex::encode(rand::random::<[u8; 6]>())));
            std::fs::write(&path, toml).expect("write the config file");
            env.insert("HANDOFF_CONFIG".into(), path.display().to_string());
        }
        Self::start(db, widget, env).await
    }

    async fn start(db: &Db, widget: WidgetPlatform, env: HashMap<String, String>) -> TestApp {
        let config = env.get("HANDOFF_CONFIG").map(std::path::PathBuf::from);
        let settings =
            Settings::load_with(config.as_deref(), &|k| env.get(k).cloned()).expect("test settings are valid");
        let app = Application::build(settings).await.expect("the service starts");
        let base = format!("http://{}", app.local_addr());
        let outbox_faults = app.outbox_faults();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let client = WidgetClient::new(&base, WIDGET_SECRET);
        TestApp {
            base,
            http,
            widget,
            client,
            pool: db.pool().await,
            env,
            outbox_faults,
            stop,
            handle,
        }
    }

    /// Stops the service gracefully and starts it again on the same database and stand-in.
    pub async fn restart(self, db: &Db) -> TestApp {
        self.restart_after(db, || {}).await
    }

    /// [`TestApp::restart`], doing `meanwhile` while the service is stopped.
    pub async fn restart_after(self, db: &Db, meanwhile: impl FnOnce()) -> TestApp {
        let stopped = self.stop().await;
        meanwhile();
        stopped.start(db).await
    }

    /// Stops the service gracefully (as on SIGTERM), keeping what it needs to start again.
    pub async fn stop(self) -> Stopped {
        let TestApp {
            widget,
            env,
            stop,
            handle,
            ..
        } = self;
        stop.cancel();
        handle.await.expect("service task").expect("service stopped cleanly");
        Stopped { widget, env }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with a bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// Creates an operator through the API (as admin) and a token for them.
    pub async fn operator(&self, name: &str, role: &str) -> Operator {
        let (s, o) = self
            .post("/v1/operators", ADMIN_TOKEN, json!({"name": name, "role": role}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create operator: {o}");
        let id = o["id"].as_i64().unwrap();
        let (s, t) = self
            .post(&format!("/v1/operators/{id}/tokens"), ADMIN_TOKEN, json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create token: {t}");
        Operator {
            id,
            name: name.to_owned(),
            token: t["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends a handoff for `conversation` on `widget` and checks it was accepted.
    pub async fn handoff(&self, conversation: &str, widget: &str) -> Value {
        let res = self
            .client
            .send(&WidgetClient::handoff_event(conversation, widget))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        self.conversation(conversation).await
    }

    pub async fn conversation(&self, id: &str) -> Value {
        let (s, c) = self.get(&format!("/v1/conversations/{id}"), ADMIN_TOKEN).await;
        assert_eq!(s, StatusCode::OK, "get conversation: {c}");
        c
    }

    pub async fn set_routing(&self, widget: &str, routing: &str, eligible: Option<&[i64]>) {
        let mut body = json!({"routing": routing});
        if let Some(e) = eligible {
            body["eligible"] = json!(e);
        }
        let (s, w) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/widgets/{widget}"),
                ADMIN_TOKEN,
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "set routing: {w}");
    }

    /// Makes sure the widget exists (a first handoff creates it) with the given routing.
    pub async fn widget_with_routing(&self, widget: &str, routing: &str) {
        self.handoff(&format!("{widget}-seed"), widget).await;
        self.set_routing(widget, routing, None).await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count query")
    }
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// Polls `check` until it returns `Some`, or fails after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// A client of `GET /v1/events`, reading whole server-sent events off the stream.
pub struct EventStream {
    res: reqwest::Response,
    buf: Vec<u8>,
    /// Every event read so far, as (event name, data), for failure messages.
    pub seen: Vec<(String, String)>,
}

impl EventStream {
    /// Connects with `token`; the subscription is in place once this returns.
    pub async fn open(app: &TestApp, token: &str) -> EventStream {
        let res = app
            .http
            .get(app.url("/v1/events"))
            .bearer_auth(token)
            .send()
            .await
            .expect("connect to the event stream");
        assert_eq!(res.status(), StatusCode::OK);
        let content_type = res.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        EventStream {
            res,
            buf: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Reads events until an `event` whose JSON data satisfies `want`, and returns that
    /// data. Fails if the stream ends, breaks or [`DEADLINE`] passes first.
    pub async fn wait_for(&mut self, what: &str, event: &str, want: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(DEADLINE, async {
            loop {
                let (name, data) = self.next_event().await?;
                if name == event {
                    let v: Value = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("`{event}` data is not JSON ({e}): {data}"));
                    if want(&v) {
                        return Ok::<Value, String>(v);
                    }
                }
            }
        })
        .await;
        match found {
            Ok(Ok(v)) => v,
            Ok(Err(why)) => panic!("{why} before {what}; events seen: {:?}", self.seen),
            Err(_) => panic!("timed out waiting for {what}; events seen: {:?}", self.seen),
        }
    }

    /// The next event with data (comments and keep-alives are passed over).
    async fn next_event(&mut self) -> Result<(String, String), String> {
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let block = String::from_utf8(block).map_err(|e| format!("the stream is not UTF-8: {e}"))?;
                let mut name = "message".to_owned();
                let mut data: Vec<&str> = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim_start().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !data.is_empty() {
                    let event = (name, data.join("\n"));
                    self.seen.push(event.clone());
                    return Ok(event);
                }
            }
            match self.res.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) => return Err("the stream ended".into()),
                Err(e) => return Err(format!("the stream broke ({e})")),
            }
        }
    }
}
