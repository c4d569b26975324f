//! Configuration (§8): a TOML file, then environment variables (the environment wins),
//! secrets from the environment or from files named by `…_FILE` variables. Loading
//! collects every problem at once, each naming the setting and its fix, so
//! `handoff-bridge check-config` can list them all and `serve` can stop on the first.
//! Secrets are [`SecretString`]s: they cannot be printed by accident.

use crate::engine::{Policy, ReplyMode, Role, RoutingMode, TakeoverPolicy};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
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
    pub seed: Seed,
}

#[derive(Debug, Clone)]
pub struct WidgetSettings {
    pub secret: SecretString,
    /// Where §7.2 calls go; `None` keeps inbound events on and outbound calls off.
    pub api_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SlackSettings {
    pub bot_token: SecretString,
    pub signing_secret: SecretString,
    pub api_url: String,
    pub default_channel: Option<String>,
    /// Slack user ids that are admins besides Slack's own admins and owners.
    pub admins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub bot_token: SecretString,
    pub application_id: u64,
    pub api_url: String,
    pub default_channel: Option<String>,
    /// Discord user ids that are admins besides members with Manage Server.
    pub admins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How the outbox retries (§6).
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Attempts on 5xx/timeouts before a row becomes a dead letter.
    pub max_attempts: u32,
    pub request_timeout: Duration,
    /// How long a worker may hold a row before another may take it (crash recovery).
    pub lease: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
            max_attempts: 25,
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
        }
    }
}

/// Widgets, operators and teams declared in the file, applied at start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub widgets: Vec<WidgetSeed>,
    #[serde(default)]
    pub operators: Vec<OperatorSeed>,
    #[serde(default)]
    pub teams: Vec<TeamSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetSeed {
    pub id: String,
    pub routing: Option<String>,
    pub slack_channel: Option<String>,
    pub discord_channel: Option<String>,
    /// Operator names; empty or absent = everyone.
    #[serde(default)]
    pub eligible: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSeed {
    pub name: String,
    pub role: Option<String>,
    pub capacity: Option<i64>,
    pub slack_user_id: Option<String>,
    pub discord_user_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSeed {
    pub name: String,
    /// Operator names.
    #[serde(default)]
    pub members: Vec<String>,
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

/// The file's shape. Every field optional: the environment may supply it instead.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    admin_token: Option<String>,
    log_format: Option<String>,
    max_body_bytes: Option<usize>,
    #[serde(default)]
    widget: FileWidget,
    #[serde(default)]
    slack: FilePlatform,
    #[serde(default)]
    discord: FilePlatform,
    #[serde(default)]
    workspace: FileWorkspace,
    #[serde(default)]
    outbox: FileOutbox,
    #[serde(default)]
    widgets: Vec<WidgetSeed>,
    #[serde(default)]
    operators: Vec<OperatorSeed>,
    #[serde(default)]
    teams: Vec<TeamSeed>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWidget {
    secret: Option<String>,
    api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlatform {
    bot_token: Option<String>,
    signing_secret: Option<String>,
    application_id: Option<String>,
    api_url: Option<String>,
    default_channel: Option<String>,
    #[serde(default)]
    admins: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWorkspace {
    takeover: Option<String>,
    reply_mode: Option<String>,
    note_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOutbox {
    backoff_min_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    max_attempts: Option<u32>,
    timeout_ms: Option<u64>,
    lease_ms: Option<u64>,
}

/// Reads settings; `env` looks a variable up (the process environment in production).
struct Loader<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl Loader<'_> {
    fn problem(&mut self, setting: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            setting: setting.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// A plain setting: the environment variable, else the file's value.
    fn plain(&mut self, var: &str, file: Option<String>) -> Option<String> {
        (self.env)(var).filter(|v| !v.is_empty()).or(file)
    }

    /// A secret: `VAR`, else the file named by `VAR_FILE`, else the config file's value.
    fn secret(&mut self, var: &str, file: Option<String>) -> Option<SecretString> {
        if let Some(v) = (self.env)(var).filter(|v| !v.is_empty()) {
            return Some(SecretString::from(v));
        }
        let file_var = format!("{var}_FILE");
        if let Some(path) = (self.env)(&file_var).filter(|v| !v.is_empty()) {
            return match std::fs::read_to_string(&path) {
                Ok(s) if !s.trim().is_empty() => Some(SecretString::from(s.trim().to_owned())),
                Ok(_) => {
                    self.problem(&file_var, format!("the file {path} is empty"), "put the secret in it");
                    None
                }
                Err(e) => {
                    self.problem(
                        &file_var,
                        format!("cannot read {path}: {e}"),
                        "point it at a readable file holding the secret",
                    );
                    None
                }
            };
        }
        file.filter(|v| !v.is_empty()).map(SecretString::from)
    }

    fn url(&mut self, var: &str, value: Option<String>) -> Option<String> {
        let v = value?;
        if v.starts_with("http://") || v.starts_with("https://") {
            Some(v.trim_end_matches('/').to_owned())
        } else {
            self.problem(
                var,
                format!("`{v}` is not an http(s) URL"),
                "use e.g. https://host/path",
            );
            None
        }
    }

    fn parsed<T: std::str::FromStr<Err = String>>(&mut self, var: &str, value: Option<String>, default: T) -> T {
        match value {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e: String| {
                self.problem(var, e, "use one of the listed values");
                default
            }),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, var: &str, file: Option<T>) -> Option<T> {
        match (self.env)(var).filter(|v| !v.is_empty()) {
            Some(v) => match v.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(var, format!("`{v}` is not a number"), "use a whole number");
                    None
                }
            },
            None => file,
        }
    }
}

impl Settings {
    /// Loads from the optional TOML file and the process environment.
    pub fn load(config: Option<&Path>) -> Result<Settings, Vec<Problem>> {
        Self::load_with(config, &|k| std::env::var(k).ok())
    }

    /// Loads with an explicit environment lookup (tests pass a map).
    pub fn load_with(config: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Vec<Problem>> {
        let mut l = Loader {
            env,
            problems: Vec::new(),
        };
        let file = match config {
            None => FileConfig::default(),
            Some(path) => match std::fs::read_to_string(path) {
                Err(e) => {
                    l.problem(
                        "--config",
                        format!("cannot read {}: {e}", path.display()),
                        "point --config or HANDOFF_CONFIG at a readable TOML file",
                    );
                    FileConfig::default()
                }
                Ok(text) => toml::from_str(&text).unwrap_or_else(|e: toml::de::Error| {
                    l.problem(
                        &format!("config file {}", path.display()),
                        e.message().to_owned(),
                        format!(
                            "correct the TOML{}",
                            e.span().map(|s| format!(" near byte {}", s.start)).unwrap_or_default()
                        ),
                    );
                    FileConfig::default()
                }),
            },
        };

        let database_url = l
            .secret("DATABASE_URL", file.database_url)
            .unwrap_or_else(|| SecretString::from(DEFAULT_DATABASE_URL));
        {
            let url = database_url.expose_secret();
            if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                l.problem(
                    "DATABASE_URL",
                    "must start with sqlite: or postgres://",
                    "use sqlite://handoff.db or postgres://user:password@host/db",
                );
            }
        }

        let listen_text = l
            .plain("HANDOFF_LISTEN", file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text.parse().unwrap_or_else(|_| {
            l.problem(
                "HANDOFF_LISTEN",
                format!("`{listen_text}` is not an address"),
                "use host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
            );
            DEFAULT_LISTEN.parse().expect("default address parses")
        });

        let public = l.plain("HANDOFF_PUBLIC_URL", file.public_url);
        let public_url = l.url("HANDOFF_PUBLIC_URL", public);
        let admin_token = l.secret("HANDOFF_ADMIN_TOKEN", file.admin_token);
        if let Some(t) = &admin_token
            && t.expose_secret().len() < 16
        {
            l.problem(
                "HANDOFF_ADMIN_TOKEN",
                "is shorter than 16 characters",
                "use a long random value, e.g. `openssl rand -hex 32`",
            );
        }

        let widget_secret = l.secret("HANDOFF_WIDGET_SECRET", file.widget.secret);
        let widget_api = l.plain("HANDOFF_WIDGET_API_URL", file.widget.api_url);
        let widget_api = l.url("HANDOFF_WIDGET_API_URL", widget_api);
        let widget = match (widget_secret, widget_api) {
            (Some(secret), api_url) => Some(WidgetSettings { secret, api_url }),
            (None, Some(_)) => {
                l.problem(
                    "HANDOFF_WIDGET_SECRET",
                    "is missing while HANDOFF_WIDGET_API_URL is set",
                    "set HANDOFF_WIDGET_SECRET (or HANDOFF_WIDGET_SECRET_FILE) to the widget platform's signing secret",
                );
                None
            }
            (None, None) => None,
        };

        let slack_token = l.secret("HANDOFF_SLACK_BOT_TOKEN", file.slack.bot_token);
        let slack_secret = l.secret("HANDOFF_SLACK_SIGNING_SECRET", file.slack.signing_secret);
        let slack_api = l.plain("HANDOFF_SLACK_API_URL", file.slack.api_url);
        let slack_api = l.url("HANDOFF_SLACK_API_URL", slack_api);
        let slack_channel = l.plain("HANDOFF_SLACK_DEFAULT_CHANNEL", file.slack.default_channel);
        let slack = match (slack_token, slack_secret) {
            (Some(bot_token), Some(signing_secret)) => Some(SlackSettings {
                bot_token,
                signing_secret,
                api_url: slack_api.unwrap_or_else(|| DEFAULT_SLACK_API_URL.trim_end_matches('/').into()),
                default_channel: slack_channel,
                admins: file.slack.admins,
            }),
            (Some(_), None) => {
                l.problem(
                    "HANDOFF_SLACK_SIGNING_SECRET",
                    "is missing while HANDOFF_SLACK_BOT_TOKEN is set",
                    "copy the Signing Secret from the Slack app's Basic Information page",
                );
                None
            }
            (None, Some(_)) => {
                l.problem(
                    "HANDOFF_SLACK_BOT_TOKEN",
                    "is missing while HANDOFF_SLACK_SIGNING_SECRET is set",
                    "copy the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth page",
                );
                None
            }
            (None, None) => None,
        };

        let discord_token = l.secret("HANDOFF_DISCORD_BOT_TOKEN", file.discord.bot_token);
        let discord_app = l.plain("HANDOFF_DISCORD_APPLICATION_ID", file.discord.application_id);
        let discord_api = l.plain("HANDOFF_DISCORD_API_URL", file.discord.api_url);
        let discord_api = l.url("HANDOFF_DISCORD_API_URL", discord_api);
        let discord_channel = l.plain("HANDOFF_DISCORD_DEFAULT_CHANNEL", file.discord.default_channel);
        let discord = match (discord_token, discord_app) {
            (Some(bot_token), Some(app)) => match app.parse::<u64>() {
                Ok(application_id) => Some(DiscordSettings {
                    bot_token,
                    application_id,
                    api_url: discord_api.unwrap_or_else(|| DEFAULT_DISCORD_API_URL.into()),
                    default_channel: discord_channel,
                    admins: file.discord.admins,
                }),
                Err(_) => {
                    l.problem(
                        "HANDOFF_DISCORD_APPLICATION_ID",
                        format!("`{app}` is not a Discord id"),
                        "copy the numeric Application ID from the Discord developer portal",
                    );
                    None
                }
            },
            (Some(_), None) => {
                l.problem(
                    "HANDOFF_DISCORD_APPLICATION_ID",
                    "is missing while HANDOFF_DISCORD_BOT_TOKEN is set",
                    "copy the Application ID from the Discord developer portal",
                );
                None
            }
            (None, Some(_)) => {
                l.problem(
                    "HANDOFF_DISCORD_BOT_TOKEN",
                    "is missing while HANDOFF_DISCORD_APPLICATION_ID is set",
                    "copy the bot token from the Discord developer portal's Bot page",
                );
                None
            }
            (None, None) => None,
        };

        let log_format = match l.plain("HANDOFF_LOG_FORMAT", file.log_format).as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                l.problem(
                    "HANDOFF_LOG_FORMAT",
                    format!("`{other}` is not pretty or json"),
                    "use pretty or json",
                );
                LogFormat::Pretty
            }
        };

        let takeover = l.plain("HANDOFF_TAKEOVER", file.workspace.takeover);
        let reply_mode = l.plain("HANDOFF_REPLY_MODE", file.workspace.reply_mode);
        let note_prefix = l.plain("HANDOFF_NOTE_PREFIX", file.workspace.note_prefix);
        let policy = Policy {
            takeover: l.parsed("HANDOFF_TAKEOVER", takeover, TakeoverPolicy::Managers),
            reply_mode: l.parsed("HANDOFF_REPLY_MODE", reply_mode, ReplyMode::Relay),
            note_prefix: note_prefix.unwrap_or_else(|| "//".into()),
        };

        let d = OutboxSettings::default();
        let ms = |v: Option<u64>, d: Duration| v.map(Duration::from_millis).unwrap_or(d);
        let backoff_min = l.number("HANDOFF_OUTBOX_BACKOFF_MIN_MS", file.outbox.backoff_min_ms);
        let backoff_max = l.number("HANDOFF_OUTBOX_BACKOFF_MAX_MS", file.outbox.backoff_max_ms);
        let max_attempts = l.number("HANDOFF_OUTBOX_MAX_ATTEMPTS", file.outbox.max_attempts);
        let timeout = l.number("HANDOFF_OUTBOX_TIMEOUT_MS", file.outbox.timeout_ms);
        let lease = l.number("HANDOFF_OUTBOX_LEASE_MS", file.outbox.lease_ms);
        let outbox = OutboxSettings {
            backoff_min: ms(backoff_min, d.backoff_min),
            backoff_max: ms(backoff_max, d.backoff_max),
            max_attempts: max_attempts.unwrap_or(d.max_attempts).max(1),
            request_timeout: ms(timeout, d.request_timeout),
            lease: ms(lease, d.lease),
        };
        if outbox.backoff_min > outbox.backoff_max {
            l.problem(
                "HANDOFF_OUTBOX_BACKOFF_MIN_MS",
                "is larger than HANDOFF_OUTBOX_BACKOFF_MAX_MS",
                "make the minimum smaller than the maximum",
            );
        }
        let max_body_bytes = l
            .number("HANDOFF_MAX_BODY_BYTES", file.max_body_bytes)
            .unwrap_or(1024 * 1024);

        let seed = Seed {
            widgets: file.widgets,
            operators: file.operators,
            teams: file.teams,
        };
        check_seed(&mut l, &seed);

        if l.problems.is_empty() {
            Ok(Settings {
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
                seed,
            })
        } else {
            Err(l.problems)
        }
    }

    /// A one-screen summary without secrets, for `check-config` and the start-up log.
    pub fn summary(&self) -> String {
        let db = redact_url(self.database_url.expose_secret());
        let on = |b: bool| if b { "on" } else { "off" };
        format!(
            "database {db}; listening on {}; HTTP API {}; widget events {}, widget calls {}; Slack {}; Discord {}; {} widgets, {} operators, {} teams declared",
            self.listen,
            on(self.admin_token.is_some()),
            on(self.widget.is_some()),
            on(self.widget.as_ref().is_some_and(|w| w.api_url.is_some())),
            on(self.slack.is_some()),
            if self.discord.is_some() {
                "configured, but not in this version"
            } else {
                "off"
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

fn check_seed(l: &mut Loader<'_>, seed: &Seed) {
    let names: Vec<&str> = seed.operators.iter().map(|o| o.name.as_str()).collect();
    for (i, o) in seed.operators.iter().enumerate() {
        let at = format!("[[operators]] #{} ({})", i + 1, o.name);
        if o.name.trim().is_empty() {
            l.problem(&at, "has an empty name", "give every operator a name");
        }
        if names.iter().filter(|n| **n == o.name).count() > 1 {
            l.problem(&at, "the name is declared twice", "give each operator a distinct name");
        }
        if let Some(role) = &o.role
            && let Err(e) = role.parse::<Role>()
        {
            l.problem(&format!("{at}.role"), e, "use agent, manager or admin");
        }
        if o.capacity.is_some_and(|c| c < 0) {
            l.problem(
                &format!("{at}.capacity"),
                "is negative",
                "use 0 or more, or leave it out for no limit",
            );
        }
    }
    let mut ids: Vec<&str> = Vec::new();
    for w in &seed.widgets {
        let at = format!("[[widgets]] {}", w.id);
        if w.id.trim().is_empty() {
            l.problem(
                "[[widgets]]",
                "a widget has an empty id",
                "give every widget its platform id",
            );
        }
        if ids.contains(&w.id.as_str()) {
            l.problem(&at, "is declared twice", "declare each widget once");
        }
        ids.push(&w.id);
        if let Some(r) = &w.routing
            && let Err(e) = r.parse::<RoutingMode>()
        {
            l.problem(&format!("{at}.routing"), e, "use manual, round-robin or lightest-load");
        }
        for name in &w.eligible {
            if !names.contains(&name.as_str()) {
                l.problem(
                    &format!("{at}.eligible"),
                    format!("names `{name}`, who is not in [[operators]]"),
                    "declare the operator or remove the name",
                );
            }
        }
    }
    for t in &seed.teams {
        for name in &t.members {
            if !names.contains(&name.as_str()) {
                l.problem(
                    &format!("[[teams]] {}.members", t.name),
                    format!("names `{name}`, who is not in [[operators]]"),
                    "declare the operator or remove the name",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, Vec<Problem>> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        if let Some(t) = toml {
            std::fs::write(&path, t).unwrap();
        }
        Settings::load_with(toml.map(|_| path.as_path()), &|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_run_on_sqlite_with_everything_off() {
        let s = load(None, &[]).unwrap();
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.admin_token.is_none() && s.slack.is_none() && s.discord.is_none() && s.widget.is_none());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let s = load(
            Some("listen = \"127.0.0.1:9000\"\n[workspace]\ntakeover = \"never\"\n"),
            &[("HANDOFF_LISTEN", "127.0.0.1:9100")],
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.policy.takeover, TakeoverPolicy::Never);
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "a-very-long-admin-token-value\n").unwrap();
        let s = load(None, &[("HANDOFF_ADMIN_TOKEN_FILE", p.to_str().unwrap())]).unwrap();
        assert_eq!(
            s.admin_token.as_ref().unwrap().expose_secret(),
            "a-very-long-admin-token-value"
        );
        assert!(!format!("{s:?}").contains("a-very-long-admin-token-value"));
    }

    #[test]
    fn every_problem_is_named_with_its_fix() {
        let problems = load(
            Some("[[widgets]]\nid = \"w\"\nrouting = \"random\"\neligible = [\"Nobody\"]\n"),
            &[
                ("DATABASE_URL", "mysql://x"),
                ("HANDOFF_LISTEN", "nope"),
                ("HANDOFF_SLACK_BOT_TOKEN", "xoxb-1"),
            ],
        )
        .unwrap_err();
        let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
        assert!(settings.contains(&"DATABASE_URL"), "{settings:?}");
        assert!(settings.contains(&"HANDOFF_LISTEN"));
        assert!(settings.contains(&"HANDOFF_SLACK_SIGNING_SECRET"));
        assert!(settings.contains(&"[[widgets]] w.routing"));
        assert!(settings.contains(&"[[widgets]] w.eligible"));
        assert!(problems.iter().all(|p| !p.fix.is_empty()));
    }

    #[test]
    fn a_toml_typo_is_reported() {
        let problems = load(Some("listne = 1"), &[]).unwrap_err();
        assert!(problems[0].setting.starts_with("config file"), "{problems:?}");
        assert!(problems[0].message.contains("listne"), "{problems:?}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
