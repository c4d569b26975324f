//! Configuration: a TOML file, then environment variables (the environment wins),
//! secrets from the environment or from files named by `…_FILE` variables. Loading
//! collects every problem at once, each naming the setting and its fix, so
//! `handoff-bridge check-config` can list them all and `serve` can stop on the first.
//! Secrets are [`SecretString`]s: they cannot be printed by accident.
//!
//! The file's shape is in `file`, how one setting is read in `env`, each group of
//! settings in `groups`, and the declared widgets, operators and teams in `seed`.

mod env;
mod file;
mod groups;
mod seed;
#[cfg(test)]
mod tests;

pub use seed::{OperatorSeed, Seed, TeamSeed, WidgetSeed};

use crate::engine::Policy;
use env::Loader;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://handoff.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api/";
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com";

/// Everything the service needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    /// The HTTP API's admin token; `None` turns the API off (health stays on).
    pub admin_token: Option<SecretString>,
    pub widget: Option<WidgetSettings>,
    pub slack: Option<SlackSettings>,
    pub discord: Option<DiscordSettings>,
    pub log_format: LogFormat,
    pub policy: Policy,
    pub outbox: OutboxSettings,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Event streams (`GET /v1/events`) open at once.
    pub max_streams: usize,
    /// When set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<SecretString>,
    pub files: FileSettings,
    pub seed: Seed,
}

/// The defaults of `[files]`.
pub mod files_defaults {
    use std::time::Duration;
    /// The largest file sent: 25 MB.
    pub const MAX_BYTES: u64 = 25 * 1024 * 1024;
    /// Images, PDFs, plain text and CSV, office documents and zip archives.
    pub const TYPES: &str = "image/*, application/pdf, text/plain, text/csv, application/msword, \
         application/vnd.openxmlformats-officedocument.*, application/vnd.oasis.opendocument.*, application/zip";
    /// How long a link works.
    pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);
}

/// What operators' files may be sent to the visitor, and how long a link to one works.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub max_bytes: u64,
    /// MIME types, exact or ending in `*`.
    pub types: Vec<String>,
    pub link_ttl: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct WidgetSettings {
    pub secret: SecretString,
    /// Where calls to the widget platform go; `None` keeps inbound events on and
    /// outbound calls off.
    pub api_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub bot_token: SecretString,
    pub signing_secret: SecretString,
    /// The app-level token (`xapp-…`) that turns on Socket Mode: events, interactions
    /// and commands come over WebSockets the bridge opens, with no public URL needed.
    pub app_token: Option<SecretString>,
    pub api_url: String,
    pub default_channel: Option<String>,
    /// Slack user ids that are admins besides Slack's own admins and owners.
    pub admins: Vec<String>,
    /// Whether Web API calls keep Slack's published rate limits before Slack enforces
    /// them. Always on from the configuration; only the load generator turns it off,
    /// against a stand-in that enforces no limits, to measure the bridge itself.
    pub paced: bool,
}

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub bot_token: SecretString,
    pub application_id: u64,
    pub api_url: String,
    pub default_channel: Option<String>,
    /// Discord user ids that are admins besides members with Manage Server.
    pub admins: Vec<String>,
    /// Gateway shards (`HANDOFF_DISCORD_SHARDS`, 1 by default). With several instances
    /// on PostgreSQL each shard is held by one instance at a time.
    pub shards: u32,
    /// Whether REST calls keep Discord's global limit (50 a second) before Discord
    /// enforces it. Always on from the configuration; only the load generator turns it
    /// off, against a stand-in that enforces none. The buckets and pauses Discord's
    /// answers report are obeyed either way.
    pub paced: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How the outbox delivers: retries with backoff, timeouts, and leases.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Attempts on 5xx/timeouts before a row becomes a dead letter.
    pub max_attempts: u32,
    pub request_timeout: Duration,
    /// How long a worker may hold a row before another may take it (crash recovery).
    pub lease: Duration,
    /// How long delivered rows and the ids of inbound events are kept (`None`: forever).
    pub retention: Option<Duration>,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
            max_attempts: 25,
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// One bad setting: which, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.setting, self.message, self.fix)
    }
}

impl Settings {
    /// Loads from the optional TOML file and the process environment.
    pub fn load(config: Option<&Path>) -> Result<Settings, Vec<Problem>> {
        Self::load_with(config, &|k| std::env::var(k).ok())
    }

    /// Loads with an explicit environment lookup (tests pass a map). Problems come in
    /// the order of the settings below.
    pub fn load_with(config: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Vec<Problem>> {
        let mut l = Loader::new(env);
        let file = file::read(&mut l, config);
        let database_url = groups::database_url(&mut l, file.database_url);
        let listen = groups::listen(&mut l, file.listen);
        let public_url = l.url("HANDOFF_PUBLIC_URL", file.public_url);
        let admin_token = groups::admin_token(&mut l, file.admin_token);
        let widget = groups::widget(&mut l, file.widget);
        let slack = groups::slack(&mut l, file.slack);
        let discord = groups::discord(&mut l, file.discord);
        let log_format = groups::log_format(&mut l, file.log_format);
        let policy = groups::policy(&mut l, file.workspace);
        let outbox = groups::outbox(&mut l, file.outbox);
        let max_body_bytes = groups::max_body_bytes(&mut l, file.max_body_bytes);
        let max_streams = l.number("HANDOFF_MAX_STREAMS", file.max_streams).unwrap_or(500);
        let metrics_token = groups::metrics_token(&mut l, file.metrics_token);
        let files = groups::files(&mut l, file.files);
        let seed = seed::load(&mut l, file.widgets, file.operators, file.teams);
        l.finish(Settings {
            database_url,
            listen,
            public_url,
            admin_token,
            widget,
            slack,
            discord,
            log_format,
            policy,
            outbox,
            max_body_bytes,
            max_streams,
            metrics_token,
            files,
            seed,
        })
    }

    /// Settings that work but are likely not what was meant, each with what to do.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let sends_files = self.widget.as_ref().is_some_and(|w| w.api_url.is_some())
            && (self.slack.is_some() || self.discord.is_some());
        if sends_files && self.public_url.is_none() {
            out.push(format!(
                "HANDOFF_PUBLIC_URL is not set: links to files operators share are built on the listen address \
                 (http://{}), which the widget platform may not reach; set it to the bridge's public address",
                self.listen
            ));
        }
        if self.public_url.is_some() && self.slack.as_ref().is_some_and(|s| s.app_token.is_some()) {
            out.push(
                "HANDOFF_PUBLIC_URL and HANDOFF_SLACK_APP_TOKEN are both set: Slack comes over Socket Mode, \
                 so the Slack app needs no request URLs (manifests/slack/manifest.socket-mode.yml); \
                 unset HANDOFF_SLACK_APP_TOKEN to use the webhooks instead"
                    .to_owned(),
            );
        }
        out
    }

    /// A one-screen summary without secrets, for `check-config` and the start-up log.
    pub fn summary(&self) -> String {
        let db = redact_url(self.database_url.expose_secret());
        let on = |b: bool| if b { "on" } else { "off" };
        format!(
            "database {db}; listening on {}; HTTP API {}; widget events {}, widget calls {}; Slack {}; Discord {}; metrics {}; {} widgets, {} operators, {} teams declared",
            self.listen,
            on(self.admin_token.is_some()),
            on(self.widget.is_some()),
            on(self.widget.as_ref().is_some_and(|w| w.api_url.is_some())),
            match &self.slack {
                Some(s) if s.app_token.is_some() => "on (Socket Mode)",
                Some(_) => "on",
                None => "off",
            },
            on(self.discord.is_some()),
            if self.metrics_token.is_some() {
                "behind a token"
            } else {
                "open"
            },
            self.seed.widgets.len(),
            self.seed.operators.len(),
            self.seed.teams.len(),
        )
    }
}

/// Hides the password of `scheme://user:password@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A Discord id (a snowflake): digits only, 17 to 20 of them.
pub fn is_snowflake(id: &str) -> bool {
    (17..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}
