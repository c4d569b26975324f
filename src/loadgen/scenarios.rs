//! The load generator's scenarios. Each drives the service through its real front doors
//! (signed widget events, signed Slack clicks and events) and waits for what a user
//! would see (the stand-ins' calls), and the floor measures what no implementation of
//! the same work can beat: one bare database transaction of a handoff's size plus one
//! loopback HTTP POST.

use super::drive::{self, Latencies, Run};
use super::measure::{Counted, Cpu, Statements};
use super::world::{SLACK_CHANNEL, Seen, World, button_value};
use crate::standins::widget::WidgetClient;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long one operation may take before the run is called failed.
const DEADLINE: Duration = Duration::from_secs(60);
const ACCEPT: &str = "hb_accept";

/// A scenario's result: its run, the CPU time it took, and how many operations.
pub struct Measured {
    pub run: Run,
    pub cpu: Duration,
    pub ops: usize,
}

impl Measured {
    pub fn cpu_per_op(&self) -> Duration {
        self.cpu / self.ops.max(1) as u32
    }
}

async fn measured<Fut: std::future::Future<Output = anyhow::Result<Run>>>(
    ops: usize,
    run: Fut,
) -> anyhow::Result<Measured> {
    let before = Cpu::now();
    let run = run.await?;
    Ok(Measured {
        run,
        cpu: Cpu::now().since(before),
        ops,
    })
}

fn when(seen: &[Seen], kind: &str) -> Option<Instant> {
    seen.iter().find(|s| s.kind == kind).map(|s| s.at)
}

/// Sends the signed handoff of `conversation` on `widget`.
async fn hand_off(world: &World, conversation: &str, widget: &str) -> anyhow::Result<()> {
    let res = world
        .client
        .send(&WidgetClient::handoff_event(conversation, widget))
        .await;
    let status = res.status();
    anyhow::ensure!(
        status.is_success(),
        "handoff {conversation}: HTTP {status}: {}",
        res.text().await.unwrap_or_default()
    );
    Ok(())
}

/// When the handoff of a conversation is done end to end: its root on Slack and on
/// Discord and the assignee's DM (for the round-robin widget).
fn handed_off(seen: &[Seen], with_dm: bool) -> Option<Instant> {
    let slack = when(seen, "slack.root")?;
    let discord = when(seen, "discord.root")?;
    let dm = if with_dm { when(seen, "slack.dm")? } else { slack };
    Some(slack.max(discord).max(dm))
}

/// Scenario 1: Handoffs end to end, `concurrency` in flight: [request answered, root posted on
/// Slack, root posted on Discord, the assignee's Slack DM, everything posted].
pub async fn handoffs(world: &World, n: usize, concurrency: usize) -> anyhow::Result<Measured> {
    measured(
        n,
        drive::closed(n, concurrency, |i, started| {
            handoff_job(world, world.conversation('h', i), started)
        }),
    )
    .await
}

/// Scenario 1: Handoffs at a fixed rate: the same measures, from when each was due.
pub async fn handoffs_at(world: &World, n: usize, rate: f64) -> anyhow::Result<Measured> {
    measured(
        n,
        drive::open(n, rate, |i, due| handoff_job(world, world.conversation('r', i), due)),
    )
    .await
}

async fn handoff_job(world: &World, conversation: String, started: Instant) -> anyhow::Result<Latencies> {
    hand_off(world, &conversation, "bench").await?;
    let answered = started.elapsed();
    let (slack, discord, dm) = world
        .until(&conversation, DEADLINE, |seen| {
            Some((
                when(seen, "slack.root")?,
                when(seen, "discord.root")?,
                when(seen, "slack.dm")?,
            ))
        })
        .await?;
    let all = slack.max(discord).max(dm);
    Ok(vec![
        answered,
        slack.duration_since(started),
        discord.duration_since(started),
        dm.duration_since(started),
        all.duration_since(started),
    ])
}

/// Hands off `n` conversations on the manual widget and waits for their Slack roots:
/// (conversation, root ts). Not measured: the set-up of the click scenarios.
pub async fn unassigned(world: &World, scenario: char, n: usize) -> anyhow::Result<Vec<(String, String)>> {
    let ids: Vec<String> = (0..n).map(|i| world.conversation(scenario, i)).collect();
    drive::closed(n, 16, |i, _| {
        let id = &ids[i];
        async move {
            hand_off(world, id, "race").await?;
            Ok(vec![])
        }
    })
    .await?;
    let mut roots = Vec::new();
    for id in ids {
        let ts = world
            .until(&id, DEADLINE, |seen| {
                handed_off(seen, false)?;
                seen.iter().find(|s| s.kind == "slack.root").and_then(|s| s.ts.clone())
            })
            .await?;
        roots.push((id, ts));
    }
    Ok(roots)
}

/// One operator's click on Accept on a conversation's root; returns when Slack had its
/// answer, and the HTTP status.
async fn click_accept(world: &World, user: &str, ts: &str) -> anyhow::Result<u16> {
    let (message, value) = root_with_accept(world, ts)?;
    click(world, user, ts, message, &value).await
}

/// The root at `ts` as Slack shows it, and its Accept button's value.
fn root_with_accept(world: &World, ts: &str) -> anyhow::Result<(serde_json::Value, String)> {
    let message = world
        .slack
        .message_json(SLACK_CHANNEL, ts)
        .ok_or_else(|| anyhow::anyhow!("no root at {ts}"))?;
    let value = button_value(&message, ACCEPT)
        .ok_or_else(|| anyhow::anyhow!("no Accept on the root at {ts}: {}", message["text"]))?;
    Ok((message, value))
}

/// A click on Accept on `message` (the root as the clicker saw it); the HTTP status.
async fn click(world: &World, user: &str, ts: &str, message: serde_json::Value, value: &str) -> anyhow::Result<u16> {
    let res = world
        .sender
        .block_action(user, SLACK_CHANNEL, ts, message, ACCEPT, value)
        .await;
    Ok(res.status().as_u16())
}

/// Scenario 2: Accept clicks at a fixed rate, each by a different operator on its own
/// conversation: [Slack's 200, the root's `chat.update`].
pub async fn accepts(world: &World, roots: &[(String, String)], rate: f64) -> anyhow::Result<Measured> {
    measured(
        roots.len(),
        drive::open(roots.len(), rate, |i, due| {
            let (conversation, ts) = &roots[i];
            let user = &world.operators[i % world.operators.len()];
            async move {
                let status = click_accept(world, user, ts).await?;
                anyhow::ensure!(status == 200, "Accept on {conversation}: HTTP {status}");
                let answered = due.elapsed();
                let updated = world
                    .until(conversation, DEADLINE, |seen| {
                        seen.iter()
                            .find(|s| s.kind == "slack.update" && s.at >= due)
                            .map(|s| s.at)
                    })
                    .await?;
                Ok(vec![answered, updated.duration_since(due)])
            }
        }),
    )
    .await
}

/// What the claim races came to.
pub struct Races {
    pub measured: Measured,
    pub conversations: usize,
    pub clicks: usize,
    /// Conversations with exactly one owner, who won the one claim recorded.
    pub one_winner: usize,
    /// Claims recorded in the audit trail.
    pub claims: i64,
    /// Private notices sent (each loser is told who has it).
    pub told: u64,
    /// Clicks Slack got an error for.
    pub errors: usize,
}

/// Scenario 3: Claim races: `clickers` operators click Accept at once on each conversation.
pub async fn races(world: &World, roots: &[(String, String)], clickers: usize) -> anyhow::Result<Races> {
    let clickers = clickers.min(world.operators.len());
    let told_before = told(world, roots);
    let errors = std::sync::atomic::AtomicUsize::new(0);
    let measured = measured(
        roots.len() * clickers,
        drive::closed(roots.len(), 2, |i, _| {
            let (_, ts) = &roots[i];
            let errors = &errors;
            async move {
                // Every clicker saw the root before anyone clicked.
                let (message, value) = root_with_accept(world, ts)?;
                let clicks = (0..clickers).map(|k| {
                    let user = &world.operators[k];
                    let (message, value) = (message.clone(), &value);
                    async move {
                        let started = Instant::now();
                        let status = click(world, user, ts, message, value).await?;
                        if status != 200 {
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok::<_, anyhow::Error>(started.elapsed())
                    }
                });
                let answered = futures_util::future::join_all(clicks).await;
                answered.into_iter().collect::<anyhow::Result<Vec<_>>>()
            }
        }),
    )
    .await?;
    let pool = world.pool().await?;
    wait_drained(&pool).await?;
    let mut one_winner = 0;
    let mut claims = 0;
    for (conversation, _) in roots {
        let (owner, status): (Option<i64>, String) =
            sqlx::query_as("select assignee_id, status from conversations where id = $1")
                .bind(conversation)
                .fetch_one(&pool)
                .await?;
        let recorded: i64 = sqlx::query_scalar(
            "select count(*) from assignment_events where conversation_id = $1 and reason in ('claim', 'accept')",
        )
        .bind(conversation)
        .fetch_one(&pool)
        .await
        .unwrap_or(-1);
        claims += recorded;
        if owner.is_some() && status == "active" && recorded == 1 {
            one_winner += 1;
        }
    }
    pool.close().await;
    Ok(Races {
        measured,
        conversations: roots.len(),
        clicks: roots.len() * clickers,
        one_winner,
        claims,
        told: told(world, roots) - told_before,
        errors: errors.into_inner(),
    })
}

/// Private notices so far: ephemerals, named or not.
fn told(world: &World, roots: &[(String, String)]) -> u64 {
    let filed = world.filed.lock().unwrap_or_else(|e| e.into_inner());
    let named: usize = roots
        .iter()
        .filter_map(|(c, _)| filed.by_conversation.get(c))
        .map(|seen| seen.iter().filter(|s| s.kind == "slack.ephemeral").count())
        .sum();
    named as u64 + filed.unnamed.get("slack.ephemeral").copied().unwrap_or(0)
}

/// Waits until the outbox has nothing pending or in flight.
pub async fn wait_drained(pool: &sqlx::AnyPool) -> anyhow::Result<()> {
    let give_up = Instant::now() + DEADLINE * 5;
    loop {
        let open: i64 = sqlx::query_scalar("select count(*) from outbox where status in ('pending', 'inflight')")
            .fetch_one(pool)
            .await?;
        if open == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < give_up, "the outbox did not drain ({open} rows left)");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Scenario 5: Thread replies relayed to the widget, `concurrency` in flight, on conversations
/// their clicker owns: [Slack's 200, the widget platform got the reply].
pub async fn replies(
    world: &World,
    owned: &[(String, String)],
    concurrency: usize,
    round: usize,
) -> anyhow::Result<Measured> {
    measured(
        owned.len(),
        drive::closed(owned.len(), concurrency, |i, started| {
            let (conversation, ts) = &owned[i];
            let user = &world.operators[i % world.operators.len()];
            async move {
                let text = format!("reply {round} to {conversation}");
                let event = world.slack.user_reply(SLACK_CHANNEL, user, &text, ts);
                let event_id = format!("Ev{}{round}x{i}", world.prefix);
                let res = world.sender.event(&event_id, event).await;
                let status = res.status();
                anyhow::ensure!(status.is_success(), "reply on {conversation}: HTTP {status}");
                let answered = started.elapsed();
                let relayed = world
                    .until(conversation, DEADLINE, |seen| {
                        seen.iter()
                            .filter(|s| s.kind == "widget.messages" && s.at >= started)
                            .map(|s| s.at)
                            .next()
                    })
                    .await?;
                Ok(vec![answered, relayed.duration_since(started)])
            }
        }),
    )
    .await
}

/// Scenario 6: The floor: a loopback HTTP POST whose handler runs one transaction of a handoff's
/// size (a conversation, two transcript lines, two audit rows, three outbox rows) on the
/// same database with sqlx's own driver, on the service's threads.
pub async fn floor(
    world: &World,
    runtime: &tokio::runtime::Handle,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Measured> {
    let floor = super::floor::Floor::start(runtime, &world.database_url).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let url = floor.url();
    let result = measured(
        n,
        drive::closed(n, concurrency, |i, started| {
            let (http, url) = (&http, &url);
            async move {
                let res = http
                    .post(url.as_str())
                    .json(&json!({"id": format!("floor-{i}"), "text": "Wants a refund for order 1234"}))
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "floor: HTTP {}", res.status());
                Ok(vec![started.elapsed()])
            }
        }),
    )
    .await;
    floor.stop().await;
    result
}

/// Statement counts per operation: `k` of each, one at a time, each waited for end to
/// end and the outbox drained after the lot.
pub struct Counts {
    pub handoff_request: Counted,
    pub handoff_deliveries: Counted,
    pub delivered_rows: i64,
    pub accept: Counted,
    pub reply: Counted,
    pub idle: Counted,
    pub idle_for: Duration,
    pub k: usize,
}

pub async fn counts(world: &World, statements: &Statements, k: usize, idle_for: Duration) -> anyhow::Result<Counts> {
    let pool = world.pool().await?;
    wait_drained(&pool).await?;
    let rows = |pool: &sqlx::AnyPool| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from outbox where status = 'done'")
                .fetch_one(&pool)
                .await
        }
    };

    // A handoff's request, with the outbox held; then its deliveries.
    world.faults.pause();
    let ids: Vec<String> = (0..k).map(|i| world.conversation('k', i)).collect();
    let started = statements.start();
    for id in &ids {
        hand_off(world, id, "race").await?;
    }
    let handoff_request = statements.stop(started);
    let done_before = rows(&pool).await?;
    let started = statements.start();
    world.faults.resume();
    let mut roots = Vec::new();
    for id in &ids {
        let ts = world
            .until(id, DEADLINE, |seen| {
                handed_off(seen, false)?;
                seen.iter().find(|s| s.kind == "slack.root").and_then(|s| s.ts.clone())
            })
            .await?;
        roots.push((id.clone(), ts));
    }
    wait_drained(&pool).await?;
    let handoff_deliveries = statements.stop(started);
    let delivered_rows = rows(&pool).await? - done_before;

    // Accepts, each to its root's update.
    let started = statements.start();
    for (i, (id, ts)) in roots.iter().enumerate() {
        let clicked = Instant::now();
        let status = click_accept(world, &world.operators[i % world.operators.len()], ts).await?;
        anyhow::ensure!(status == 200, "Accept on {id}: HTTP {status}");
        world
            .until(id, DEADLINE, |seen| {
                seen.iter()
                    .find(|s| s.kind == "slack.update" && s.at >= clicked)
                    .map(|_| ())
            })
            .await?;
    }
    wait_drained(&pool).await?;
    let accept = statements.stop(started);

    // Replies, each to the widget.
    let started = statements.start();
    replies(world, &roots, 1, 0).await?;
    wait_drained(&pool).await?;
    let reply = statements.stop(started);

    // Nothing to do: what the service runs on its own.
    let started = statements.start();
    tokio::time::sleep(idle_for).await;
    let idle = statements.stop(started);
    pool.close().await;
    Ok(Counts {
        handoff_request,
        handoff_deliveries,
        delivered_rows,
        accept,
        reply,
        idle,
        idle_for,
        k,
    })
}
