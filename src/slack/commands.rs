//! `POST /slack/commands`: Slack's side of `/handoff` (`docs/behaviour.md#in-slack`):
//! parsing Slack's text form of it (words, `<@U123|name>` mentions) into the neutral
//! [`Subcommand`], and rendering the answer as an ephemeral message. What a subcommand
//! does and says is [`crate::platform::handoff`]'s, shared with every platform. A wrong
//! command gets its usage; a refused one says which role it needs. Slack does not tell
//! an app which thread a command was typed in, so `claim` and `reply` name the
//! conversation.

use super::Slack;
use super::verify::{SignedBody, form};
use crate::engine::{Presence, RoutingMode, Window};
use crate::platform::handoff::{self, Answer, Front, InboxFilter, Subcommand, Timer};
use crate::service::{LinkedOperator, Service, ServiceError};
use crate::web::error::ApiError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use sha2::Digest;

pub const USAGE: &str = "*`/handoff` commands*
• `/handoff available` · `/handoff away` — your presence (routing skips you while away)
• `/handoff status` — your presence, role and open conversations
• `/handoff inbox [mine|unassigned|all]` — conversations (default: unassigned)
• `/handoff claim <conversation>` — take an unassigned conversation
• `/handoff reply <conversation> <text>` — send the visitor a reply
• `/handoff team create|delete <name>` · `/handoff team add|remove <name> @user…` · `/handoff team list`
• `/handoff routing <widget> [manual|round-robin|lightest-load]` — show or set routing
• `/handoff routing <widget> eligible <@user…|all>` — who may take its conversations
• `/handoff routing <widget> accept-within <5m|off>` — route on a conversation its assignee has not accepted in time
• `/handoff routing <widget> reply-within <5m|off>` — nudge the assignee when a visitor has waited that long
• `/handoff widgets` — widgets, their routing and channels
• `/handoff connect <widget>` — make this channel the widget's channel
• `/handoff link` · `/handoff link <code>` — link your Slack and Discord accounts: get a code on one, run it on the other
Team, routing and connect need the manager role.";

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
        ["inbox"] | ["inbox", "unassigned"] => Ok(Subcommand::Inbox(InboxFilter::Unassigned)),
        ["inbox", "mine"] => Ok(Subcommand::Inbox(InboxFilter::Mine)),
        ["inbox", "all"] => Ok(Subcommand::Inbox(InboxFilter::All)),
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
        ["routing", widget, word, within @ ..] if Timer::from_word(word).is_some() => {
            let timer = Timer::from_word(word).unwrap_or(Timer::Accept);
            if within.is_empty() {
                return Err(format!("`/handoff routing {widget} {word} <duration|off>`, e.g. `5m`"));
            }
            Ok(Subcommand::RoutingTimer {
                widget: (*widget).to_owned(),
                timer,
                within: Window::parse(&within.join(" ")).map_err(|e| format!("{word}: {e}"))?,
            })
        }
        ["routing", widget, mode] => mode
            .parse::<RoutingMode>()
            .map(|m| Subcommand::RoutingSet((*widget).to_owned(), m))
            .map_err(|e| format!("routing mode {e}")),
        ["routing", ..] => Err("`/handoff routing <widget> [manual|round-robin|lightest-load]`".into()),
        ["widgets"] => Ok(Subcommand::Widgets),
        ["connect", widget] => Ok(Subcommand::Connect((*widget).to_owned())),
        ["connect", ..] => Err("`/handoff connect <widget>`, run in the channel to connect".into()),
        ["link"] => Ok(Subcommand::Link(None)),
        ["link", code] => Ok(Subcommand::Link(Some((*code).to_owned()))),
        ["link", ..] => Err("`/handoff link` for a code, or `/handoff link <code>` to use one".into()),
        [other, ..] => Err(format!("`{other}` is not a /handoff command")),
    }
}

/// What the neutral command asks of Slack.
pub struct SlackFront<'a>(pub &'a Slack);

#[async_trait::async_trait]
impl Front for SlackFront<'_> {
    fn service(&self) -> &Service {
        self.0.service()
    }

    fn platform(&self) -> &'static str {
        super::PLATFORM
    }

    fn bold(&self, s: &str) -> String {
        format!("*{s}*")
    }

    fn escape(&self, s: &str) -> String {
        super::render::esc(s)
    }

    fn channel_mention(&self, channel: &str) -> String {
        format!("<#{channel}>")
    }

    fn default_channel(&self) -> Option<&str> {
        self.0.default_channel()
    }

    fn usage(&self) -> String {
        USAGE.to_owned()
    }

    async fn operator(&self, account: &str) -> Result<LinkedOperator, ServiceError> {
        self.0.operator(account, None).await
    }
}

/// An answer as Slack shows it: ephemeral, with the "Take over & send" button if it has one.
fn render(answer: Answer) -> Json<Value> {
    match answer.takeover {
        None => Json(json!({"response_type": "ephemeral", "text": answer.text})),
        Some(held) => {
            let button = ("Take over & send", super::render::TAKEOVER_SEND, held.to_string());
            let content = super::render::notice(&answer.text, Some((button.0, button.1, &button.2)));
            let mut body = serde_json::to_value(&content).unwrap_or_default();
            body["response_type"] = json!("ephemeral");
            Json(body)
        }
    }
}

pub async fn receive(State(slack): State<Slack>, SignedBody(body): SignedBody) -> Result<Json<Value>, ApiError> {
    let _ack = crate::platform::AckTimer::start(super::PLATFORM);
    answer(&slack, form(&body)).await
}

/// The answer to one `/handoff` command, from its fields (`user_id`, `channel_id`, `text`,
/// `user_name`, `response_url`) however it came: a webhook or a Socket Mode envelope.
pub(super) async fn answer(slack: &Slack, fields: Vec<(String, String)>) -> Result<Json<Value>, ApiError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (Some(user), Some(channel)) = (field("user_id"), field("channel_id")) else {
        return Err(ApiError::bad_request(
            "a slash command needs `user_id` and `channel_id`",
        ));
    };
    metrics::counter!("handoff_events_in_total", "source" => "slack_command", "result" => "ok").increment(1);
    let front = SlackFront(slack);
    let text = super::render::unescape(field("text").unwrap_or_default());
    let sub = match parse(&text) {
        Ok(s) => s,
        Err(what) => return Ok(render(handoff::usage_error(&front, &what))),
    };
    let (s, user, channel, name) = (
        slack.clone(),
        user.to_owned(),
        channel.to_owned(),
        field("user_name").map(str::to_owned),
    );
    let work = async move {
        let front = SlackFront(&s);
        let op = match s.operator(&user, name.as_deref()).await {
            Ok(op) => op,
            Err(ServiceError::Forbidden(why)) => return Ok(format!("⚠️ {why}.").into()),
            Err(e) => return Err(e),
        };
        handoff::respond(&front, &op, &channel, sub).await
    };
    match super::within_ack(work).await {
        Ok(answer) => Ok(render(answer?)),
        Err(late) => {
            // Slack must be answered now: the answer follows through the `response_url`.
            let url = field("response_url").map(str::to_owned);
            let s = slack.clone();
            tokio::spawn(async move {
                let body = match late.await {
                    Ok(Ok(answer)) => render(answer).0,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "a slow /handoff command failed");
                        json!({"text": "⚠️ That did not work; please try again."})
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a /handoff command's work panicked");
                        json!({"text": "⚠️ That did not work; please try again."})
                    }
                };
                let Some(url) = url else { return };
                let key = format!(
                    "slack:respond:{}",
                    hex::encode(&sha2::Sha256::digest(url.as_bytes())[..8])
                );
                if let Err(e) = s
                    .queue("respond", key, json!({"response_url": url, "body": body}))
                    .await
                {
                    tracing::error!(error = %e, "cannot queue a late /handoff answer");
                }
            });
            Ok(render("⏳ Working on it: the answer follows here.".to_owned().into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_parse_and_wrong_ones_say_why() {
        assert_eq!(parse(""), Ok(Subcommand::Help));
        assert_eq!(parse("away"), Ok(Subcommand::Presence(Presence::Away)));
        assert_eq!(parse("inbox mine"), Ok(Subcommand::Inbox(InboxFilter::Mine)));
        assert_eq!(
            parse("reply c1  Hello   there"),
            Ok(Subcommand::Reply {
                conversation: "c1".into(),
                text: "Hello   there".into()
            })
        );
        assert_eq!(
            parse("team add billing <@U1|ada> <@U2>"),
            Ok(Subcommand::TeamMembers {
                team: "billing".into(),
                users: vec!["U1".into(), "U2".into()],
                add: true
            })
        );
        assert_eq!(
            parse("routing support round-robin"),
            Ok(Subcommand::RoutingSet("support".into(), RoutingMode::RoundRobin))
        );
        assert_eq!(
            parse("routing support eligible all"),
            Ok(Subcommand::RoutingEligible("support".into(), None))
        );
        assert!(parse("routing support fastest").unwrap_err().contains("round-robin"));
        assert!(parse("team add billing ada").unwrap_err().contains("@mention"));
        assert!(parse("dance").unwrap_err().contains("dance"));
        assert!(parse("claim").is_err());
        assert_eq!(parse("link"), Ok(Subcommand::Link(None)));
        assert_eq!(parse(" link  abcd2345 "), Ok(Subcommand::Link(Some("abcd2345".into()))));
        assert!(parse("link abcd 2345").unwrap_err().contains("/handoff link <code>"));
    }

    #[test]
    fn the_usage_names_every_subcommand() {
        for d in handoff::usage::SUBCOMMANDS {
            let mut words = d.words.split(' ');
            let first = words.next().unwrap_or_default();
            assert!(USAGE.contains(&format!("`/handoff {first}")), "{} is missing", d.words);
            for word in words {
                assert!(USAGE.contains(word), "{} is missing", d.words);
            }
            if let Some(o) = d.options.iter().find(|o| o.required) {
                assert!(USAGE.contains(o.name), "{}'s {} is missing", d.words, o.name);
            }
        }
    }
}
