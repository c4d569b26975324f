//! Widgets, operators and teams declared in the config file and applied at start, and
//! the checks that catch a bad declaration before anything is written.

use super::env::Loader;
use crate::engine::{Role, RoutingMode, Window};
use serde::Deserialize;

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
    /// The Slack user group (`S…` id) its thread notices mention, once per conversation.
    pub slack_escalation: Option<String>,
    /// The Discord role (numeric id) its thread notices mention, once per conversation.
    pub discord_escalation: Option<String>,
    /// Operator names; empty or absent = everyone.
    #[serde(default)]
    pub eligible: Vec<String>,
    /// How long a routed conversation waits for its assignee to accept (`"5m"`); absent
    /// leaves it as it is, `"off"` switches it off.
    pub accept_within: Option<String>,
    /// How long a visitor's message waits for a reply before the assignee is nudged.
    pub reply_within: Option<String>,
}

impl WidgetSeed {
    /// Its timers, as [`crate::service`] sets them: `None` leaves one as it is.
    /// Checked when the configuration is loaded, so they parse here.
    pub fn timers(&self) -> (Option<Option<Window>>, Option<Option<Window>>) {
        let parse = |t: &Option<String>| t.as_deref().and_then(|t| Window::parse(t).ok());
        (parse(&self.accept_within), parse(&self.reply_within))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSeed {
    /// What seeding finds this operator by at every start: `key`, or else `name` as
    /// written here. Never the operator's current display name, which they may change.
    pub key: Option<String>,
    pub name: String,
    pub role: Option<String>,
    pub capacity: Option<i64>,
    pub slack_user_id: Option<String>,
    pub discord_user_id: Option<String>,
}

// The file names each platform's account and channel in a field of its own; seeding
// reads them as entries keyed by platform name.

impl OperatorSeed {
    /// The key seeding finds this operator by.
    pub fn seed_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }

    /// (platform name, account on it), for every platform the file has a field for.
    pub fn accounts(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("slack", self.slack_user_id.as_deref()),
            ("discord", self.discord_user_id.as_deref()),
        ]
    }
}

impl WidgetSeed {
    /// (platform name, channel on it), for every platform the file has a field for.
    pub fn channels(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("slack", self.slack_channel.as_deref()),
            ("discord", self.discord_channel.as_deref()),
        ]
    }

    /// (platform name, escalation target on it), for every platform the file has a field for.
    pub fn escalations(&self) -> [(&'static str, Option<&str>); 2] {
        [
            ("slack", self.slack_escalation.as_deref()),
            ("discord", self.discord_escalation.as_deref()),
        ]
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSeed {
    pub name: String,
    /// Operator names.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The file's declarations, checked.
pub(super) fn load(
    l: &mut Loader<'_>,
    widgets: Vec<WidgetSeed>,
    operators: Vec<OperatorSeed>,
    teams: Vec<TeamSeed>,
) -> Seed {
    let seed = Seed {
        widgets,
        operators,
        teams,
    };
    check(l, &seed);
    seed
}

fn check(l: &mut Loader<'_>, seed: &Seed) {
    let names: Vec<&str> = seed.operators.iter().map(|o| o.name.as_str()).collect();
    let keys: Vec<&str> = seed.operators.iter().map(OperatorSeed::seed_key).collect();
    for (i, o) in seed.operators.iter().enumerate() {
        let at = format!("[[operators]] #{} ({})", i + 1, o.name);
        if o.name.trim().is_empty() {
            l.problem(&at, "has an empty name", "give every operator a name");
        }
        if o.key.is_some() && keys.iter().filter(|k| **k == o.seed_key()).count() > 1 {
            l.problem(
                &format!("{at}.key"),
                "the key is declared twice",
                "give each operator a distinct key",
            );
        }
        if names.iter().filter(|n| **n == o.name).count() > 1 {
            l.problem(&at, "the name is declared twice", "give each operator a distinct name");
        }
        if let Some(role) = &o.role
            && let Err(e) = role.parse::<Role>()
        {
            l.problem(&format!("{at}.role"), e, "use agent, manager or admin");
        }
        if let Some(id) = &o.discord_user_id
            && !super::is_snowflake(id)
        {
            l.problem(
                &format!("{at}.discord_user_id"),
                format!("`{id}` is not a Discord user id"),
                "copy the numeric id (Discord: Developer Mode, right-click the user, Copy User ID)",
            );
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
        for (field, value) in [("accept_within", &w.accept_within), ("reply_within", &w.reply_within)] {
            if let Some(text) = value
                && let Err(e) = Window::parse(text)
            {
                l.problem(
                    &format!("{at}.{field}"),
                    e,
                    "write a duration of at most 24h, like \"5m\" or \"90s\", or \"off\"",
                );
            }
        }
        if let Some(id) = &w.discord_escalation
            && !super::is_snowflake(id)
        {
            l.problem(
                &format!("{at}.discord_escalation"),
                format!("`{id}` is not a Discord role id"),
                "copy the role's numeric id (Discord: Developer Mode, Server Settings → Roles, right-click, Copy Role ID)",
            );
        }
        if let Some(id) = &w.slack_escalation
            && !(id.starts_with('S') && id.len() > 1 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            l.problem(
                &format!("{at}.slack_escalation"),
                format!("`{id}` is not a Slack user group id"),
                "use the group's id, which starts with S (usergroups.list, or the group's link)",
            );
        }
        if let Some(id) = &w.discord_channel
            && !super::is_snowflake(id)
        {
            l.problem(
                &format!("{at}.discord_channel"),
                format!("`{id}` is not a Discord channel id"),
                "copy the numeric id (Discord: Developer Mode, right-click the channel, Copy Channel ID)",
            );
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
