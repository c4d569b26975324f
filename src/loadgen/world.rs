//! The load generator's world: the service on a runtime of its own, pointed at the Slack,
//! Discord and widget platform stand-ins (which enforce no rate limits, and the bridge
//! keeps none towards Slack), with a cast of operators linked on both platforms and two
//! widgets, `bench` (round-robin) and `race` (manual), posting to one Slack channel and
//! one Discord channel.
//!
//! A watcher takes the calls the stand-ins receive as they come and files each under the
//! conversation it names, with the time the stand-in received it; drivers wait on that.

use super::measure::SERVICE_THREADS;
use crate::config::{Seed, Settings};
use crate::outbox::Faults;
use crate::standins::discord::DiscordStandIn;
use crate::standins::slack::{SlackSender, SlackStandIn};
use crate::standins::widget::{WidgetClient, WidgetPlatform};
use crate::startup::Application;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const SLACK_TOKEN: &str = "xoxb-bench-bot-token";
const SLACK_SECRET: &str = "bench-slack-signing-secret";
const DISCORD_TOKEN: &str = "bench-discord-bot-token";
const WIDGET_SECRET: &str = "bench-widget-secret";
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
pub const SLACK_CHANNEL: &str = "C0BENCH";
const DISCORD_GUILD: u64 = 930_000_000_000_000_001;
pub const DISCORD_CHANNEL: u64 = 930_000_000_000_000_010;
const DISCORD_USERS: u64 = 931_000_000_000_000_000;

/// One call a stand-in received, filed under the conversation it names.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `slack.root`, `slack.line`, `slack.dm`, `slack.update`, `slack.ephemeral`,
    /// `discord.root`, `discord.post`, `discord.dm`, `discord.edit`, `widget.<kind>`, …
    pub kind: String,
    pub at: Instant,
    /// The Slack message's ts (from the answer), for posts.
    pub ts: Option<String>,
}

/// Calls filed by conversation, and those that name none.
#[derive(Default)]
pub struct Filed {
    pub by_conversation: HashMap<String, Vec<Seen>>,
    /// Calls naming no conversation, by kind (ephemerals, DMs, …).
    pub unnamed: HashMap<String, u64>,
}

pub struct World {
    pub slack: SlackStandIn,
    pub sender: SlackSender,
    pub client: WidgetClient,
    pub database_url: String,
    /// Slack user ids of the operators, in seeding order.
    pub operators: Vec<String>,
    /// The prefix of every conversation id this run hands off.
    pub prefix: String,
    pub faults: Arc<Faults>,
    pub filed: Arc<Mutex<Filed>>,
    pub changed: Arc<Notify>,
    running: Option<Running>,
    watcher: tokio::task::JoinHandle<()>,
}

/// Where the service under measure runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// On a runtime of its own in the bench's process, so its CPU time is counted apart.
    InProcess,
    /// In a process of its own (`handoff-bridge bench-service`), so its memory is its own.
    Process,
}

enum Running {
    InProcess {
        stop: CancellationToken,
        runtime: tokio::runtime::Runtime,
        serving: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
    Process {
        child: tokio::process::Child,
        /// The directory of the seed file the child reads, removed when it stops.
        dir: std::path::PathBuf,
    },
}

impl World {
    pub async fn start(database_url: &str, operators: usize, host: Host) -> anyhow::Result<World> {
        let slack = SlackStandIn::start(SLACK_TOKEN).await;
        slack.add_channel(SLACK_CHANNEL, "bench", true);
        let discord = DiscordStandIn::start(DISCORD_TOKEN).await;
        discord.add_guild(DISCORD_GUILD, "Bench");
        discord.add_text_channel(DISCORD_GUILD, DISCORD_CHANNEL, "handoffs");
        let widget = WidgetPlatform::start(WIDGET_SECRET).await;
        let mut toml = String::new();
        let mut slack_ids = Vec::new();
        for i in 0..operators.max(1) {
            let slack_id = format!("U0B{i:05}");
            let discord_id = DISCORD_USERS + i as u64;
            slack.add_user(&slack_id, &format!("op{i}"), &format!("Operator {i}"), false, false);
            discord.add_user(discord_id, &format!("op{i}"), true);
            toml.push_str(&format!(
                "[[operators]]\nkey = \"bench-{i}\"\nname = \"Operator {i}\"\nslack_user_id = \"{slack_id}\"\n\
                 discord_user_id = \"{discord_id}\"\n\n"
            ));
            slack_ids.push(slack_id);
        }
        for (id, routing) in [("bench", "round-robin"), ("race", "manual")] {
            toml.push_str(&format!(
                "[[widgets]]\nid = \"{id}\"\nrouting = \"{routing}\"\nslack_channel = \"{SLACK_CHANNEL}\"\n\
                 discord_channel = \"{DISCORD_CHANNEL}\"\n\n"
            ));
        }
        let env: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", database_url.to_owned()),
            ("HANDOFF_ADMIN_TOKEN", ADMIN_TOKEN.into()),
            ("HANDOFF_WIDGET_SECRET", WIDGET_SECRET.into()),
            ("HANDOFF_WIDGET_API_URL", widget.url()),
            ("HANDOFF_SLACK_BOT_TOKEN", SLACK_TOKEN.into()),
            ("HANDOFF_SLACK_SIGNING_SECRET", SLACK_SECRET.into()),
            ("HANDOFF_SLACK_API_URL", slack.api_url()),
            ("HANDOFF_DISCORD_BOT_TOKEN", DISCORD_TOKEN.into()),
            (
                "HANDOFF_DISCORD_APPLICATION_ID",
                DiscordStandIn::APPLICATION_ID.to_string(),
            ),
            ("HANDOFF_DISCORD_API_URL", discord.api_url()),
        ]);
        let (running, addr, faults) = match host {
            Host::InProcess => in_process(&env, &toml).await?,
            Host::Process => in_a_process(env, &toml).await?,
        };
        let base = format!("http://{addr}");
        let prefix = format!("bench{}c", hex::encode(rand::random::<[u8; 3]>()));
        let filed: Arc<Mutex<Filed>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let watcher = tokio::spawn(watch(
            slack.clone(),
            discord.clone(),
            widget.clone(),
            prefix.clone(),
            filed.clone(),
            changed.clone(),
        ));
        Ok(World {
            sender: slack.sender(&base, SLACK_SECRET),
            client: WidgetClient::new(&base, WIDGET_SECRET),
            slack,
            database_url: database_url.to_owned(),
            operators: slack_ids,
            prefix,
            faults,
            filed,
            changed,
            running: Some(running),
            watcher,
        })
    }

    /// The id of the `i`-th conversation of a scenario (`scenario` is one letter).
    pub fn conversation(&self, scenario: char, i: usize) -> String {
        format!("{}{scenario}{i:06}", self.prefix)
    }

    /// Waits until `done` holds for what was seen of `conversation`, then returns its
    /// answer; fails after `deadline`.
    pub async fn until<T>(
        &self,
        conversation: &str,
        deadline: Duration,
        done: impl Fn(&[Seen]) -> Option<T>,
    ) -> anyhow::Result<T> {
        let give_up = Instant::now() + deadline;
        loop {
            let changed = self.changed.notified();
            {
                let filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
                let seen = filed
                    .by_conversation
                    .get(conversation)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                if let Some(t) = done(seen) {
                    return Ok(t);
                }
            }
            if tokio::time::timeout_at(give_up.into(), changed).await.is_err() {
                let filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
                let seen: Vec<&str> = filed
                    .by_conversation
                    .get(conversation)
                    .map(|v| v.iter().map(|s| s.kind.as_str()).collect())
                    .unwrap_or_default();
                anyhow::bail!("{conversation}: gave up after {deadline:?}; the stand-ins saw {seen:?}");
            }
        }
    }

    /// Forgets what was seen (between scenarios, so the maps stay small).
    pub fn forget(&self) {
        let mut filed = self.filed.lock().unwrap_or_else(|e| e.into_inner());
        *filed = Filed::default();
    }

    /// A connection pool of the load generator's own on the service's database, for
    /// counting rows; its statements are not logged, so the counts leave them out.
    pub async fn pool(&self) -> anyhow::Result<sqlx::AnyPool> {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        sqlx::any::install_default_drivers();
        let options = sqlx::any::AnyConnectOptions::from_str(&self.database_url)?.disable_statement_logging();
        Ok(sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?)
    }

    /// The service's runtime, for the floor to run on the same threads (`None` when the
    /// service runs in a process of its own).
    pub fn runtime(&self) -> Option<tokio::runtime::Handle> {
        match &self.running {
            Some(Running::InProcess { runtime, .. }) => Some(runtime.handle().clone()),
            _ => None,
        }
    }

    /// The service's process id, when it runs in a process of its own.
    pub fn service_pid(&self) -> Option<u32> {
        match &self.running {
            Some(Running::Process { child, .. }) => child.id(),
            _ => None,
        }
    }

    /// Stops the service (and its runtime or process).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.watcher.abort();
        match self.running.take() {
            Some(Running::InProcess { stop, runtime, serving }) => {
                stop.cancel();
                let served = serving.await.map_err(anyhow::Error::from).and_then(|r| r);
                runtime.shutdown_background();
                served
            }
            Some(Running::Process { mut child, dir }) => {
                let _ = std::fs::remove_dir_all(&dir);
                child.kill().await?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The service on a runtime of its own, with Slack's and Discord's pacing off.
async fn in_process(
    env: &HashMap<&str, String>,
    seed: &str,
) -> anyhow::Result<(Running, std::net::SocketAddr, Arc<Faults>)> {
    let mut settings = Settings::load_with(None, &|k| match k {
        "HANDOFF_LISTEN" => Some("127.0.0.1:0".into()),
        _ => env.get(k).cloned(),
    })
    .map_err(|problems| {
        let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!("bad configuration: {}", all.join("; "))
    })?;
    let seed: Seed = toml::from_str(seed)?;
    settings.seed = seed;
    unpace(&mut settings);

    // The service runs on threads of its own, so that its CPU time can be told apart
    // from the load generator's and the stand-ins'.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVICE_THREADS)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let stopped = stop.clone();
    let serving = runtime.spawn(async move {
        let app = match Application::build(settings).await {
            Ok(app) => app,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return Ok(());
            }
        };
        let _ = ready_tx.send(Ok((app.local_addr(), app.outbox_faults())));
        app.run_until_stopped(stopped.cancelled_owned()).await
    });
    let (addr, faults) = ready.await??;
    Ok((Running::InProcess { stop, runtime, serving }, addr, faults))
}

/// Turns Slack's and Discord's own pacing off: the stand-ins enforce no limits, and the
/// bench measures the bridge, not the platforms' published rates. Only the bench does
/// this; the configuration always paces.
pub fn unpace(settings: &mut Settings) {
    if let Some(s) = settings.slack.as_mut() {
        s.paced = false;
    }
    if let Some(d) = settings.discord.as_mut() {
        d.paced = false;
    }
}

/// The service as `handoff-bridge bench-service` in a process of its own, configured
/// through its environment and a seed file; ready once its health check answers.
async fn in_a_process(
    mut env: HashMap<&str, String>,
    seed: &str,
) -> anyhow::Result<(Running, std::net::SocketAddr, Arc<Faults>)> {
    let dir = std::env::temp_dir().join(format!(
        "handoff-bench-service-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("seed.toml");
    std::fs::write(&config, seed)?;
    // A free port: the child binds it a moment later.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    env.insert("HANDOFF_LISTEN", addr.to_string());
    env.insert("HANDOFF_CONFIG", config.display().to_string());
    env.insert("RUST_LOG", "error".into());
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("bench-service")
        .env_clear()
        .envs(&env)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let health = format!("http://{addr}/healthz");
    let http = reqwest::Client::new();
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the service's process exited at start: {status}");
        }
        if http.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < give_up,
            "the service's process did not answer {health} in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((Running::Process { child, dir }, addr, Arc::default()))
}

/// Takes the stand-ins' calls every 2 ms and files them (by the time each stand-in
/// received them, so the polling adds nothing to the latencies measured).
async fn watch(
    slack: SlackStandIn,
    discord: DiscordStandIn,
    widget: WidgetPlatform,
    prefix: String,
    filed: Arc<Mutex<Filed>>,
    changed: Arc<Notify>,
) {
    // Slack roots by their permalink's `p…` (the ts without its dot): a DM names its
    // conversation only through the link to its thread.
    let mut roots: HashMap<String, String> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut batch: Vec<(Option<String>, Seen)> = Vec::new();
        for call in slack.take_answered_calls() {
            let text = call.args.to_string();
            let channel = call.args["channel"].as_str().unwrap_or_default();
            let kind = match call.method.as_str() {
                "chat.postMessage" if channel.starts_with('D') => "slack.dm",
                "chat.postMessage" if call.args["thread_ts"].is_string() => "slack.line",
                "chat.postMessage" => "slack.root",
                "chat.update" => "slack.update",
                "chat.postEphemeral" => "slack.ephemeral",
                other => other,
            };
            let ts = call.response["ts"].as_str().map(str::to_owned);
            let mut conversation = find(&text, &prefix);
            match (kind, &conversation, &ts) {
                ("slack.root", Some(c), Some(ts)) => {
                    roots.insert(ts.replace('.', ""), c.clone());
                }
                ("slack.dm", None, _) => {
                    conversation = text.find("/p").and_then(|at| {
                        let digits: String = text[at + 2..].chars().take_while(char::is_ascii_digit).collect();
                        roots.get(&digits).cloned()
                    });
                }
                _ => {}
            }
            batch.push((
                conversation,
                Seen {
                    kind: kind.to_owned(),
                    at: call.at,
                    ts,
                },
            ));
        }
        for call in discord.take_calls() {
            let text = call.body.to_string();
            let root_channel = format!("/channels/{DISCORD_CHANNEL}/messages");
            let kind = match call.route.as_str() {
                "POST /channels/{channel_id}/messages" if call.path == root_channel => "discord.root".to_owned(),
                "POST /channels/{channel_id}/messages" => "discord.post".to_owned(),
                "PATCH /channels/{channel_id}/messages/{message_id}" => "discord.edit".to_owned(),
                other => format!("discord {other}"),
            };
            batch.push((
                find(&text, &prefix),
                Seen {
                    kind,
                    at: call.at,
                    ts: None,
                },
            ));
        }
        for call in widget.take_calls() {
            batch.push((
                call.conversation.clone(),
                Seen {
                    kind: format!("widget.{}", call.kind.as_deref().unwrap_or("other")),
                    at: call.at,
                    ts: None,
                },
            ));
        }
        if batch.is_empty() {
            continue;
        }
        {
            let mut filed = filed.lock().unwrap_or_else(|e| e.into_inner());
            for (conversation, seen) in batch {
                match conversation {
                    Some(c) => filed.by_conversation.entry(c).or_default().push(seen),
                    None => *filed.unnamed.entry(seen.kind).or_default() += 1,
                }
            }
        }
        changed.notify_waiters();
    }
}

/// The first conversation id of this run named in `text`: the prefix and 7 characters
/// (the scenario's letter and six digits).
fn find(text: &str, prefix: &str) -> Option<String> {
    let at = text.find(prefix)?;
    let id = text.get(at..at + prefix.len() + 7)?;
    Some(id.to_owned())
}

/// The Accept button's value on a Slack message's blocks.
pub fn button_value(message: &Value, action: &str) -> Option<String> {
    message["blocks"].as_array()?.iter().find_map(|block| {
        block["elements"].as_array()?.iter().find_map(|e| {
            (e["action_id"] == action)
                .then(|| e["value"].as_str().map(str::to_owned))
                .flatten()
        })
    })
}
