//! The TOML file's shape. Every field is optional, since the environment may supply it
//! instead, and unknown fields are refused, so a typo is reported rather than ignored.

use super::env::Loader;
use super::seed::{OperatorSeed, TeamSeed, WidgetSeed};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub admin_token: Option<String>,
    pub log_format: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub max_streams: Option<usize>,
    pub metrics_token: Option<String>,
    #[serde(default)]
    pub widget: FileWidget,
    #[serde(default)]
    pub slack: FilePlatform,
    #[serde(default)]
    pub discord: FilePlatform,
    #[serde(default)]
    pub workspace: FileWorkspace,
    #[serde(default)]
    pub outbox: FileOutbox,
    #[serde(default)]
    pub files: FileFiles,
    #[serde(default)]
    pub widgets: Vec<WidgetSeed>,
    #[serde(default)]
    pub operators: Vec<OperatorSeed>,
    #[serde(default)]
    pub teams: Vec<TeamSeed>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWidget {
    pub secret: Option<String>,
    pub api_url: Option<String>,
}

/// `[slack]` and `[discord]`; each uses the fields its platform needs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePlatform {
    pub bot_token: Option<String>,
    pub signing_secret: Option<String>,
    /// Slack only: the app-level token of Socket Mode.
    pub app_token: Option<String>,
    pub application_id: Option<String>,
    pub api_url: Option<String>,
    pub default_channel: Option<String>,
    #[serde(default)]
    pub admins: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWorkspace {
    pub takeover: Option<String>,
    pub reply_mode: Option<String>,
    pub note_prefix: Option<String>,
    pub provisioning: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOutbox {
    pub backoff_min_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub lease_ms: Option<u64>,
    pub retention_days: Option<u64>,
}

/// `[files]`: what operators' files may be sent to the visitor, and for how long a
/// link to one works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileFiles {
    pub max_bytes: Option<u64>,
    pub types: Option<Vec<String>>,
    pub link_ttl: Option<String>,
}

/// The file at `path`, or an empty one (no file, or a problem reading or parsing it).
pub(super) fn read(l: &mut Loader<'_>, path: Option<&Path>) -> FileConfig {
    let Some(path) = path else {
        return FileConfig::default();
    };
    match std::fs::read_to_string(path) {
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
    }
}
