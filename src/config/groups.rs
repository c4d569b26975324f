//! One reader per group of settings: each takes the file's values for its group, lets
//! the environment override them, checks them and records what is wrong, so each group's
//! rules (defaults, which settings only work together, the fix to suggest) sit in one
//! place.

use super::env::Loader;
use super::file::{FileOutbox, FilePlatform, FileWidget, FileWorkspace};
use super::{
    DEFAULT_DATABASE_URL, DEFAULT_DISCORD_API_URL, DEFAULT_LISTEN, DEFAULT_SLACK_API_URL, DiscordSettings,
    FileSettings, LogFormat, OutboxSettings, SlackSettings, WidgetSettings,
};
use crate::engine::Policy;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;

pub(super) fn database_url(l: &mut Loader<'_>, file: Option<String>) -> SecretString {
    let database_url = l
        .secret("DATABASE_URL", file)
        .unwrap_or_else(|| SecretString::from(DEFAULT_DATABASE_URL));
    let url = database_url.expose_secret();
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        l.problem(
            "DATABASE_URL",
            "must start with sqlite: or postgres://",
            "use sqlite://handoff.db or postgres://user:password@host/db",
        );
    }
    database_url
}

pub(super) fn listen(l: &mut Loader<'_>, file: Option<String>) -> SocketAddr {
    let text = l.plain("HANDOFF_LISTEN", file).unwrap_or_else(|| DEFAULT_LISTEN.into());
    text.parse().unwrap_or_else(|_| {
        l.problem(
            "HANDOFF_LISTEN",
            format!("`{text}` is not an address"),
            "use host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
        );
        DEFAULT_LISTEN.parse().expect("default address parses")
    })
}

/// A secret of at least 16 characters; a shorter one is a problem, with `fix`.
fn long_secret(l: &mut Loader<'_>, var: &str, file: Option<String>, fix: &str) -> Option<SecretString> {
    let secret = l.secret(var, file);
    if let Some(t) = &secret
        && t.expose_secret().len() < 16
    {
        l.problem(var, "is shorter than 16 characters", fix);
    }
    secret
}

/// The HTTP API's admin token; short ones are refused.
pub(super) fn admin_token(l: &mut Loader<'_>, file: Option<String>) -> Option<SecretString> {
    long_secret(
        l,
        "HANDOFF_ADMIN_TOKEN",
        file,
        "use a long random value, e.g. `openssl rand -hex 32`",
    )
}

/// The bearer token `/metrics` wants, if any; short ones are refused.
pub(super) fn metrics_token(l: &mut Loader<'_>, file: Option<String>) -> Option<SecretString> {
    long_secret(
        l,
        "HANDOFF_METRICS_TOKEN",
        file,
        "use a long random value, e.g. `openssl rand -hex 24`, and give it to Prometheus as its bearer token",
    )
}

/// The widget platform: its secret turns inbound events on; the API URL, outbound calls.
pub(super) fn widget(l: &mut Loader<'_>, file: FileWidget) -> Option<WidgetSettings> {
    let secret = long_secret(
        l,
        "HANDOFF_WIDGET_SECRET",
        file.secret,
        "use the widget platform's signing secret; for a test setup, a long random value (`openssl rand -hex 24`)",
    );
    let api_url = l.url("HANDOFF_WIDGET_API_URL", file.api_url);
    match (secret, api_url) {
        (Some(secret), api_url) => Some(WidgetSettings { secret, api_url }),
        (None, Some(_)) => {
            l.missing(
                "HANDOFF_WIDGET_SECRET",
                "HANDOFF_WIDGET_API_URL",
                "set HANDOFF_WIDGET_SECRET (or HANDOFF_WIDGET_SECRET_FILE) to the widget platform's signing secret",
            );
            None
        }
        (None, None) => None,
    }
}

/// A setting that only works together with another, and how to find its value.
struct Paired {
    var: &'static str,
    fix: &'static str,
}

const SLACK_BOT_TOKEN: Paired = Paired {
    var: "HANDOFF_SLACK_BOT_TOKEN",
    fix: "copy the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth page",
};
const SLACK_SIGNING_SECRET: Paired = Paired {
    var: "HANDOFF_SLACK_SIGNING_SECRET",
    fix: "copy the Signing Secret from the Slack app's Basic Information page",
};
const DISCORD_BOT_TOKEN: Paired = Paired {
    var: "HANDOFF_DISCORD_BOT_TOKEN",
    fix: "copy the bot token from the Discord developer portal's Bot page",
};
const DISCORD_APPLICATION_ID: Paired = Paired {
    var: "HANDOFF_DISCORD_APPLICATION_ID",
    fix: "copy the Application ID from the Discord developer portal",
};

/// Both values, or neither, or a problem naming the missing one.
fn together<A, B>(
    l: &mut Loader<'_>,
    (a_set, a): (Paired, Option<A>),
    (b_set, b): (Paired, Option<B>),
) -> Option<(A, B)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a, b)),
        (Some(_), None) => {
            l.missing(b_set.var, a_set.var, b_set.fix);
            None
        }
        (None, Some(_)) => {
            l.missing(a_set.var, b_set.var, a_set.fix);
            None
        }
        (None, None) => None,
    }
}

/// Slack is on when both its bot token and its signing secret are set.
pub(super) fn slack(l: &mut Loader<'_>, file: FilePlatform) -> Option<SlackSettings> {
    let token = l.secret(SLACK_BOT_TOKEN.var, file.bot_token);
    let secret = l.secret(SLACK_SIGNING_SECRET.var, file.signing_secret);
    let api_url = l.url("HANDOFF_SLACK_API_URL", file.api_url);
    let default_channel = l.plain("HANDOFF_SLACK_DEFAULT_CHANNEL", file.default_channel);
    let app_token = l.secret("HANDOFF_SLACK_APP_TOKEN", file.app_token);
    if let Some(t) = &app_token
        && (!t.expose_secret().starts_with("xapp-") || t.expose_secret().contains(char::is_whitespace))
    {
        l.problem(
            "HANDOFF_SLACK_APP_TOKEN",
            "is not an app-level token (they start with xapp-)",
            "on the Slack app's Basic Information page, under App-Level Tokens, generate one with the connections:write scope",
        );
    }
    let (bot_token, signing_secret) = together(l, (SLACK_BOT_TOKEN, token), (SLACK_SIGNING_SECRET, secret))?;
    let shown = bot_token.expose_secret();
    if !shown.starts_with("xoxb-") || shown.contains(char::is_whitespace) {
        // Never the token itself: only which kind it looks like.
        let kind = match shown.get(..5) {
            Some("xoxp-") => "a user token (xoxp-), not the bot token",
            Some("xapp-") => "an app-level token (xapp-), not the bot token",
            _ if shown.contains(char::is_whitespace) => "holds more than the token (spaces or a `Bearer ` prefix)",
            _ => "not a bot token (they start with xoxb-)",
        };
        l.problem(SLACK_BOT_TOKEN.var, kind, SLACK_BOT_TOKEN.fix);
        return None;
    }
    Some(SlackSettings {
        bot_token,
        signing_secret,
        app_token,
        api_url: api_url.unwrap_or_else(|| DEFAULT_SLACK_API_URL.trim_end_matches('/').into()),
        default_channel,
        admins: file.admins,
        paced: true,
    })
}

/// Discord is on when both its bot token and its (numeric) application id are set.
pub(super) fn discord(l: &mut Loader<'_>, file: FilePlatform) -> Option<DiscordSettings> {
    let token = l.secret(DISCORD_BOT_TOKEN.var, file.bot_token);
    let app = l.plain(DISCORD_APPLICATION_ID.var, file.application_id);
    let api_url = l.url("HANDOFF_DISCORD_API_URL", file.api_url);
    let default_channel = l.plain("HANDOFF_DISCORD_DEFAULT_CHANNEL", file.default_channel);
    let shards = l.number::<u32>("HANDOFF_DISCORD_SHARDS", None).unwrap_or(1);
    if !(1..=MAX_SHARDS).contains(&shards) {
        l.problem(
            "HANDOFF_DISCORD_SHARDS",
            format!("{shards} is not between 1 and {MAX_SHARDS}"),
            "leave it unset (1 shard) unless Discord asks for more (bots in over 2,500 servers)",
        );
    }
    let (bot_token, app) = together(l, (DISCORD_BOT_TOKEN, token), (DISCORD_APPLICATION_ID, app))?;
    let Ok(application_id) = app.parse::<u64>() else {
        l.problem(
            DISCORD_APPLICATION_ID.var,
            format!("`{app}` is not a Discord id"),
            "copy the numeric Application ID from the Discord developer portal",
        );
        return None;
    };
    if bot_token.expose_secret().starts_with("Bot ") || bot_token.expose_secret().contains(char::is_whitespace) {
        l.problem(
            DISCORD_BOT_TOKEN.var,
            "holds more than the token (a `Bot ` prefix, or spaces)",
            "set the token alone, as the developer portal's Bot page shows it",
        );
    }
    if let Some(c) = default_channel.as_deref()
        && !super::is_snowflake(c)
    {
        l.problem(
            "HANDOFF_DISCORD_DEFAULT_CHANNEL",
            format!("`{c}` is not a Discord channel id"),
            "copy the numeric id (Discord: Developer Mode, right-click the channel, Copy Channel ID)",
        );
    }
    for admin in file.admins.iter().filter(|a| !super::is_snowflake(a)) {
        l.problem(
            "[discord].admins",
            format!("`{admin}` is not a Discord user id"),
            "list numeric user ids (Discord: Developer Mode, right-click the user, Copy User ID)",
        );
    }
    Some(DiscordSettings {
        bot_token,
        application_id,
        api_url: api_url.unwrap_or_else(|| DEFAULT_DISCORD_API_URL.into()),
        default_channel,
        admins: file.admins,
        shards: shards.clamp(1, MAX_SHARDS),
        paced: true,
    })
}

/// The most gateway shards the bridge runs.
const MAX_SHARDS: u32 = 1024;

pub(super) fn log_format(l: &mut Loader<'_>, file: Option<String>) -> LogFormat {
    match l.plain("HANDOFF_LOG_FORMAT", file).as_deref() {
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
    }
}

/// The workspace policy: who may take over, how thread messages are treated, and the
/// internal-note prefix.
pub(super) fn policy(l: &mut Loader<'_>, file: FileWorkspace) -> Policy {
    let d = Policy::default();
    Policy {
        takeover: l.parsed("HANDOFF_TAKEOVER", file.takeover, d.takeover),
        reply_mode: l.parsed("HANDOFF_REPLY_MODE", file.reply_mode, d.reply_mode),
        note_prefix: l
            .plain("HANDOFF_NOTE_PREFIX", file.note_prefix)
            .unwrap_or(d.note_prefix),
        provisioning: l.parsed("HANDOFF_PROVISIONING", file.provisioning, d.provisioning),
    }
}

/// Retries, timeouts and leases of outbound deliveries.
pub(super) fn outbox(l: &mut Loader<'_>, file: FileOutbox) -> OutboxSettings {
    let d = OutboxSettings::default();
    let outbox = OutboxSettings {
        backoff_min: l.millis("HANDOFF_OUTBOX_BACKOFF_MIN_MS", file.backoff_min_ms, d.backoff_min),
        backoff_max: l.millis("HANDOFF_OUTBOX_BACKOFF_MAX_MS", file.backoff_max_ms, d.backoff_max),
        max_attempts: l
            .number("HANDOFF_OUTBOX_MAX_ATTEMPTS", file.max_attempts)
            .unwrap_or(d.max_attempts)
            .max(1),
        request_timeout: l.millis("HANDOFF_OUTBOX_TIMEOUT_MS", file.timeout_ms, d.request_timeout),
        lease: l.millis("HANDOFF_OUTBOX_LEASE_MS", file.lease_ms, d.lease),
        retention: match l.number::<u64>("HANDOFF_RETENTION_DAYS", file.retention_days) {
            Some(0) => None,
            Some(days) => Some(std::time::Duration::from_secs(days.saturating_mul(24 * 3600))),
            None => d.retention,
        },
    };
    if outbox.backoff_min > outbox.backoff_max {
        l.problem(
            "HANDOFF_OUTBOX_BACKOFF_MIN_MS",
            "is larger than HANDOFF_OUTBOX_BACKOFF_MAX_MS",
            "make the minimum smaller than the maximum",
        );
    }
    outbox
}

pub(super) fn max_body_bytes(l: &mut Loader<'_>, file: Option<usize>) -> usize {
    l.number("HANDOFF_MAX_BODY_BYTES", file).unwrap_or(1024 * 1024)
}

/// `[files]` / `HANDOFF_FILES_*`: the largest file sent, the types sent (`image/*`,
/// `application/pdf`, …), and how long a link works (`24h`, at most 7 days).
pub(super) fn files(l: &mut Loader<'_>, file: super::file::FileFiles) -> FileSettings {
    use super::files_defaults as d;
    let max_bytes = l
        .number("HANDOFF_FILES_MAX_BYTES", file.max_bytes)
        .unwrap_or(d::MAX_BYTES);
    let types: Vec<String> = match l.plain("HANDOFF_FILES_TYPES", None) {
        Some(v) => v
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        None => match file.types {
            Some(list) => list.into_iter().map(|t| t.trim().to_ascii_lowercase()).collect(),
            None => d::TYPES.split(',').map(|t| t.trim().to_owned()).collect(),
        },
    };
    for t in &types {
        let ok = t == "*" || t.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty());
        if !ok {
            l.problem(
                "HANDOFF_FILES_TYPES",
                format!("`{t}` is not a MIME type"),
                "list types like `image/*, application/pdf`",
            );
        }
    }
    let link_ttl = match l.plain("HANDOFF_FILES_LINK_TTL", file.link_ttl) {
        None => d::LINK_TTL,
        Some(v) => match humantime::parse_duration(v.trim()) {
            Ok(t) if t >= std::time::Duration::from_secs(60) && t <= std::time::Duration::from_secs(7 * 24 * 3600) => t,
            Ok(_) => {
                l.problem(
                    "HANDOFF_FILES_LINK_TTL",
                    format!("`{v}` is out of range"),
                    "use 1m to 7d, e.g. `24h`",
                );
                d::LINK_TTL
            }
            Err(e) => {
                l.problem(
                    "HANDOFF_FILES_LINK_TTL",
                    format!("`{v}` is not a duration: {e}"),
                    "write it like `24h` or `90m`",
                );
                d::LINK_TTL
            }
        },
    };
    FileSettings {
        max_bytes,
        types,
        link_ttl,
    }
}
