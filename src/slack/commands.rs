//! `POST /slack/commands`: `/handoff` and its subcommands (`docs/behaviour.md#in-slack`).
//! Every answer is ephemeral; a wrong command gets its usage; a refused one says which
//! role it needs. Slack does not tell an app which thread a command was typed in, so
//! `claim` and `reply` name the conversation.

use super::Slack;
use super::verify::{SignedBody, form};
use crate::engine::transition::{Command, Outcome};
use crate::engine::{OperatorId, Presence, RoutingMode, TeamId};
use crate::service::Filter;
use crate::service::{DEFAULT_WORKSPACE, LinkedOperator, Origin, ServiceError, WidgetPatch};
use crate::web::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub const USAGE: &str = "*`/handoff` commands*
• `/handoff available` · `/handoff away` — your presence (routing skips you while away)
• `/handoff status` — your presence, role and open conversations
• `/handoff inbox [mine|unassigned|all]` — conversations (default: unassigned)
• `/handoff claim <conversation>` — take an unassigned conversation
• `/handoff reply <conversation> <text>` — send the visitor a reply
• `/handoff team create|delete <name>` · `/handoff team add|remove <name> @user…` · `/handoff team list`
• `/handoff routing <widget> [manual|round-robin|lightest-load]` — show or set routing
• `/handoff routing <widget> eligible <@user…|all>` — who may take its conversations
• `/handoff widgets` — widgets, their routing and channels
• `/handoff connect <widget>` — make this channel the widget's channel
Team, routing and connect need the manager role.";

/// One parsed `/handoff` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subcommand {
    Help,
    Presence(Presence),
    Status,
    Inbox(&'static str),
    Claim(String),
    Reply {
        conversation: String,
        text: String,
    },
    TeamCreate(String),
    TeamDelete(String),
    TeamMembers {
        team: String,
        users: Vec<String>,
        add: bool,
    },
    TeamList,
    RoutingShow(String),
    RoutingSet(String, RoutingMode),
    /// `None` = everyone.
    RoutingEligible(String, Option<Vec<String>>),
    Widgets,
    Connect(String),
}

/// Slack user ids in `<@U123>` or `<@U123|name>` mentions; `Err` names a word that is not one.
fn mentions(words: &[&str]) -> Result<Vec<String>, String> {
    words
        .iter()
        .map(|w| {
            w.strip_prefix("<@")
                .and_then(|r| r.strip_suffix('>'))
                .map(|r| r.split('|').next().unwrap_or(r).to_owned())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| format!("`{w}` is not a @mention of a user"))
        })
        .collect()
}

impl Subcommand {
    /// Parses the text after `/handoff`; `Err` carries what is wrong (the usage follows).
    pub fn parse(text: &str) -> Result<Subcommand, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let rest_after = |n: usize| -> String {
            // The reply text keeps its own spacing: cut after the first n words.
            let mut t = text.trim_start();
            for _ in 0..n {
                t = t.trim_start();
                t = t.find(char::is_whitespace).map_or("", |i| &t[i..]);
            }
            t.trim().to_owned()
        };
        match words.as_slice() {
            [] | ["help"] => Ok(Subcommand::Help),
            ["available"] => Ok(Subcommand::Presence(Presence::Available)),
            ["away"] => Ok(Subcommand::Presence(Presence::Away)),
            ["status"] => Ok(Subcommand::Status),
            ["inbox"] => Ok(Subcommand::Inbox("unassigned")),
            ["inbox", f @ ("mine" | "unassigned" | "all")] => Ok(Subcommand::Inbox(match *f {
                "mine" => "mine",
                "all" => "all",
                _ => "unassigned",
            })),
            ["inbox", other] => Err(format!("`{other}` is not mine, unassigned or all")),
            ["claim", conversation] => Ok(Subcommand::Claim((*conversation).to_owned())),
            ["claim"] => Err("which conversation? `/handoff claim <conversation>` (see `/handoff inbox`)".into()),
            ["reply", conversation, _, ..] => Ok(Subcommand::Reply {
                conversation: (*conversation).to_owned(),
                text: rest_after(2),
            }),
            ["reply", ..] => Err("`/handoff reply <conversation> <text>`".into()),
            ["team", "create", _, ..] => Ok(Subcommand::TeamCreate(rest_after(2))),
            ["team", "delete", _, ..] => Ok(Subcommand::TeamDelete(rest_after(2))),
            ["team", op @ ("add" | "remove"), rest @ ..] if rest.len() >= 2 => {
                // The team's name is every word before the first @mention.
                let first = rest
                    .iter()
                    .position(|w| w.starts_with("<@"))
                    .unwrap_or(rest.len() - 1)
                    .max(1);
                Ok(Subcommand::TeamMembers {
                    team: rest[..first].join(" "),
                    users: mentions(&rest[first..])?,
                    add: *op == "add",
                })
            }
            ["team", "list"] => Ok(Subcommand::TeamList),
            ["team", ..] => {
                Err("`/handoff team create|delete <name>`, `team add|remove <name> @user…` or `team list`".into())
            }
            ["routing", widget] => Ok(Subcommand::RoutingShow((*widget).to_owned())),
            ["routing", widget, "eligible", "all"] => Ok(Subcommand::RoutingEligible((*widget).to_owned(), None)),
            ["routing", widget, "eligible", users @ ..] if !users.is_empty() => Ok(Subcommand::RoutingEligible(
                (*widget).to_owned(),
                Some(mentions(users)?),
            )),
            ["routing", widget, mode] => mode
                .parse::<RoutingMode>()
                .map(|m| Subcommand::RoutingSet((*widget).to_owned(), m))
                .map_err(|e| format!("routing mode {e}")),
            ["routing", ..] => Err("`/handoff routing <widget> [manual|round-robin|lightest-load]`".into()),
            ["widgets"] => Ok(Subcommand::Widgets),
            ["connect", widget] => Ok(Subcommand::Connect((*widget).to_owned())),
            ["connect", ..] => Err("`/handoff connect <widget>`, run in the channel to connect".into()),
            [other, ..] => Err(format!("`{other}` is not a /handoff command")),
        }
    }
}

fn ephemeral(text: String) -> Json<Value> {
    Json(json!({"response_type": "ephemeral", "text": text}))
}

/// A command's private answer: text, and at most one button.
pub struct Answer {
    text: String,
    button: Option<(&'static str, &'static str, String)>,
}

impl Answer {
    fn with_button(text: String, button: (&'static str, &'static str, String)) -> Answer {
        Answer {
            text,
            button: Some(button),
        }
    }

    fn into_json(self) -> Json<Value> {
        match self.button {
            None => ephemeral(self.text),
            Some((label, action, value)) => {
                let content = super::render::notice(&self.text, Some((label, action, &value)));
                let mut body = serde_json::to_value(&content).unwrap_or_default();
                body["response_type"] = json!("ephemeral");
                Json(body)
            }
        }
    }
}

impl From<String> for Answer {
    fn from(text: String) -> Answer {
        Answer { text, button: None }
    }
}

pub async fn receive(State(slack): State<Slack>, SignedBody(body): SignedBody) -> Result<Json<Value>, ApiError> {
    let fields = form(&body);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(user), Some(channel)) = (field("user_id"), field("channel_id")) else {
        return Err(ApiError::bad_request(
            "a slash command needs `user_id` and `channel_id`",
        ));
    };
    metrics::counter!("handoff_actions_total", "source" => "slack_command").increment(1);
    let text = super::render::unescape(field("text").unwrap_or_default());
    let sub = match Subcommand::parse(&text) {
        Ok(s) => s,
        Err(what) => return Ok(ephemeral(format!("⚠️ {what}\n\n{USAGE}"))),
    };
    let op = slack.operator(user, field("user_name")).await?;
    let answer = match slack.run(&op, channel, sub).await {
        Ok(answer) => answer,
        Err(ServiceError::Internal(e)) => return Err(ServiceError::Internal(e).into()),
        Err(ServiceError::AlreadyAssigned { owner, .. }) => format!(
            "⚠️ *{}* already has this conversation.",
            super::render::esc(&owner.name)
        )
        .into(),
        Err(e) => format!("⚠️ {e}").into(),
    };
    Ok(answer.into_json())
}

impl Slack {
    async fn team_named(&self, name: &str) -> Result<crate::service::TeamView, ServiceError> {
        self.service()
            .list_teams(DEFAULT_WORKSPACE)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ServiceError::NotFound(format!("no team named `{name}` (see `/handoff team list`)")))
    }

    async fn operators_of(&self, users: &[String]) -> Result<Vec<OperatorId>, ServiceError> {
        let mut ids = Vec::new();
        for u in users {
            ids.push(self.operator(u, None).await?.id);
        }
        Ok(ids)
    }

    /// Runs a subcommand as `op`; the answer is shown privately.
    pub async fn run(&self, op: &LinkedOperator, channel: &str, sub: Subcommand) -> Result<Answer, ServiceError> {
        let ws = DEFAULT_WORKSPACE;
        let actor = op.actor();
        let service = self.service();
        let text: String = match sub {
            Subcommand::Help => USAGE.to_owned(),
            Subcommand::Presence(p) => {
                service.set_presence(ws, &actor, op.id, p).await?;
                match p {
                    Presence::Available => "You're *available*: routing may give you conversations.".into(),
                    Presence::Away => "You're *away*: routing skips you; you can still claim by hand.".into(),
                }
            }
            Subcommand::Status => {
                let me = service.operator(ws, op.id).await?;
                let mine = service
                    .list_conversations(ws, Filter::Mine(op.id), None, None, 10)
                    .await?;
                let mut text = format!(
                    "You are *{}*, role *{}*, with {} open conversation(s){}.",
                    me.presence,
                    me.role,
                    me.open_chats,
                    me.capacity.map(|c| format!(" (capacity {c})")).unwrap_or_default()
                );
                for c in mine {
                    text.push_str(&format!("\n• `{}` {}", c.id, c.visitor.name.unwrap_or_default()));
                }
                text
            }
            Subcommand::Inbox(filter) => {
                let f = match filter {
                    "mine" => Filter::Mine(op.id),
                    "all" => Filter::All,
                    _ => Filter::Unassigned,
                };
                let list = service.list_conversations(ws, f, None, None, 15).await?;
                if list.is_empty() {
                    match filter {
                        "mine" => "You have no open conversations.".to_owned(),
                        "all" => "No conversations yet.".to_owned(),
                        _ => "No unassigned conversations: all caught up.".to_owned(),
                    }
                } else {
                    let mut text = format!("*{} conversations*", filter);
                    for c in list {
                        let who = c.assignee.map(|a| a.name).unwrap_or_else(|| "unassigned".into());
                        text.push_str(&format!(
                            "\n• `{}` {} — {} ({}, {})",
                            c.id,
                            c.visitor.name.unwrap_or_default(),
                            super::render::trim(&c.summary.unwrap_or_default(), 80),
                            c.status,
                            who
                        ));
                    }
                    text
                }
            }
            Subcommand::Claim(conversation) => {
                let takeover = service.policy().may_take_over(op.role);
                let acted = service
                    .act(ws, &conversation, &actor, Command::Claim { takeover })
                    .await?;
                match acted.outcome {
                    Outcome::TookOver { .. } => format!("You took `{conversation}` over."),
                    _ => format!("`{conversation}` is yours."),
                }
            }
            Subcommand::Reply { conversation, text } => {
                let cmd = Command::Reply {
                    text: text.clone(),
                    explicit: true,
                    takeover: false,
                };
                match service.act(ws, &conversation, &actor, cmd).await {
                    Ok(acted) if acted.outcome == Outcome::InternalNote => "Kept as an internal note.".into(),
                    Ok(_) => format!("Sent to the visitor of `{conversation}`."),
                    Err(ServiceError::AlreadyAssigned {
                        owner,
                        takeover_allowed: true,
                    }) => {
                        let held = service.hold_reply(&conversation, op.id, &text, &Origin::Api).await?;
                        return Ok(Answer::with_button(
                            format!(
                                "⚠️ Not sent to the visitor: *{}* is handling this conversation. \
                                 You can take it over and send your message.",
                                super::render::esc(&owner.name)
                            ),
                            ("Take over & send", super::render::TAKEOVER_SEND, held.to_string()),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            Subcommand::TeamCreate(name) => {
                let t = service.create_team(ws, &actor, &name).await?;
                format!("Team *{}* created.", t.name)
            }
            Subcommand::TeamDelete(name) => {
                let t = self.team_named(&name).await?;
                service.delete_team(ws, &actor, TeamId(t.id)).await?;
                format!("Team *{name}* deleted.")
            }
            Subcommand::TeamMembers { team, users, add } => {
                let t = self.team_named(&team).await?;
                crate::engine::permissions::manage_teams(&actor).map_err(ServiceError::Forbidden)?;
                let mut view = t.clone();
                for id in self.operators_of(&users).await? {
                    view = service.set_team_member(ws, &actor, TeamId(t.id), id, add).await?;
                }
                format!("Team *{}*: {}", view.name, members(&view))
            }
            Subcommand::TeamList => {
                let teams = service.list_teams(ws).await?;
                if teams.is_empty() {
                    "No teams yet: `/handoff team create <name>`.".into()
                } else {
                    teams.iter().map(team_line).collect::<Vec<_>>().join("\n")
                }
            }
            Subcommand::RoutingShow(widget) => {
                let w = service.widget(ws, &widget).await?;
                widget_line(&w, self.default_channel())
            }
            Subcommand::RoutingSet(widget, mode) => {
                let patch = WidgetPatch {
                    routing: Some(mode),
                    ..Default::default()
                };
                let w = service.update_widget(ws, &actor, &widget, patch).await?;
                format!("Routing of *{}* is now *{}*.", w.id, w.routing)
            }
            Subcommand::RoutingEligible(widget, users) => {
                crate::engine::permissions::configure_widget(&actor).map_err(ServiceError::Forbidden)?;
                let ids = match users {
                    None => Vec::new(),
                    Some(users) => self.operators_of(&users).await?.into_iter().map(|o| o.0).collect(),
                };
                let patch = WidgetPatch {
                    eligible: Some(ids),
                    ..Default::default()
                };
                let w = service.update_widget(ws, &actor, &widget, patch).await?;
                widget_line(&w, self.default_channel())
            }
            Subcommand::Widgets => {
                let widgets = service.list_widgets(ws).await?;
                if widgets.is_empty() {
                    "No widgets yet: one appears with its first handoff, or with `/handoff connect <widget>`.".into()
                } else {
                    widgets
                        .iter()
                        .map(|w| widget_line(w, self.default_channel()))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            }
            Subcommand::Connect(widget) => {
                service.ensure_widget(ws, &actor, &widget).await?;
                let patch = WidgetPatch {
                    slack_channel: Some(Some(channel.to_owned())),
                    ..Default::default()
                };
                let w = service.update_widget(ws, &actor, &widget, patch).await?;
                format!(
                    "This channel is now the Slack channel of *{}*: its handoffs open threads here.",
                    w.id
                )
            }
        };
        Ok(text.into())
    }
}

/// A team's members by name, or "no members".
fn members(t: &crate::service::TeamView) -> String {
    let names: Vec<&str> = t.members.iter().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        "no members".to_owned()
    } else {
        names.join(", ")
    }
}

fn team_line(t: &crate::service::TeamView) -> String {
    format!("• *{}*: {}", t.name, members(t))
}

fn widget_line(w: &crate::service::WidgetView, default_channel: Option<&str>) -> String {
    let eligible = if w.eligible.is_empty() {
        "everyone".to_owned()
    } else {
        w.eligible.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(", ")
    };
    let channel = match (w.slack_channel.as_deref(), default_channel) {
        (Some(c), _) => format!("threads in <#{c}>"),
        (None, Some(c)) => format!("threads in the default channel <#{c}>"),
        (None, None) => format!("no Slack channel yet: run `/handoff connect {}` in one", w.id),
    };
    format!("• *{}*: {} routing, eligible: {eligible}, {channel}", w.id, w.routing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_parse_and_wrong_ones_say_why() {
        assert_eq!(Subcommand::parse(""), Ok(Subcommand::Help));
        assert_eq!(Subcommand::parse("away"), Ok(Subcommand::Presence(Presence::Away)));
        assert_eq!(Subcommand::parse("inbox mine"), Ok(Subcommand::Inbox("mine")));
        assert_eq!(
            Subcommand::parse("reply c1  Hello   there"),
            Ok(Subcommand::Reply {
                conversation: "c1".into(),
                text: "Hello   there".into()
            })
        );
        assert_eq!(
            Subcommand::parse("team add billing <@U1|ada> <@U2>"),
            Ok(Subcommand::TeamMembers {
                team: "billing".into(),
                users: vec!["U1".into(), "U2".into()],
                add: true
            })
        );
        assert_eq!(
            Subcommand::parse("routing support round-robin"),
            Ok(Subcommand::RoutingSet("support".into(), RoutingMode::RoundRobin))
        );
        assert_eq!(
            Subcommand::parse("routing support eligible all"),
            Ok(Subcommand::RoutingEligible("support".into(), None))
        );
        assert!(
            Subcommand::parse("routing support fastest")
                .unwrap_err()
                .contains("round-robin")
        );
        assert!(
            Subcommand::parse("team add billing ada")
                .unwrap_err()
                .contains("@mention")
        );
        assert!(Subcommand::parse("dance").unwrap_err().contains("dance"));
        assert!(Subcommand::parse("claim").is_err());
    }
}
