//! `handoff-bridge sandbox`: the real service with everything it talks to in-process, so
//! a newcomer can click through a handoff in a browser before they have a Slack app, a
//! Discord bot or a widget platform.
//!
//! It starts the Slack, Discord and widget platform stand-ins, then the service pointed
//! at them on an SQLite file (or any `DATABASE_URL`), with a demo cast: two agents and a
//! manager, linked on both platforms, and two widgets (`shop`, round-robin, and `docs`,
//! manual). Beside the service's own routes it serves `/sandbox`: a page with a visitor
//! panel per widget, Slack-like and Discord-like channel views drawn from the stand-ins,
//! and the inbox and audit trail from the HTTP API. Everything the page does goes
//! through the service's real front doors: signed widget events, signed Slack payloads
//! and Discord gateway interactions (see `docs/sandbox.md`).
//!
//! The database outlives a restart, so the inbox and the audit trail keep every
//! conversation; the stand-ins keep their channels in memory, so after a restart the
//! channel views show what happens from then on. `--reset` starts afresh.

mod api;
mod world;

use crate::config::Settings;
use crate::startup::Application;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};

pub use world::{DemoOperator, World};

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Start afresh: remove the sandbox's SQLite database first.
    #[arg(long)]
    pub reset: bool,
}

/// Where the sandbox keeps its database unless `DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://handoff-sandbox.db";
/// Where it listens unless `HANDOFF_LISTEN` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The admin token of the sandbox's HTTP API (it listens on loopback by default).
pub const ADMIN_TOKEN: &str = "sandbox-admin-token-not-a-secret";
const WIDGET_SECRET: &str = "sandbox-widget-secret-not-a-secret";

/// A running sandbox: the service (serving), its stand-ins and the page's controls.
pub struct Sandbox {
    addr: std::net::SocketAddr,
    world: World,
    stop: tokio_util::sync::CancellationToken,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Sandbox {
    /// Starts the stand-ins, then the service against them, and serves. `env` is the
    /// settings source (the process environment for the command); the stand-ins' URLs and
    /// credentials override whatever it says about Slack, Discord and the widget
    /// platform. Returns once the demo operators have their API tokens.
    pub async fn start(
        config: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        args: &SandboxArgs,
    ) -> anyhow::Result<Sandbox> {
        let database_url = env("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if args.reset {
            reset(&database_url)?;
        }
        let world = World::start(WIDGET_SECRET).await;
        let forced: HashMap<&str, String> = HashMap::from([
            ("HANDOFF_WIDGET_SECRET", WIDGET_SECRET.into()),
            ("HANDOFF_WIDGET_API_URL", world.widget.url()),
            ("HANDOFF_SLACK_BOT_TOKEN", world::SLACK_TOKEN.into()),
            ("HANDOFF_SLACK_SIGNING_SECRET", world::SLACK_SECRET.into()),
            ("HANDOFF_SLACK_API_URL", world.slack.api_url()),
            ("HANDOFF_DISCORD_BOT_TOKEN", world::DISCORD_TOKEN.into()),
            (
                "HANDOFF_DISCORD_APPLICATION_ID",
                crate::standins::discord::DiscordStandIn::APPLICATION_ID.to_string(),
            ),
            ("HANDOFF_DISCORD_API_URL", world.discord.api_url()),
        ]);
        let defaults: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", DEFAULT_DATABASE_URL.into()),
            ("HANDOFF_LISTEN", DEFAULT_LISTEN.into()),
            ("HANDOFF_ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ]);
        let lookup = |k: &str| {
            forced
                .get(k)
                .cloned()
                .or_else(|| env(k))
                .or_else(|| defaults.get(k).cloned())
        };
        let mut settings = Settings::load_with(config, &lookup).map_err(|problems| {
            let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            anyhow::anyhow!("bad configuration: {}", all.join("; "))
        })?;
        settings.seed = world::seed(settings.seed)?;
        let admin = lookup("HANDOFF_ADMIN_TOKEN").unwrap_or_else(|| ADMIN_TOKEN.into());
        let app = Application::build(settings).await?;
        let addr = app.local_addr();
        let base = format!("http://{}", loopback(addr));
        let world = world.aim(&base, WIDGET_SECRET);
        let app = app.with_routes(api::router(world.clone()));
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let serving = tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
        if let Err(e) = world.connect(&base, &admin).await {
            stop.cancel();
            let _ = serving.await;
            return Err(e.context("the sandbox could not set up its demo operators"));
        }
        Ok(Sandbox {
            addr,
            world,
            stop,
            serving,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The page's address, for people: `http://127.0.0.1:8080/sandbox`.
    pub fn page_url(&self) -> String {
        format!("http://{}/sandbox", loopback(self.addr))
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// Serves until `stop` completes, then stops the service gracefully.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Sandbox {
            stop: token, serving, ..
        } = self;
        tokio::select! {
            _ = stop => token.cancel(),
            _ = token.cancelled() => {}
        }
        serving.await?
    }

    /// Stops the service and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.serving.await?
    }
}

/// An address to reach a listener at: loopback when it listens on every interface.
fn loopback(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn reset(database_url: &str) -> anyhow::Result<()> {
    let Some(db) = sqlite_path(database_url) else {
        anyhow::bail!(
            "--reset removes an SQLite sandbox's files; for {}, drop and create the database yourself",
            crate::config::redact_url(database_url)
        );
    };
    let mut files = vec![db.clone()];
    for suffix in ["-wal", "-shm", ".lock"] {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        files.push(db.with_file_name(name));
    }
    for f in files {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("--reset: cannot remove {}: {e}", f.display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_knows_an_sqlite_file_from_its_url() {
        assert_eq!(
            sqlite_path("sqlite://handoff-sandbox.db"),
            Some(PathBuf::from("handoff-sandbox.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/s.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/s.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u:p@h/db"), None);
    }
}
