//! Inbound events from the widget platform (`docs/widget-api.md#inbound-events`):
//! handoffs, visitor and bot messages, closes. Each event acts once: its id is recorded
//! in the transaction that acts on it.

use super::{DEFAULT_WORKSPACE, MAX_ATTEMPTS, Service, ServiceError};
use crate::engine::Actor;
use crate::engine::effects::Effect;
use crate::engine::transition::{self, Command, Context, Outcome};
use crate::store::conversations::{self as convs, NewConversation, NewMessage};
use crate::store::timers::{self, Kind as TimerKind, NewTimer};
use crate::store::{Tx, inbound, now_ms, widgets};
use serde::Deserialize;
use utoipa::ToSchema;

/// A signed event from the widget platform.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WidgetEvent {
    /// Unique per event; a repeat acts once.
    pub id: String,
    #[serde(flatten)]
    pub kind: WidgetEventKind,
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum WidgetEventKind {
    /// The AI hands the conversation to humans.
    #[serde(rename = "conversation.handed_off")]
    HandedOff { conversation: HandoffConversation },
    /// A visitor or bot message.
    #[serde(rename = "conversation.message")]
    Message {
        conversation: ConversationRefIn,
        message: IncomingMessage,
    },
    /// A visitor or bot message was edited (`message.id` names it).
    #[serde(rename = "conversation.message_updated")]
    MessageUpdated {
        conversation: ConversationRefIn,
        message: IncomingMessage,
    },
    /// The conversation ended on the widget.
    #[serde(rename = "conversation.closed")]
    Closed { conversation: ConversationRefIn },
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct HandoffConversation {
    pub id: String,
    pub widget_id: String,
    #[serde(default)]
    pub visitor: VisitorIn,
    pub summary: Option<String>,
    pub reason: Option<String>,
    #[serde(default)]
    pub transcript: Vec<TranscriptIn>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct VisitorIn {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TranscriptIn {
    /// The platform's message id, if it has one: a `conversation.message_updated` names it.
    pub id: Option<String>,
    pub author: WidgetAuthor,
    pub text: String,
    /// Web addresses of files shown with the line (at most 10, http or https).
    #[serde(default)]
    pub attachments: Vec<String>,
    /// RFC 3339.
    pub at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WidgetAuthor {
    Visitor,
    Bot,
}

impl WidgetAuthor {
    fn author(self) -> crate::engine::Author {
        match self {
            WidgetAuthor::Visitor => crate::engine::Author::Visitor,
            WidgetAuthor::Bot => crate::engine::Author::Bot,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConversationRefIn {
    pub id: String,
    /// Needed only when the bridge has not seen the conversation yet.
    pub widget_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IncomingMessage {
    /// The platform's message id; a repeat is stored once.
    pub id: Option<String>,
    pub author: WidgetAuthor,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<String>,
    pub at: Option<String>,
}

/// What an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The event id was seen before: nothing changed.
    Duplicate,
    /// Acted on; the text says how (for the response and logs).
    Done(String),
}

fn parse_time(at: Option<&str>, default: i64) -> i64 {
    at.and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(default)
}

impl WidgetEvent {
    /// Checks what serde cannot: ids are not empty.
    pub fn validate(&self) -> Result<(), String> {
        check_id("id", &self.id)?;
        let (conversation, widget) = match &self.kind {
            WidgetEventKind::HandedOff { conversation: c } => (&c.id, Some(&c.widget_id)),
            WidgetEventKind::Message { conversation: c, .. }
            | WidgetEventKind::MessageUpdated { conversation: c, .. }
            | WidgetEventKind::Closed { conversation: c } => (&c.id, c.widget_id.as_ref()),
        };
        check_id("conversation.id", conversation)?;
        if let Some(widget) = widget {
            check_id("conversation.widget_id", widget)?;
        }
        if let WidgetEventKind::HandedOff { conversation: c } = &self.kind {
            if c.transcript.len() > MAX_TRANSCRIPT_LINES {
                return Err(format!(
                    "`conversation.transcript` has {} lines; at most {MAX_TRANSCRIPT_LINES} are taken",
                    c.transcript.len()
                ));
            }
            for (i, line) in c.transcript.iter().enumerate() {
                check_attachments(&format!("conversation.transcript[{i}].attachments"), &line.attachments)?;
                if let Some(id) = &line.id {
                    check_id(&format!("conversation.transcript[{i}].id"), id)?;
                }
            }
            let total: usize = c.transcript.iter().map(|l| l.text.chars().count()).sum();
            if total > MAX_TRANSCRIPT_CHARS {
                return Err(format!(
                    "`conversation.transcript` holds {total} characters; at most {MAX_TRANSCRIPT_CHARS} are taken"
                ));
            }
        }
        if let WidgetEventKind::Message { message, .. } | WidgetEventKind::MessageUpdated { message, .. } = &self.kind {
            check_attachments("message.attachments", &message.attachments)?;
        }
        if let WidgetEventKind::MessageUpdated { message, .. } = &self.kind {
            match &message.id {
                Some(id) => check_id("message.id", id)?,
                None => return Err("`message.id` is required: it names the message that was edited".into()),
            }
        }
        Ok(())
    }

    /// Cuts texts to what the bridge keeps and shows (the cut is marked), so that one
    /// event cannot become hundreds of chat posts.
    pub fn limit(&mut self) {
        match &mut self.kind {
            WidgetEventKind::HandedOff { conversation: c } => {
                cap(&mut c.visitor.name, MAX_NAME_CHARS);
                cap(&mut c.visitor.email, MAX_NAME_CHARS);
                cap(&mut c.summary, MAX_SUMMARY_CHARS);
                cap(&mut c.reason, MAX_SUMMARY_CHARS);
                for line in &mut c.transcript {
                    line.text = cap_text(&line.text, MAX_TEXT_CHARS);
                }
            }
            WidgetEventKind::Message { message, .. } | WidgetEventKind::MessageUpdated { message, .. } => {
                message.text = cap_text(&message.text, MAX_TEXT_CHARS)
            }
            WidgetEventKind::Closed { .. } => {}
        }
    }
}

/// The longest message text kept; the rest is cut and the cut marked.
pub const MAX_TEXT_CHARS: usize = 40_000;
/// Names and e-mail addresses, and summaries and reasons.
const MAX_NAME_CHARS: usize = 200;
const MAX_SUMMARY_CHARS: usize = 4_000;
/// A handoff's transcript, past which it is refused (422).
pub const MAX_TRANSCRIPT_LINES: usize = 1_000;
pub const MAX_TRANSCRIPT_CHARS: usize = 400_000;

fn cap(field: &mut Option<String>, max: usize) {
    if let Some(v) = field {
        *v = cap_text(v, max);
    }
}

/// `text` cut to `max` characters, with a note of how much was cut.
pub fn cap_text(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… [{} more characters cut]", count - max)
}

/// Attachments a visitor's message may carry, and the longest URL taken.
const MAX_ATTACHMENTS: usize = 10;
const MAX_URL_LEN: usize = 2048;

/// Attachments are shown to the team as links and images: only web addresses that a
/// browser fetches (http, https) are taken, never `javascript:`, `data:` or `file:`.
fn check_attachments(field: &str, urls: &[String]) -> Result<(), String> {
    if urls.len() > MAX_ATTACHMENTS {
        return Err(format!(
            "`{field}` has {} URLs; at most {MAX_ATTACHMENTS} are taken",
            urls.len()
        ));
    }
    for (i, u) in urls.iter().enumerate() {
        let field = format!("`{field}[{i}]`");
        if u.len() > MAX_URL_LEN {
            return Err(format!("{field} is longer than {MAX_URL_LEN} characters"));
        }
        let shown: String = u.chars().take(80).collect();
        match attachment_url(u) {
            Ok(canonical) if canonical.len() > MAX_URL_LEN => {
                return Err(format!("{field} is longer than {MAX_URL_LEN} characters once encoded"));
            }
            Ok(_) => {}
            Err(None) => return Err(format!("{field}: `{shown}` is not an http or https URL")),
            Err(Some(e)) => return Err(format!("{field}: `{shown}` is not a URL ({e})")),
        }
    }
    Ok(())
}

/// An attachment URL in the form threads show it: canonical, with the characters chat
/// markup reads as syntax (`|`, `<`, `>`) percent-encoded, so that it cannot close a link
/// and open a mention. `Err(None)`: a URL but not a web address; `Err(Some)`: not a URL.
pub fn attachment_url(url: &str) -> Result<String, Option<url::ParseError>> {
    let parsed = url::Url::parse(url).map_err(Some)?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(None);
    }
    Ok(parsed
        .as_str()
        .replace('|', "%7C")
        .replace('<', "%3C")
        .replace('>', "%3E"))
}

/// Ids the bridge stores and shows (in Slack buttons, URLs): 1 to 200 characters.
const MAX_ID_LEN: usize = 200;

fn check_id(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("`{field}` must not be empty"))
    } else if value.chars().count() > MAX_ID_LEN {
        Err(format!("`{field}` is longer than {MAX_ID_LEN} characters"))
    } else {
        Ok(())
    }
}

impl Service {
    /// Acts on one widget event, once.
    pub async fn ingest_widget_event(&self, event: &WidgetEvent) -> Result<Ingested, ServiceError> {
        event.validate().map_err(ServiceError::Invalid)?;
        let mut event = event.clone();
        event.limit();
        let event = &event;
        for _ in 0..MAX_ATTEMPTS {
            let mut tx = self.store().write().await?;
            if matches!(event.kind, WidgetEventKind::HandedOff { .. }) {
                self.lock_routing(tx.conn(), DEFAULT_WORKSPACE).await?;
            }
            if !inbound::first_time(tx.conn(), "widget", &event.id, now_ms()).await? {
                return Ok(Ingested::Duplicate);
            }
            let Some((done, events, outbox_rows)) = self.ingest_in(&mut tx, event).await? else {
                continue;
            };
            tx.commit().await?;
            self.announce(events, outbox_rows);
            return Ok(Ingested::Done(done));
        }
        Err(ServiceError::Internal(anyhow::anyhow!(
            "conversation kept changing; try again"
        )))
    }

    #[allow(clippy::type_complexity)]
    async fn ingest_in(&self, tx: &mut Tx, event: &WidgetEvent) -> Result<Option<(String, bool, bool)>, ServiceError> {
        let conn = tx.conn();
        let now = now_ms();
        let ws = DEFAULT_WORKSPACE;
        match &event.kind {
            WidgetEventKind::HandedOff { conversation: c } => {
                widgets::ensure(conn, ws, &c.widget_id, now).await?;
                let new = NewConversation {
                    id: &c.id,
                    workspace: ws,
                    widget: &c.widget_id,
                    visitor_name: c.visitor.name.as_deref(),
                    visitor_email: c.visitor.email.as_deref(),
                    summary: c.summary.as_deref(),
                    reason: c.reason.as_deref(),
                    now,
                };
                let existing = convs::get(conn, &c.id).await?;
                let (row, since) = match &existing {
                    None => (convs::insert(conn, &new).await?, None),
                    Some(_) => (
                        convs::update_details(conn, &new).await?,
                        convs::last_message_at(conn, &c.id).await?,
                    ),
                };
                // The transcript: all of it for a new conversation, only what is newer
                // than what we hold for a returning one.
                for line in &c.transcript {
                    let at = parse_time(line.at.as_deref(), now);
                    if since.is_some_and(|s| at <= s) {
                        continue;
                    }
                    convs::insert_message(
                        conn,
                        &NewMessage {
                            conversation: &c.id,
                            author: line.author.author(),
                            operator: None,
                            text: &line.text,
                            attachments: (!line.attachments.is_empty())
                                .then(|| serde_json::json!(line.attachments).to_string()),
                            external_id: line.id.as_deref(),
                            delivery: None,
                            at,
                            origin: None,
                        },
                    )
                    .await?;
                }
                // A new conversation has declined nobody yet.
                let declined = match existing {
                    None => Some(Vec::new()),
                    Some(_) => None,
                };
                self.widget_transition(conn, row, declined, Command::HandOff).await
            }
            WidgetEventKind::Message {
                conversation: c,
                message: m,
            } => {
                let row = match convs::get(conn, &c.id).await? {
                    Some(row) => row,
                    None => {
                        let Some(widget) = &c.widget_id else {
                            return Err(ServiceError::NotFound(format!(
                                "no conversation `{}`; send `conversation.widget_id` to start one",
                                c.id
                            )));
                        };
                        widgets::ensure(conn, ws, widget, now).await?;
                        convs::insert(conn, &NewConversation::bare(&c.id, ws, widget, now)).await?
                    }
                };
                let attachments = (!m.attachments.is_empty()).then(|| serde_json::json!(m.attachments).to_string());
                let stored = convs::insert_message(
                    conn,
                    &NewMessage {
                        conversation: &c.id,
                        author: m.author.author(),
                        operator: None,
                        text: &m.text,
                        attachments,
                        external_id: m.id.as_deref(),
                        delivery: None,
                        at: parse_time(m.at.as_deref(), now),
                        origin: None,
                    },
                )
                .await?;
                let Some(message_id) = stored else {
                    return Ok(Some(("message already stored".into(), false, false)));
                };
                let fx = [Effect::MirrorMessage { message_id }];
                let rows = super::deliveries::enqueue(conn, &self.recipients(None), &row, &fx, now).await?;
                // A visitor waiting on a team that has the conversation: the widget's
                // `reply_within` starts (unless they were waiting already).
                let mut armed = false;
                if m.author == WidgetAuthor::Visitor
                    && row.status.is_open()
                    && let Some(within) = widgets::get(conn, &row.widget_id)
                        .await?
                        .map(|w| w.reply_within())
                        .transpose()?
                        .flatten()
                {
                    armed = timers::arm_reply(
                        conn,
                        &NewTimer {
                            workspace: ws,
                            conversation: &c.id,
                            kind: TimerKind::Reply,
                            due_at: now + within.as_millis(),
                            version: row.version,
                            operator: None,
                            now,
                        },
                    )
                    .await?;
                }
                // A timer armed: woken after the commit like a change (the change feed
                // then finds nothing new).
                Ok(Some(("message stored".into(), armed, rows)))
            }
            WidgetEventKind::MessageUpdated {
                conversation: c,
                message: m,
            } => {
                let id = m.id.as_deref().unwrap_or_default();
                let attachments = (!m.attachments.is_empty()).then(|| serde_json::json!(m.attachments).to_string());
                convs::get(conn, &c.id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{}`", c.id)))?;
                let (done, rows) = self.widget_edit_in(tx, &c.id, id, &m.text, attachments).await?;
                Ok(Some((done, false, rows)))
            }
            WidgetEventKind::Closed { conversation: c } => {
                let row = convs::get(conn, &c.id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no conversation `{}`", c.id)))?;
                self.widget_transition(conn, row, None, Command::Close).await
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn widget_transition(
        &self,
        conn: &mut sqlx::AnyConnection,
        row: convs::ConversationRow,
        declined: Option<Vec<crate::engine::OperatorId>>,
        cmd: Command,
    ) -> Result<Option<(String, bool, bool)>, ServiceError> {
        let declined = match declined {
            Some(known) => known,
            None => convs::declined(conn, &row.id).await?,
        };
        let conv = row.to_engine(declined);
        let ctx = Context {
            actor: &Actor::Widget,
            actor_eligible: true,
            policy: self.policy(),
        };
        let decision = transition::decide(&conv, &ctx, &cmd).map_err(|r| match r {
            // The widget platform acts with every right; only the state can refuse it.
            crate::engine::transition::Refusal::InvalidState(why)
            | crate::engine::transition::Refusal::Forbidden(why) => ServiceError::InvalidState(why),
            crate::engine::transition::Refusal::AlreadyAssigned { .. } => {
                ServiceError::InvalidState("the conversation is assigned".into())
            }
        })?;
        let Some(applied) = self
            .apply_decision(conn, &row, &Actor::Widget, &cmd, decision, &super::Origin::Api)
            .await?
        else {
            return Ok(None);
        };
        let what = match applied.outcome {
            Outcome::Unchanged(why) => why.to_owned(),
            Outcome::HandedOff => match applied.row.assignee_id {
                Some(_) => "handed off and assigned".to_owned(),
                None => "handed off, unassigned".to_owned(),
            },
            Outcome::Closed => "resolved".to_owned(),
            other => format!("{other:?}"),
        };
        Ok(Some((what, applied.changed, applied.outbox_rows)))
    }
}
