//! Scenario: the service's own memory. The other scenarios run the service inside the
//! bench's process, beside stand-ins that keep every message they receive, so that
//! process's peak RSS says little about the service. Here the service runs as
//! `handoff-bridge bench-service` in a process of its own, on the bench's database
//! topped up to `stored` conversations, pointed at stand-ins of its own; it takes
//! handoffs end to end (both roots and the DM) and its peak RSS (`VmHWM`) is read from
//! `/proc` before it stops.

use super::measure::rss_of;
use super::routing::insert_conversations;
use super::scenarios;
use super::world::{Host, World};
use crate::engine::WorkspaceId;
use crate::store::{Store, now_ms, widgets};

/// What the service's process used.
pub struct Memory {
    /// Conversations in the database while it ran.
    pub stored: i64,
    pub handoffs: usize,
    pub handoffs_per_second: f64,
    /// Peak RSS and RSS at the end, MiB.
    pub peak_mib: f64,
    pub end_mib: f64,
}

/// Tops the database up to `stored` conversations (resolved ones, in a workspace of
/// their own), then measures the service's process through `n` handoffs, `c` in flight.
pub async fn measure(
    database_url: &str,
    operators: usize,
    stored: usize,
    n: usize,
    c: usize,
) -> anyhow::Result<Memory> {
    let store = Store::connect(database_url).await?;
    let have: i64 = {
        let mut conn = store.read().await?;
        sqlx::query_scalar("select count(*) from conversations")
            .fetch_one(&mut *conn)
            .await?
    };
    let missing = usize::try_from(stored as i64 - have).unwrap_or(0);
    if missing > 0 {
        let now = now_ms();
        let mut tx = store.write().await?;
        let ws: i64 = sqlx::query_scalar("insert into workspaces (name, created_at) values ($1, $2) returning id")
            .bind(format!("bench-stored-{}", hex::encode(rand::random::<[u8; 4]>())))
            .bind(now)
            .fetch_one(tx.conn())
            .await?;
        let widget = format!("stored-{ws}");
        widgets::ensure(tx.conn(), WorkspaceId(ws), &widget, now).await?;
        let prefix = format!("stored-{ws}");
        insert_conversations(tx.conn(), WorkspaceId(ws), &widget, &[], "resolved", &prefix, missing).await?;
        tx.commit().await?;
    }
    store.close().await;

    let world = World::start(database_url, operators, Host::Process).await?;
    let measured = scenarios::handoffs(&world, n, c).await;
    let (peak_mib, end_mib) = world.service_pid().map(rss_of).unwrap_or_default();
    let stopped = world.stop().await;
    let measured = measured?;
    stopped?;
    Ok(Memory {
        stored: have.max(stored as i64),
        handoffs: n,
        handoffs_per_second: n as f64 / measured.run.elapsed.as_secs_f64(),
        peak_mib,
        end_mib,
    })
}

impl Memory {
    pub fn print(&self) {
        println!(
            "\nmemory     the service in a process of its own, {} conversations stored, {} handoffs end to end \
             ({:.0}/s): peak RSS {:.1} MiB, {:.1} MiB at the end",
            self.stored, self.handoffs, self.handoffs_per_second, self.peak_mib, self.end_mib
        );
    }
}
