//! `/handoff` and `/handoff-manage` as Discord slash commands with typed subcommands
//! and options (users, teams, widgets, and the routing mode as choices), registered per
//! guild at start-up by bulk overwrite. Discord applies `default_member_permissions` to
//! a whole command, so the manager-only subcommands (connect, routing, eligible, team)
//! form their own command carrying Manage Server; the engine checks roles either way.
//! Each is answered with a deferred ephemeral response at once, then filled in with the
//! same answer Slack gives.

use super::Discord;
use super::people::Member;
use crate::engine::{Presence, RoutingMode, Window};
use crate::platform::handoff::usage::{self, Described, OptKind};
use crate::platform::handoff::{self, Front, InboxFilter, Subcommand, Timer};
use crate::service::{LinkedOperator, Service, ServiceError};
use serde_json::{Value, json};
use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandInteraction, CreateInteractionResponse,
    CreateInteractionResponseMessage, User, UserId,
};
use std::collections::HashMap;

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

/// Where a neutral subcommand lives among Discord's commands: manager subcommands
/// are under `/handoff-manage`, and `team list` is `/handoff teams` so that everyone
/// may run it.
pub fn discord_words(words: &str) -> String {
    match words {
        "team list" => "handoff teams".into(),
        "routing eligible" => "handoff-manage eligible".into(),
        "routing accept-within" => "handoff-manage accept-within".into(),
        "routing reply-within" => "handoff-manage reply-within".into(),
        w if usage::SUBCOMMANDS.iter().any(|d| d.words == w && d.managers) => format!("handoff-manage {w}"),
        w => format!("handoff {w}"),
    }
}

/// One subcommand as typed on Discord: `/handoff-manage routing widget:<widget> mode:<mode>`.
fn syntax(d: &Described) -> String {
    let mut out = format!("`/{}", discord_words(d.words));
    for o in d.options {
        let value = match o.kind {
            OptKind::Choice(choices) => choices.join("|"),
            OptKind::Users { all: true } => "@user… or everyone:True".into(),
            OptKind::Users { all: false } => "@user".into(),
            _ => format!("<{}>", o.name),
        };
        let name = match o.kind {
            OptKind::Users { .. } => "user",
            _ => o.name,
        };
        if o.required {
            out.push_str(&format!(" {name}:{value}"));
        } else {
            out.push_str(&format!(" [{name}:{value}]"));
        }
    }
    out.push('`');
    out
}

/// What a typed command asks for, or what is wrong with it.
pub fn subcommand(inv: &Invocation) -> Result<Subcommand, String> {
    let path: Vec<&str> = inv.path.iter().map(String::as_str).collect();
    let need = |name: &str| {
        inv.string(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("`{name}` is required"))
    };
    Ok(match path.as_slice() {
        ["handoff", "help"] | ["handoff"] => Subcommand::Help,
        ["handoff", "available"] => Subcommand::Presence(Presence::Available),
        ["handoff", "away"] => Subcommand::Presence(Presence::Away),
        ["handoff", "status"] => Subcommand::Status,
        ["handoff", "inbox"] => Subcommand::Inbox(match inv.string("filter").as_deref() {
            Some("mine") => InboxFilter::Mine,
            Some("all") => InboxFilter::All,
            None | Some("unassigned") => InboxFilter::Unassigned,
            Some(other) => return Err(format!("`{other}` is not mine, unassigned or all")),
        }),
        ["handoff", "claim"] => Subcommand::Claim(need("conversation")?),
        ["handoff", "reply"] => Subcommand::Reply {
            conversation: need("conversation")?,
            text: need("text")?,
        },
        ["handoff", "widgets"] => Subcommand::Widgets,
        ["handoff", "teams"] => Subcommand::TeamList,
        ["handoff", "link"] => Subcommand::Link(inv.string("code").filter(|c| !c.is_empty())),
        ["handoff-manage", "connect"] => Subcommand::Connect(need("widget")?),
        ["handoff-manage", "routing"] => match inv.string("mode") {
            None => Subcommand::RoutingShow(need("widget")?),
            Some(mode) => Subcommand::RoutingSet(
                need("widget")?,
                mode.parse::<RoutingMode>().map_err(|e| format!("routing mode {e}"))?,
            ),
        },
        ["handoff-manage", word @ ("accept-within" | "reply-within")] => Subcommand::RoutingTimer {
            widget: need("widget")?,
            timer: Timer::from_word(word).unwrap_or(Timer::Accept),
            within: Window::parse(&need("within")?).map_err(|e| format!("{word}: {e}"))?,
        },
        ["handoff-manage", "eligible"] => {
            let widget = need("widget")?;
            let users = inv.users();
            match (inv.boolean("everyone").unwrap_or(false), users.is_empty()) {
                (true, true) => Subcommand::RoutingEligible(widget, None),
                (false, false) => Subcommand::RoutingEligible(widget, Some(users)),
                (true, false) => return Err("name users, or everyone:True, not both".into()),
                (false, true) => return Err("name at least one user, or everyone:True".into()),
            }
        }
        ["handoff-manage", "team", "create"] => Subcommand::TeamCreate(need("name")?),
        ["handoff-manage", "team", "delete"] => Subcommand::TeamDelete(need("name")?),
        ["handoff-manage", "team", verb @ ("add" | "remove")] => {
            let users = inv.users();
            if users.is_empty() {
                return Err("`user` is required".into());
            }
            Subcommand::TeamMembers {
                team: need("name")?,
                users,
                add: *verb == "add",
            }
        }
        _ => return Err(format!("`/{}` is not a command of this bridge", path.join(" "))),
    })
}

/// `/handoff` as the neutral command sees Discord.
struct DiscordFront<'a> {
    discord: &'a Discord,
    /// The users the command named, as Discord resolved them (for their names).
    resolved: HashMap<UserId, User>,
}

#[async_trait::async_trait]
impl Front for DiscordFront<'_> {
    fn service(&self) -> &Service {
        self.discord.service()
    }

    fn platform(&self) -> &'static str {
        super::PLATFORM
    }

    fn bold(&self, s: &str) -> String {
        format!("**{s}**")
    }

    fn escape(&self, s: &str) -> String {
        super::render::esc(s)
    }

    fn channel_mention(&self, channel: &str) -> String {
        format!("<#{channel}>")
    }

    fn default_channel(&self) -> Option<&str> {
        self.discord.default_channel()
    }

    fn usage(&self) -> String {
        usage::render(self, syntax)
    }

    fn command(&self, words: &str, args: &[(&str, &str)]) -> String {
        let mut out = format!("`/{}", discord_words(words));
        for (name, value) in args {
            out.push_str(&format!(" {name}:{value}"));
        }
        out.push('`');
        out
    }

    async fn operator(&self, account: &str) -> Result<LinkedOperator, ServiceError> {
        let id = account
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .map(UserId::new)
            .ok_or_else(|| ServiceError::Invalid(format!("`{account}` is not a Discord user")))?;
        let user = self.resolved.get(&id).cloned().unwrap_or_else(|| {
            let mut u = User::default();
            u.id = id;
            u.name = account.to_owned();
            u
        });
        self.discord.operator_of_id(&user).await
    }
}

impl Discord {
    /// `/handoff` or `/handoff-manage`: deferred (ephemeral) at once, then answered.
    pub(crate) async fn on_command(&self, i: CommandInteraction) -> Result<(), ServiceError> {
        let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(true));
        if !self.respond(i.id.get(), &i.token, &defer).await {
            return Ok(());
        }
        metrics::counter!("handoff_events_in_total", "source" => "discord_command", "result" => "ok").increment(1);
        let front = DiscordFront {
            discord: self,
            resolved: i.data.resolved.users.clone(),
        };
        let answer = match subcommand(&Invocation::of(&i)) {
            Err(what) => handoff::usage_error(&front, &what),
            Ok(sub) => {
                let member = Member {
                    user: &i.user,
                    nick: i.member.as_ref().and_then(|m| m.nick.as_deref()),
                    permissions: i.member.as_ref().and_then(|m| m.permissions),
                    in_guild: i.member.is_some(),
                };
                match self.operator(&member).await {
                    Ok(op) => handoff::respond(&front, &op, &i.channel_id.to_string(), sub).await?,
                    Err(ServiceError::Forbidden(why)) => format!("⚠️ {why}.").into(),
                    Err(e) => return Err(e),
                }
            }
        };
        let components = match answer.takeover {
            Some(held) => json!(super::render::takeover_button(held)),
            None => json!([]),
        };
        let message =
            json!({"content": super::render::trim(&answer.text, super::render::CONTENT_MAX), "components": components});
        self.queue(
            "edit_original",
            format!("discord:command:{}", i.id),
            json!({"token": i.token, "message": message}),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path of (sub)command names a definition declares, e.g. `handoff-manage team add`.
    fn declared(defs: &Value) -> Vec<String> {
        fn walk(prefix: &str, options: &Value, out: &mut Vec<String>) {
            for o in options.as_array().into_iter().flatten() {
                let path = format!("{prefix} {}", o["name"].as_str().unwrap_or_default());
                match o["type"].as_u64() {
                    Some(1) => out.push(path),
                    Some(2) => walk(&path, &o["options"], out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for c in defs.as_array().into_iter().flatten() {
            walk(c["name"].as_str().unwrap_or_default(), &c["options"], &mut out);
        }
        out
    }

    #[test]
    fn every_subcommand_is_declared_and_every_declared_one_is_understood() {
        let defs = definitions();
        let paths = declared(&defs);
        for d in usage::SUBCOMMANDS {
            let words = discord_words(d.words);
            assert!(paths.contains(&words), "{} is declared as {words}: {paths:?}", d.words);
        }
        for path in &paths {
            let inv = Invocation {
                path: path.split(' ').map(str::to_owned).collect(),
                options: Vec::new(),
            };
            if let Err(e) = subcommand(&inv) {
                assert!(e.contains("required"), "{path} is understood: {e}");
            }
        }
        // Names and descriptions fit Discord's limits.
        let mut stack = vec![defs];
        while let Some(v) = stack.pop() {
            for c in v.as_array().into_iter().flatten() {
                let name = c["name"].as_str().unwrap();
                assert!((1..=32).contains(&name.len()) && name == name.to_lowercase(), "{name}");
                assert!(
                    (1..=100).contains(&c["description"].as_str().unwrap().chars().count()),
                    "{name}"
                );
                stack.push(c["options"].clone());
            }
        }
    }

    #[test]
    fn the_app_manifest_asks_for_the_intents_the_gateway_uses() {
        let app: Value = serde_json::from_str(include_str!("../../manifests/discord/app.json")).unwrap();
        assert_eq!(
            app["intents"]["value"].as_u64(),
            Some(super::super::gateway::intents().bits())
        );
        let permissions: u64 = app["permissions"]["value"].as_str().unwrap().parse().unwrap();
        assert!(
            app["install_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("permissions={permissions}"))
        );
    }
}
