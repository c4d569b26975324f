//! The chaos run (`RELIABILITY.md`, "The chaos run"): the real binary as several
//! processes (three on PostgreSQL; one on SQLite, which allows one), one of them
//! SIGKILLed and restarted every few seconds, while Slack, Discord and the widget
//! platform answer 10% of calls with a 5xx, 5% with a 429 and delay others. Through it
//! all: handoffs, visitor messages, racing Accept clicks from Slack and Discord, and
//! replies from both. At the end:
//! - every conversation has exactly one Slack thread and one Discord thread;
//! - every visitor message appears exactly once in each;
//! - every operator reply reached the widget platform exactly once;
//! - each conversation has at most one assignee, and its audit trail replays to it;
//! - no call came inside a 429's `Retry-After`.
//!
//! The counts are printed. It runs alone (`cargo test --test it chaos -- --ignored
//! --test-threads=1`, as `.ci/run` does after the suite), at a tenth of the full
//! workload (30 handoffs, 100 visitor messages, 50 clicks, 30 replies);
//! `HANDOFF_CHAOS_SCALE=1` runs the full 300 handoffs, 1,000 visitor messages, 500
//! clicks and 300 replies.

use crate::discord_helpers::{self as dh, DISCORD_TOKEN, GUILD};
use crate::helpers::*;
use crate::slack_helpers::{SLACK_SECRET, SLACK_TOKEN, buttons_of};
use futures_util::StreamExt;
use handoff_bridge::standins::chaos::Chaos;
use handoff_bridge::standins::discord::DiscordStandIn;
use handoff_bridge::standins::slack::SlackStandIn;
use handoff_bridge::standins::widget::{WidgetClient, WidgetPlatform};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the whole run may take before it fails.
const RUN_DEADLINE: Duration = Duration::from_secs(600);
/// How long one step (an event accepted, a conversation assigned) may take under chaos.
const STEP_DEADLINE: Duration = Duration::from_secs(120);
/// Teammates, each on Slack and Discord: (name, Slack id, Discord id).
const TEAM: [(&str, &str, u64); 4] = [
    ("Ada", "U0ADA", dh::ADA),
    ("Bo", "U0BO", dh::BO),
    ("Cy", "U0CY", 700_000_000_000_000_105),
    ("Di", "U0DI", 700_000_000_000_000_106),
];

struct Scale {
    handoffs: usize,
    messages: usize,
    clicks: usize,
    replies: usize,
    widgets: usize,
}

fn scale() -> Scale {
    let f: f64 = std::env::var("HANDOFF_CHAOS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|f: &f64| *f > 0.0)
        .unwrap_or(0.1);
    let n = |x: f64| ((x * f).round() as usize).max(1);
    let handoffs = n(300.0);
    Scale {
        handoffs,
        messages: n(1000.0),
        clicks: n(500.0).max(handoffs),
        replies: n(300.0).min(handoffs),
        // Three conversations per channel: Slack's one-post-a-second per channel stays
        // out of the way of the run.
        widgets: handoffs.div_ceil(3),
    }
}

fn slack_channel(w: usize) -> String {
    format!("C0W{w:04}")
}

fn discord_channel(w: usize) -> u64 {
    700_000_000_000_100_000 + w as u64
}

fn config(s: &Scale) -> String {
    let mut toml = String::new();
    for (name, slack, discord) in TEAM {
        toml.push_str(&format!(
            "[[operators]]\nname = \"{name}\"\nslack_user_id = \"{slack}\"\ndiscord_user_id = \"{discord}\"\n\n"
        ));
    }
    for w in 0..s.widgets {
        toml.push_str(&format!(
            "[[widgets]]\nid = \"w{w}\"\nrouting = \"manual\"\nslack_channel = \"{}\"\ndiscord_channel = \"{}\"\n\n",
            slack_channel(w),
            discord_channel(w)
        ));
    }
    toml
}

/// The instances: real processes, each slot holding one (or none while it restarts).
struct Fleet {
    env: HashMap<String, String>,
    slots: Vec<tokio::sync::Mutex<Option<(Child, String)>>>,
    logs: std::path::PathBuf,
    kills: AtomicUsize,
    /// When each SIGKILL was sent.
    killed_at: std::sync::Mutex<Vec<Instant>>,
    next: AtomicUsize,
}

impl Fleet {
    async fn start(env: HashMap<String, String>, n: usize) -> Fleet {
        let logs = std::env::temp_dir().join(format!("handoff-chaos-{}", hex::encode(rand::random::<[u8; 4]>())));
        std::fs::create_dir_all(&logs).unwrap();
        let fleet = Fleet {
            env,
            slots: (0..n).map(|_| tokio::sync::Mutex::new(None)).collect(),
            logs,
            kills: AtomicUsize::new(0),
            killed_at: std::sync::Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        };
        for i in 0..n {
            let started = fleet.spawn(i).await;
            *fleet.slots[i].lock().await = Some(started);
        }
        fleet
    }

    async fn spawn(&self, i: usize) -> (Child, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("instance-{i}.log")))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_handoff-bridge"))
            .arg("serve")
            .env_clear()
            .envs(&self.env)
            .env("HANDOFF_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start handoff-bridge");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let up = http.get(format!("{base}/healthz")).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(started.elapsed() < STEP_DEADLINE, "instance {i} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (child, base)
    }

    /// A live instance's base URL, taking turns.
    async fn pick(&self) -> Option<String> {
        for _ in 0..self.slots.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
            if let Some((_, base)) = &*self.slots[i].lock().await {
                return Some(base.clone());
            }
        }
        None
    }

    /// SIGKILLs instance `i` and starts it again.
    async fn kill_and_restart(&self, i: usize) {
        let taken = self.slots[i].lock().await.take();
        if let Some((mut child, _)) = taken {
            self.killed_at.lock().unwrap().push(Instant::now());
            child.kill().ok();
            child.wait().ok();
            self.kills.fetch_add(1, Ordering::Relaxed);
        }
        let started = self.spawn(i).await;
        *self.slots[i].lock().await = Some(started);
    }

    async fn stop(&self) {
        for slot in &self.slots {
            if let Some((mut child, _)) = slot.lock().await.take() {
                child.kill().ok();
                child.wait().ok();
            }
        }
    }
}

impl Drop for Fleet {
    /// A run that fails leaves no process behind.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Ok(mut slot) = slot.try_lock()
                && let Some((mut child, _)) = slot.take()
            {
                child.kill().ok();
                child.wait().ok();
            }
        }
    }
}

/// Sends something to a live instance until one accepts it (2xx), as Slack and the
/// widget platform retry a request that failed; the same request each time.
async fn until_accepted<F, Fut>(fleet: &Fleet, what: &str, send: F) -> usize
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
{
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        if let Some(base) = fleet.pick().await
            && let Ok(res) = send(base).await
            && res.status().is_success()
        {
            return tries;
        }
        assert!(started.elapsed() < STEP_DEADLINE, "{what} was never accepted");
        // A retry's pause, as a sender's backoff.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct World {
    slack: SlackStandIn,
    discord: DiscordStandIn,
    widget: WidgetPlatform,
    pool: AnyPool,
}

impl World {
    /// (channel, thread ts) of a conversation's Slack thread, once it has one.
    async fn slack_thread(&self, c: &str) -> Option<(String, String)> {
        sqlx::query_as("select channel, thread from conversation_refs where conversation_id = $1 and platform = 'slack' and thread is not null")
            .bind(c)
            .fetch_optional(&self.pool)
            .await
            .unwrap()
    }

    /// (channel, root message id) of a conversation's Discord thread, once it has one.
    async fn discord_root(&self, c: &str) -> Option<(u64, u64)> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "select channel, root_message from conversation_refs where conversation_id = $1 and platform = 'discord' and thread is not null",
        )
        .bind(c)
        .fetch_optional(&self.pool)
        .await
        .unwrap();
        let (channel, root) = row?;
        Some((channel.parse().ok()?, root?.parse().ok()?))
    }

    async fn assignee(&self, c: &str) -> Option<i64> {
        sqlx::query_scalar("select assignee_id from conversations where id = $1")
            .bind(c)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn operator_name(&self, id: i64) -> String {
        sqlx::query_scalar("select name from operators where id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Polls `check` every 50 ms until it gives `Some`, failing after `deadline`.
async fn within<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks Accept on a conversation's Slack root as `user`; false if there was no root
/// or Accept button to click.
async fn slack_accept(fleet: &Fleet, w: &World, c: &str, user: &str) -> bool {
    let Some((channel, ts)) = w.slack_thread(c).await else {
        return false;
    };
    let Some(root) = w.slack.message(&channel, &ts) else {
        return false;
    };
    let Some((_, _, value)) = buttons_of(&root.blocks).into_iter().find(|(a, _, _)| a == "hb_accept") else {
        return false;
    };
    let Some(message) = w.slack.message_json(&channel, &ts) else {
        return false;
    };
    until_accepted(fleet, "an Accept click", |base| {
        let sender = w.slack.sender(&base, SLACK_SECRET);
        let (channel, ts, message, value) = (channel.clone(), ts.clone(), message.clone(), value.clone());
        async move {
            sender
                .try_block_action(user, &channel, &ts, message, "hb_accept", &value)
                .await
        }
    })
    .await;
    true
}

/// Clicks Accept on a conversation's Discord root as `user` (through the gateway, to
/// whichever instance holds it); false if there was nothing to click.
async fn discord_accept(w: &World, c: &str, user: u64) -> bool {
    let Some((channel, root)) = w.discord_root(c).await else {
        return false;
    };
    let Some(message) = w.discord.message(channel, root) else {
        return false;
    };
    let Some((custom_id, _)) = dh::DiscordApp::buttons(&message)
        .into_iter()
        .find(|(_, label)| label == "Accept")
    else {
        return false;
    };
    w.discord.click_button(channel, root, user, &custom_id);
    true
}

/// One conversation's life: handed off, visitor messages, racing clicks, a reply.
async fn conversation_life(fleet: Arc<Fleet>, w: Arc<World>, s: Arc<Scale>, i: usize, counts: Arc<Counts>) {
    let c = format!("c{i}");
    let widget = format!("w{}", i % s.widgets);
    let handoff = WidgetClient::handoff_event(&c, &widget);
    until_accepted(&fleet, "a handoff", |base| {
        let client = WidgetClient::new(&base, WIDGET_SECRET);
        let event = handoff.clone();
        async move { client.try_send(&event).await }
    })
    .await;
    let mine: Vec<usize> = (0..s.messages).filter(|m| m % s.handoffs == i).collect();
    for m in &mine {
        let event = WidgetClient::message_event(&c, "visitor", &visitor_text(*m));
        until_accepted(&fleet, "a visitor message", |base| {
            let client = WidgetClient::new(&base, WIDGET_SECRET);
            let event = event.clone();
            async move { client.try_send(&event).await }
        })
        .await;
    }

    // Racing Accepts: on Slack and on Discord at once, by different teammates.
    let clicks = s.clicks / s.handoffs + usize::from(i < s.clicks % s.handoffs);
    within(STEP_DEADLINE, "the threads to be open", || async {
        (w.slack_thread(&c).await.is_some() && w.discord_root(&c).await.is_some()).then_some(())
    })
    .await;
    let racing = (0..clicks).map(|k| {
        let (fleet, w, c) = (fleet.clone(), w.clone(), c.clone());
        async move {
            let (_, slack, discord) = TEAM[(i + k) % TEAM.len()];
            if k % 2 == 0 {
                slack_accept(&fleet, &w, &c, slack).await
            } else {
                discord_accept(&w, &c, discord).await
            }
        }
    });
    let clicked = futures_util::future::join_all(racing).await;
    counts
        .clicks
        .fetch_add(clicked.iter().filter(|c| **c).count(), Ordering::Relaxed);

    // A click lost with a killed instance is clicked again, as a person would.
    let started = Instant::now();
    let assignee = loop {
        if let Some(a) = w.assignee(&c).await {
            break a;
        }
        if started.elapsed() > Duration::from_secs(3) {
            let (_, slack, _) = TEAM[i % TEAM.len()];
            if slack_accept(&fleet, &w, &c, slack).await {
                counts.clicks_again.fetch_add(1, Ordering::Relaxed);
            }
        }
        assert!(started.elapsed() < STEP_DEADLINE, "{c} was never assigned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    if i >= s.replies {
        return;
    }
    let name = w.operator_name(assignee).await;
    let (_, slack, discord) = *TEAM.iter().find(|(n, _, _)| *n == name).expect("a teammate");
    let text = reply_text(i);
    if i.is_multiple_of(2) {
        let (channel, ts) = w.slack_thread(&c).await.expect("a Slack thread");
        let event = w.slack.user_reply(&channel, slack, &text, &ts);
        let event_id = format!("EvReply{i}");
        until_accepted(&fleet, "a Slack reply", |base| {
            let sender = w.slack.sender(&base, SLACK_SECRET);
            let (event, event_id) = (event.clone(), event_id.clone());
            async move { sender.try_event(&event_id, event).await }
        })
        .await;
    } else {
        let (_, root) = w.discord_root(&c).await.expect("a Discord thread");
        // The thread was started from the root: it has the root's id.
        w.discord.user_message(root, discord, &text);
    }
}

/// An outbox row, as a failed run shows it: id, target, kind, status, attempts,
/// claims, last error.
type TraceRow = (i64, String, String, String, i64, i64, Option<String>);

/// What the database knows of a text that did not arrive as it should: its message
/// rows, and the outbox rows that open its conversation's threads or mirror its lines,
/// so a failed run says where it stopped.
async fn trace_of(pool: &AnyPool, text: &str) -> String {
    let messages: Vec<(i64, String, String, Option<String>)> =
        sqlx::query_as("select id, conversation_id, author, external_id from messages where text like $1")
            .bind(format!("%{text}%"))
            .fetch_all(pool)
            .await
            .unwrap();
    let mut out = format!("messages (id, conversation, author, external id): {messages:?}\n");
    for (_, conversation, ..) in &messages {
        let rows: Vec<TraceRow> = sqlx::query_as(
            "select id, target, kind, status, attempts, claims, last_error from outbox \
             where payload like $1 and kind in ('open_thread', 'mirror') order by id",
        )
        .bind(format!("%\"{conversation}\"%"))
        .fetch_all(pool)
        .await
        .unwrap();
        out +=
            &format!("outbox of {conversation} (id, target, kind, status, attempts, claims, last error): {rows:#?}\n");
    }
    out
}

fn visitor_text(m: usize) -> String {
    format!("visitor message vm{m:05}x")
}

fn reply_text(i: usize) -> String {
    format!("operator reply or{i:05}x")
}

/// An audit row: conversation, version, from status, to status, from and to assignee.
type AuditLine = (String, i64, Option<String>, String, Option<i64>, Option<i64>);

#[derive(Default)]
struct Counts {
    clicks: AtomicUsize,
    clicks_again: AtomicUsize,
}

/// Run alone, after the rest of the suite (`.ci/run` does): beside every other test on
/// two cores, processes starve and the run's deadlines measure the machine.
mod the_chaos_run_loses_nothing_duplicates_nothing_and_keeps_one_owner {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "the chaos run runs alone: cargo test --test it chaos -- --ignored --test-threads=1"]
    async fn sqlite() {
        run(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "the chaos run runs alone: cargo test --test it chaos -- --ignored --test-threads=1"]
    async fn postgres() {
        run(Db::postgres().await).await
    }
}

async fn run(db: Db) {
    {
        let postgres = !db.url.starts_with("sqlite");
        let instances = if postgres { 3 } else { 1 };
        let s = Arc::new(scale());
        let run_started = Instant::now();

        let slack = SlackStandIn::start(SLACK_TOKEN).await;
        let discord = DiscordStandIn::start(DISCORD_TOKEN).await;
        let widget = WidgetPlatform::start(WIDGET_SECRET).await;
        discord.add_guild(GUILD, "Support");
        for (name, slack_id, discord_id) in TEAM {
            slack.add_user(slack_id, &name.to_lowercase(), name, false, false);
            discord.add_user(discord_id, &name.to_lowercase(), true);
        }
        for w in 0..s.widgets {
            slack.add_channel(&slack_channel(w), &format!("support-{w}"), true);
            discord.add_text_channel(GUILD, discord_channel(w), &format!("support-{w}"));
        }

        let mut env = test_env(&db, &widget);
        env.insert("HANDOFF_OUTBOX_LEASE_MS".into(), "5000".into());
        env.insert("HANDOFF_OUTBOX_TIMEOUT_MS".into(), "4000".into());
        env.insert("HANDOFF_SLACK_BOT_TOKEN".into(), SLACK_TOKEN.into());
        env.insert("HANDOFF_SLACK_SIGNING_SECRET".into(), SLACK_SECRET.into());
        env.insert("HANDOFF_SLACK_API_URL".into(), slack.api_url());
        env.extend(dh::discord_env(&discord));
        let config =
            std::env::temp_dir().join(format!("handoff-chaos-{}.toml", hex::encode(rand::random::<[u8; 4]>())));
        std::fs::write(&config, self::config(&s)).unwrap();
        env.insert("HANDOFF_CONFIG".into(), config.display().to_string());

        let fleet = Arc::new(Fleet::start(env, instances).await);
        let w = Arc::new(World {
            slack,
            discord,
            widget,
            pool: db.pool().await,
        });
        // The faults start once everyone is up.
        w.slack.set_chaos(Some(Chaos::default()));
        w.discord.set_chaos(Some(Chaos::default()));
        w.widget.set_chaos(Some(Chaos::default()));

        // One instance SIGKILLed and restarted every few seconds, in turn.
        let chaos_on = tokio_util::sync::CancellationToken::new();
        let killer = {
            let (fleet, on) = (fleet.clone(), chaos_on.clone());
            tokio::spawn(async move {
                let mut k = 0;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(3)) => {}
                        _ = on.cancelled() => return,
                    }
                    fleet.kill_and_restart(k % fleet.slots.len()).await;
                    k += 1;
                }
            })
        };

        let counts = Arc::new(Counts::default());
        futures_util::stream::iter(0..s.handoffs)
            .map(|i| conversation_life(fleet.clone(), w.clone(), s.clone(), i, counts.clone()))
            .buffer_unordered(24)
            .collect::<Vec<()>>()
            .await;
        chaos_on.cancel();
        killer.await.unwrap();

        // Calm: the faults stop, every instance is up, and everything queued goes out.
        w.slack.set_chaos(None);
        w.discord.set_chaos(None);
        w.widget.set_chaos(None);
        let pool = &w.pool;
        let replies: Vec<String> = (0..s.replies).map(reply_text).collect();
        within(RUN_DEADLINE, "every reply delivered and the outbox drained", || async {
            let open: i64 = sqlx::query_scalar("select count(*) from outbox where status in ('pending', 'inflight')")
                .fetch_one(pool)
                .await
                .unwrap();
            let delivered = w.widget.delivered();
            let all = replies
                .iter()
                .all(|r| delivered.iter().any(|c| c.body["text"] == r.as_str()));
            (open == 0 && all).then_some(())
        })
        .await;

        // Exactly one thread per conversation on each platform.
        let mut slack_roots = 0;
        let mut discord_roots = 0;
        for wd in 0..s.widgets {
            let convs = (0..s.handoffs).filter(|i| i % s.widgets == wd).count();
            let roots = w
                .slack
                .messages(&slack_channel(wd))
                .into_iter()
                .filter(|m| m.thread_ts.is_none() && m.user == SlackStandIn::BOT_USER)
                .count();
            assert_eq!(roots, convs, "Slack roots in {}", slack_channel(wd));
            slack_roots += roots;
            let posted: Vec<_> = w
                .discord
                .messages(discord_channel(wd))
                .into_iter()
                .filter(|m| m.author_id == DiscordStandIn::BOT_USER_ID && m.webhook_id.is_none())
                .collect();
            let roots = posted.len();
            assert_eq!(roots, convs, "Discord roots in {}: {posted:#?}", discord_channel(wd));
            discord_roots += roots;
        }

        // Every visitor message once in each platform's thread.
        let mut slack_texts: HashMap<String, usize> = HashMap::new();
        let mut discord_texts: HashMap<String, usize> = HashMap::new();
        for wd in 0..s.widgets {
            for m in w.slack.messages(&slack_channel(wd)) {
                *slack_texts.entry(m.text.clone()).or_default() += 1;
            }
        }
        for i in 0..s.handoffs {
            let (_, root) = w.discord_root(&format!("c{i}")).await.expect("a Discord thread");
            for m in w.discord.messages(root) {
                *discord_texts.entry(m.content.clone()).or_default() += 1;
            }
        }
        let seen = |texts: &HashMap<String, usize>, needle: &str| -> usize {
            texts.iter().filter(|(t, _)| t.contains(needle)).map(|(_, n)| n).sum()
        };
        for m in 0..s.messages {
            let t = visitor_text(m);
            let (on_slack, on_discord) = (seen(&slack_texts, &t), seen(&discord_texts, &t));
            if (on_slack, on_discord) != (1, 1) {
                let why = trace_of(pool, &t).await;
                panic!("{t}: {on_slack} time(s) in Slack, {on_discord} in Discord\n{why}");
            }
        }

        // Every reply reached the widget platform once (retries carry the same key, and
        // count once).
        let delivered = w.widget.delivered();
        for r in &replies {
            let n = delivered.iter().filter(|c| c.body["text"] == r.as_str()).count();
            assert_eq!(n, 1, "{r} reached the widget platform {n} times");
        }

        // One owner at most, and the audit trail replays to the final state.
        let rows: Vec<AuditLine> = sqlx::query_as(
            "select conversation_id, version, from_status, to_status, from_assignee, to_assignee \
             from assignment_events order by conversation_id, version",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut audit_rows = 0;
        for i in 0..s.handoffs {
            let c = format!("c{i}");
            let (status, assignee, version): (String, Option<i64>, i64) =
                sqlx::query_as("select status, assignee_id, version from conversations where id = $1")
                    .bind(&c)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            let mine: Vec<_> = rows.iter().filter(|r| r.0 == c).collect();
            // A conversation starts with the bot, unassigned, before version 1.
            let (mut st, mut who, mut v) = (Some("bot".to_owned()), None::<i64>, 0);
            for r in &mine {
                assert_eq!(r.1, v + 1, "{c}: versions follow one another");
                assert_eq!((&r.2, r.4), (&st, who), "{c}: each change starts where the last ended");
                (st, who, v) = (Some(r.3.clone()), r.5, r.1);
            }
            assert_eq!(
                (st.as_deref(), who, v),
                (Some(status.as_str()), assignee, version),
                "{c}: the trail replays to the final state"
            );
            assert!(assignee.is_some(), "{c} has its one owner");
            audit_rows += mine.len();
        }

        // Nobody ignored a Retry-After. The one exception the run allows: a 429 answered
        // to a process that was SIGKILLed before it could record it (nobody alive knew).
        let kills = fleet.killed_at.lock().unwrap().clone();
        let after_a_kill = |(_, from, at): &(String, Instant, Instant)| kills.iter().any(|k| from <= k && k <= at);
        let ignored = |on: Vec<(String, Instant, Instant)>| -> (usize, Vec<String>) {
            let (lost, real): (Vec<_>, Vec<_>) = on.into_iter().partition(after_a_kill);
            (
                lost.len(),
                real.into_iter()
                    .map(|(lane, from, at)| format!("{lane} {:?} after", at - from))
                    .collect(),
            )
        };
        let (slack_429, _) = w.slack.retry_after_record();
        let (discord_429, _) = w.discord.retry_after_record();
        let (slack_lost, slack_ignored) = ignored(w.slack.retry_after_ignored_on());
        let (discord_lost, discord_ignored) = ignored(w.discord.retry_after_ignored_on());
        let dead: i64 = sqlx::query_scalar("select count(*) from outbox where status = 'dead'")
            .fetch_one(pool)
            .await
            .unwrap();
        println!(
            "chaos run on {} with {instances} instance(s), {:.0} s: {} SIGKILLs; {} handoffs, {} visitor messages, \
             {} clicks (+{} again after a lost one), {} replies; Slack: {slack_roots} threads, {slack_429} 429s, \
             {} calls inside a Retry-After (+{slack_lost} whose 429 died with a killed process); Discord: {discord_roots} threads, \
             {discord_429} 429s, {} calls inside a Retry-After (+{discord_lost} whose 429 died with a killed process); {audit_rows} audit rows replayed; {} replies delivered once each; \
             {dead} dead letters",
            if postgres { "PostgreSQL" } else { "SQLite" },
            run_started.elapsed().as_secs_f64(),
            fleet.kills.load(Ordering::Relaxed),
            s.handoffs,
            s.messages,
            counts.clicks.load(Ordering::Relaxed),
            counts.clicks_again.load(Ordering::Relaxed),
            s.replies,
            slack_ignored.len(),
            discord_ignored.len(),
            replies.len(),
        );
        assert!(
            slack_ignored.is_empty(),
            "Slack calls inside a Retry-After: {slack_ignored:?}"
        );
        assert!(
            discord_ignored.is_empty(),
            "Discord calls inside a Retry-After: {discord_ignored:?}"
        );
        fleet.stop().await;
        println!("instance logs: {}", fleet.logs.display());
    }
}
