//! Carrying out a `/handoff` subcommand: the service calls it makes and the answer's
//! words, with the platform's markup asked of its [`Front`].

use super::{Answer, Front, InboxFilter, Subcommand, Timer, title};
use crate::engine::transition::{Command, Outcome};
use crate::engine::{OperatorId, Presence, TeamId, permissions};
use crate::platform::trim;
use crate::service::{
    DEFAULT_WORKSPACE, Filter, LINK_CODE_TTL_MS, LinkedOperator, Origin, ServiceError, TeamView, WidgetPatch,
    WidgetView,
};

/// Runs a subcommand as `op`, typed in `channel`; the answer is shown privately. A
/// refusal is an `Err` (see [`super::respond`] for how it reads).
pub async fn run(
    front: &dyn Front,
    op: &LinkedOperator,
    channel: &str,
    sub: Subcommand,
) -> Result<Answer, ServiceError> {
    let ws = DEFAULT_WORKSPACE;
    let actor = op.actor();
    let service = front.service();
    let b = |s: &str| front.bold(s);
    let text: String = match sub {
        Subcommand::Help => front.usage(),
        Subcommand::Presence(p) => {
            service.set_presence(ws, &actor, op.id, p).await?;
            match p {
                Presence::Available => format!("You're {}: routing may give you conversations.", b("available")),
                Presence::Away => format!("You're {}: routing skips you; you can still claim by hand.", b("away")),
            }
        }
        Subcommand::Status => {
            let me = service.operator(ws, op.id).await?;
            let mine = service
                .list_conversations(ws, Filter::Mine(op.id), None, None, 10)
                .await?;
            let mut text = format!(
                "You are {}, role {}, with {} open conversation(s){}.",
                b(me.presence.as_str()),
                b(me.role.as_str()),
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
                InboxFilter::Mine => Filter::Mine(op.id),
                InboxFilter::All => Filter::All,
                InboxFilter::Unassigned => Filter::Unassigned,
            };
            let list = service.list_conversations(ws, f, None, None, 15).await?;
            if list.is_empty() {
                match filter {
                    InboxFilter::Mine => "You have no open conversations.".to_owned(),
                    InboxFilter::All => "No conversations yet.".to_owned(),
                    InboxFilter::Unassigned => "No unassigned conversations: all caught up.".to_owned(),
                }
            } else {
                let mut text = b(&format!("{} conversations", filter.as_str()));
                for c in list {
                    let who = c.assignee.map(|a| a.name).unwrap_or_else(|| "unassigned".into());
                    text.push_str(&format!(
                        "\n• `{}` {} — {} ({}, {})",
                        c.id,
                        c.visitor.name.unwrap_or_default(),
                        trim(&c.summary.unwrap_or_default(), 80),
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
                files: vec![],
            };
            match service.act(ws, &conversation, &actor, cmd).await {
                Ok(acted) if acted.outcome == Outcome::InternalNote => "Kept as an internal note.".into(),
                Ok(_) => format!("Sent to the visitor of `{conversation}`."),
                Err(ServiceError::AlreadyAssigned {
                    owner,
                    takeover_allowed: true,
                }) => {
                    let held = service
                        .hold_reply(&conversation, op.id, &text, &[], &Origin::Api)
                        .await?;
                    return Ok(Answer {
                        text: format!(
                            "⚠️ Not sent to the visitor: {} is handling this conversation. \
                             You can take it over and send your message.",
                            b(&front.escape(&owner.name))
                        ),
                        takeover: Some(held),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Subcommand::TeamCreate(name) => {
            let t = service.create_team(ws, &actor, &name).await?;
            format!("Team {} created.", b(&t.name))
        }
        Subcommand::TeamDelete(name) => {
            let t = team_named(front, &name).await?;
            service.delete_team(ws, &actor, TeamId(t.id)).await?;
            format!("Team {} deleted.", b(&name))
        }
        Subcommand::TeamMembers { team, users, add } => {
            let t = team_named(front, &team).await?;
            // Refused before the mentioned people are looked up (and made operators).
            permissions::manage_teams(&actor).map_err(ServiceError::Forbidden)?;
            let mut view = t.clone();
            for id in operators_of(front, &users).await? {
                view = service.set_team_member(ws, &actor, TeamId(t.id), id, add).await?;
            }
            format!("Team {}: {}", b(&view.name), members(&view))
        }
        Subcommand::TeamList => {
            let teams = service.list_teams(ws).await?;
            if teams.is_empty() {
                format!("No teams yet: {}.", front.command("team create", &[("name", "<name>")]))
            } else {
                teams
                    .iter()
                    .map(|t| format!("• {}: {}", b(&t.name), members(t)))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Subcommand::RoutingShow(widget) => {
            let w = service.widget(ws, &widget).await?;
            widget_line(front, &w)
        }
        Subcommand::RoutingSet(widget, mode) => {
            let patch = WidgetPatch {
                routing: Some(mode),
                ..Default::default()
            };
            let w = service.update_widget(ws, &actor, &widget, patch).await?;
            format!("Routing of {} is now {}.", b(&w.id), b(w.routing.as_str()))
        }
        Subcommand::RoutingEligible(widget, users) => {
            permissions::configure_widget(&actor).map_err(ServiceError::Forbidden)?;
            let ids = match users {
                None => Vec::new(),
                Some(users) => operators_of(front, &users).await?.into_iter().map(|o| o.0).collect(),
            };
            let patch = WidgetPatch {
                eligible: Some(ids),
                ..Default::default()
            };
            let w = service.update_widget(ws, &actor, &widget, patch).await?;
            widget_line(front, &w)
        }
        Subcommand::RoutingTimer { widget, timer, within } => {
            let mut patch = WidgetPatch::default();
            match timer {
                Timer::Accept => patch.accept_within = Some(within),
                Timer::Reply => patch.reply_within = Some(within),
            }
            let w = service.update_widget(ws, &actor, &widget, patch).await?;
            let id = b(&w.id);
            match (timer, within) {
                (Timer::Accept, Some(t)) => format!(
                    "{id}: a conversation routing gives someone is routed on if they have not accepted it within {}.",
                    b(&t.to_string())
                ),
                (Timer::Accept, None) => format!("{id}: a routed conversation now waits for its assignee to accept."),
                (Timer::Reply, Some(t)) => format!(
                    "{id}: the assignee is nudged when a visitor has waited {} for a reply, and the thread is told at twice that.",
                    b(&t.to_string())
                ),
                (Timer::Reply, None) => format!("{id}: nobody is nudged about visitors waiting for a reply."),
            }
        }
        Subcommand::Widgets => {
            let widgets = service.list_widgets(ws).await?;
            if widgets.is_empty() {
                format!(
                    "No widgets yet: one appears with its first handoff, or with {}.",
                    front.command("connect", &[("widget", "<widget>")])
                )
            } else {
                widgets
                    .iter()
                    .map(|w| widget_line(front, w))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Subcommand::Connect(widget) => {
            let patch = WidgetPatch::channel_on(front.platform(), Some(channel.to_owned()))?;
            service.ensure_widget(ws, &actor, &widget).await?;
            let w = service.update_widget(ws, &actor, &widget, patch).await?;
            format!(
                "This channel is now the {} channel of {}: its handoffs open threads here.",
                title(front.platform()),
                b(&w.id)
            )
        }
        Subcommand::Link(None) => {
            let code = service.issue_link_code(ws, op.id, front.platform()).await?;
            format!(
                "Run `/handoff link {code}` on the other platform within {} minutes to link your account there \
                 to {}, your operator here. The code works once; keep it to yourself.",
                LINK_CODE_TTL_MS / 60_000,
                b(&front.escape(&op.name))
            )
        }
        Subcommand::Link(Some(code)) => {
            let platform = front.platform();
            let account = service.account_of(platform, op.id).await?.ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!("operator {} has no {platform} account", op.id))
            })?;
            let linked = service.redeem_link_code(ws, platform, &account, &code).await?;
            format!(
                "Linked: this {} account now belongs to {}, the operator your code came from.",
                title(platform),
                b(&front.escape(&linked.name))
            )
        }
    };
    Ok(text.into())
}

async fn team_named(front: &dyn Front, name: &str) -> Result<TeamView, ServiceError> {
    front
        .service()
        .list_teams(DEFAULT_WORKSPACE)
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no team named `{name}` (see {})",
                front.command("team list", &[])
            ))
        })
}

async fn operators_of(front: &dyn Front, users: &[String]) -> Result<Vec<OperatorId>, ServiceError> {
    let mut ids = Vec::new();
    for u in users {
        ids.push(front.operator(u).await?.id);
    }
    Ok(ids)
}

/// A team's members by name, or "no members".
fn members(t: &TeamView) -> String {
    let names: Vec<&str> = t.members.iter().map(|m| m.name.as_str()).collect();
    if names.is_empty() {
        "no members".to_owned()
    } else {
        names.join(", ")
    }
}

/// A widget's routing, eligible operators and channel on the front's platform.
fn widget_line(front: &dyn Front, w: &WidgetView) -> String {
    let eligible = if w.eligible.is_empty() {
        "everyone".to_owned()
    } else {
        w.eligible.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(", ")
    };
    let channel = match (w.channel(front.platform()), front.default_channel()) {
        (Some(c), _) => format!("threads in {}", front.channel_mention(c)),
        (None, Some(c)) => format!("threads in the default channel {}", front.channel_mention(c)),
        (None, None) => format!(
            "no {} channel yet: run {} in one",
            title(front.platform()),
            front.command("connect", &[("widget", &w.id)])
        ),
    };
    let mut timers = String::new();
    if let Some(t) = w.accept_within {
        timers.push_str(&format!(", accept within {t}"));
    }
    if let Some(t) = w.reply_within {
        timers.push_str(&format!(", reply within {t}"));
    }
    format!(
        "• {}: {} routing, eligible: {eligible}{timers}, {channel}",
        front.bold(&w.id),
        w.routing
    )
}
