//! Scenario: routing picks as teams grow. For each team size a workspace of its own
//! gets that many operators and the open conversations spread over them at random (so
//! loads differ), and a round-robin and a lightest-load widget. Each pick is what a
//! handoff runs inside its transaction — the widget, the narrowed candidates, the
//! engine's pick, the cursor — on the bench's database, after the routing lock that the
//! transaction takes first thing (on PostgreSQL; its wait is not the pick's cost); the conversation is then assigned to whom it picked (so loads and
//! cursors move as they would) and the transaction commits.
//!
//! The operators and the open conversations are written straight into the tables, in
//! multi-row inserts: through the front door, 100,000 handoffs would take the bench
//! minutes before it measured anything. The triggers that keep each operator's open
//! chats run on those inserts as on any other.

use super::measure::{Summary, ms};
use crate::engine::transition::RouteScope;
use crate::engine::{Assignment, RoutingMode, Status, WorkspaceId};
use crate::service::routing;
use crate::store::conversations::{self as convs, NewConversation};
use crate::store::{Store, now_ms, widgets};
use rand::Rng;
use std::time::{Duration, Instant};

/// Rows a multi-row insert writes at once (at most 2 parameters a row, well below
/// either database's parameter limit).
const BATCH: usize = 500;

/// The picks of one mode at one team size.
pub struct Picks {
    pub operators: usize,
    pub mode: RoutingMode,
    pub summary: Summary,
}

/// Measures `picks` picks per mode for each team size, with `open` open conversations
/// in each size's workspace.
pub async fn picks(database_url: &str, sizes: &[usize], open: usize, picks: usize) -> anyhow::Result<Vec<Picks>> {
    let store = Store::connect(database_url).await?;
    let mut out = Vec::new();
    for &size in sizes {
        let ws = seed(&store, size, open).await?;
        for mode in [RoutingMode::RoundRobin, RoutingMode::LightestLoad] {
            let widget = format!("routing-{size}-{}", mode.as_str());
            let summary = pick_many(&store, ws, &widget, picks).await?;
            out.push(Picks {
                operators: size,
                mode,
                summary,
            });
        }
    }
    Ok(out)
}

/// A workspace with `size` available operators, `open` active conversations assigned
/// at random among them, and one widget per routing mode.
async fn seed(store: &Store, size: usize, open: usize) -> anyhow::Result<WorkspaceId> {
    let now = now_ms();
    let mut tx = store.write().await?;
    let ws: i64 = sqlx::query_scalar("insert into workspaces (name, created_at) values ($1, $2) returning id")
        .bind(format!(
            "bench-routing-{size}-{}",
            hex::encode(rand::random::<[u8; 4]>())
        ))
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
    let ws = WorkspaceId(ws);
    for mode in [RoutingMode::RoundRobin, RoutingMode::LightestLoad] {
        let widget = format!("routing-{size}-{}", mode.as_str());
        widgets::ensure(tx.conn(), ws, &widget, now).await?;
        widgets::set_routing(tx.conn(), &widget, mode.as_str()).await?;
    }
    let mut ids: Vec<i64> = Vec::with_capacity(size);
    for start in (0..size).step_by(BATCH) {
        let n = BATCH.min(size - start);
        let values: Vec<String> = (0..n).map(|k| format!("($1, ${}, $2)", 3 + k)).collect();
        let sql = format!(
            "insert into operators (workspace_id, name, created_at) values {} returning id",
            values.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(ws.0).bind(now);
        for k in start..start + n {
            q = q.bind(format!("Routing operator {k}"));
        }
        ids.extend(q.fetch_all(tx.conn()).await?);
    }
    let widget = format!("routing-{size}-{}", RoutingMode::LightestLoad.as_str());
    let prefix = format!("routing-{}-open", ws.0);
    insert_conversations(tx.conn(), ws, &widget, &ids, "active", &prefix, open).await?;
    tx.commit().await?;
    // What autovacuum would do after such a load, so the planner knows the new rows.
    if store.backend() == crate::store::Backend::Postgres {
        let mut conn = store.read().await?;
        sqlx::query("analyze operators").execute(&mut *conn).await?;
        sqlx::query("analyze conversations").execute(&mut *conn).await?;
    }
    Ok(ws)
}

/// Writes `n` conversations of `widget` in `status`, with ids `{prefix}-{k}`, each
/// assigned to one of `assignees` at random (none when that is empty), in multi-row
/// inserts.
pub async fn insert_conversations(
    conn: &mut sqlx::AnyConnection,
    ws: WorkspaceId,
    widget: &str,
    assignees: &[i64],
    status: &str,
    prefix: &str,
    n: usize,
) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let now = now_ms();
    for start in (0..n).step_by(BATCH) {
        let rows = BATCH.min(n - start);
        let values: Vec<String> = (0..rows)
            .map(|k| format!("(${}, $1, $2, ${}, $3, $4, $4)", 5 + 2 * k, 6 + 2 * k))
            .collect();
        let sql = format!(
            "insert into conversations (id, workspace_id, widget_id, assignee_id, status, created_at, updated_at) \
             values {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(ws.0).bind(widget).bind(status).bind(now);
        for k in start..start + rows {
            let assignee = (!assignees.is_empty()).then(|| assignees[rng.random_range(0..assignees.len())]);
            q = q.bind(format!("{prefix}-{k}")).bind(assignee);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `n` handoffs' routing on `widget`, each in its own committed transaction.
async fn pick_many(store: &Store, ws: WorkspaceId, widget: &str, n: usize) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut samples: Vec<Duration> = Vec::with_capacity(n);
    for k in 0..n {
        let now = now_ms();
        let id = format!("routing-{}-{widget}-{k}", ws.0);
        let mut tx = store.write().await?;
        // First thing in the transaction, as a handoff takes it.
        routing::lock(tx.conn(), store.backend(), ws).await?;
        let row = convs::insert(tx.conn(), &NewConversation::bare(&id, ws, widget, now)).await?;
        let mut to = Assignment {
            status: Status::HandedOff,
            assignee: None,
            team: None,
        };
        let at = Instant::now();
        routing::route(tx.conn(), &row, RouteScope::Widget, &mut to).await?;
        samples.push(at.elapsed());
        anyhow::ensure!(to.assignee.is_some(), "routing on {widget} picked nobody");
        convs::write_assignment(tx.conn(), &id, row.version, &to, None, now).await?;
        tx.commit().await?;
    }
    Ok(Summary::of(samples, started.elapsed()))
}

/// Prints the picks, each size beside the smallest one of its mode.
pub fn print(picks: &[Picks], open: usize) {
    println!("\nrouting    one pick inside its transaction, {open} open conversations in each team's workspace:");
    for p in picks {
        let smallest = picks.iter().find(|q| q.mode == p.mode).map(|q| q.summary.p99);
        let ratio = smallest.map_or(0.0, |s| ms(p.summary.p99) / ms(s).max(1e-9));
        println!(
            "  {:<13} {:>6} operators  {}  (p99 {ratio:.2}× {} operators)",
            p.mode.as_str(),
            p.operators,
            p.summary.latencies(),
            picks.iter().find(|q| q.mode == p.mode).map_or(0, |q| q.operators),
        );
    }
}
