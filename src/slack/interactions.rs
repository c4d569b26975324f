//! `POST /slack/interactions`: thread-root buttons (Accept, Reject, Transfer, Unassign,
//! Resolve, Hand back to bot), "Take over & send", and the Transfer and Resolve modals.
//! Each button carries the version it was rendered at: a click on an out-of-date root
//! re-renders it and tells the clicker privately what changed, and does nothing else.
//! Refusals (someone else has it, a rule forbids it) are told privately, never in the
//! channel.

use super::Slack;
use super::events::Notice;
use super::render::{self, RootContext};
use super::verify::{SignedBody, form};
use crate::engine::transition::{Command, TransferTarget};
use crate::engine::{OperatorId, Resolution, TeamId};
use crate::service::{DEFAULT_WORKSPACE, LinkedOperator, ServiceError};
use crate::web::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use slack_morphism::prelude::*;
use std::collections::HashMap;

/// Reads an interaction body (a form with a JSON `payload` field): 400 when the field is
/// missing or not JSON, 422 when it is not an interaction payload.
pub fn parse(body: &[u8]) -> Result<SlackInteractionEvent, ApiError> {
    let payload = form(body)
        .into_iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or_else(|| ApiError::bad_request("an interaction needs a `payload` form field"))?;
    let mut raw: Value = serde_json::from_str(&payload)
        .map_err(|e| ApiError::bad_request(format!("the `payload` field is not JSON: {e}")))?;
    crate::web::scrub::strip_nul(&mut raw);
    serde_json::from_value(raw).map_err(|e| ApiError::unprocessable(format!("not an interaction payload: {e}")))
}

pub async fn receive(State(slack): State<Slack>, SignedBody(body): SignedBody) -> Result<Response, ApiError> {
    let _ack = crate::platform::AckTimer::start(super::PLATFORM);
    let event = parse(&body)?;
    Ok(match answer(&slack, event).await? {
        None => StatusCode::OK.into_response(),
        Some(errors) => Json(json!({"response_action": "errors", "errors": errors})).into_response(),
    })
}

/// Acts on one interaction however it came (a webhook or a Socket Mode envelope): `Some`
/// with the errors to show in a submitted modal, by block.
pub(super) async fn answer(slack: &Slack, event: SlackInteractionEvent) -> Result<Option<Value>, ServiceError> {
    metrics::counter!("handoff_events_in_total", "source" => "slack_interaction", "result" => "ok").increment(1);
    // Slack gets its answer within 3 seconds whatever happens: slower work (a first-sight
    // `users.info`, pacing) goes on after it, and tells the user through the outbox.
    match event {
        SlackInteractionEvent::BlockActions(ev) => {
            let s = slack.clone();
            match super::within_ack(async move { s.on_block_actions(ev).await }).await {
                Ok(done) => done?,
                Err(late) => follow_late(late),
            }
            Ok(None)
        }
        SlackInteractionEvent::ViewSubmission(ev) => {
            let s = slack.clone();
            match super::within_ack(async move { s.on_view_submission(ev).await }).await {
                Ok(done) => done,
                Err(late) => {
                    follow_late(late);
                    Ok(None)
                }
            }
        }
        _ => Ok(None),
    }
}

/// Logs the outcome of work that finished after Slack got its answer.
fn follow_late<T: Send + 'static>(late: tokio::task::JoinHandle<Result<T, ServiceError>>) {
    tokio::spawn(async move {
        match late.await {
            Ok(Ok(_)) => tracing::info!("a slow Slack interaction finished after its answer"),
            Ok(Err(e)) => tracing::error!(error = %e, "a slow Slack interaction failed after its answer"),
            Err(e) => tracing::error!(error = %e, "a Slack interaction's work panicked"),
        }
    });
}

/// The selected value, text or options of one input in a submitted modal.
fn input<'a>(
    values: &'a HashMap<SlackBlockId, HashMap<SlackActionId, SlackViewStateValue>>,
    block: &str,
) -> Option<&'a SlackViewStateValue> {
    values
        .get(&SlackBlockId(block.to_owned()))?
        .get(&SlackActionId(block.to_owned()))
}

impl Slack {
    async fn on_block_actions(&self, ev: SlackInteractionBlockActionsEvent) -> Result<(), ServiceError> {
        let Some(user) = ev.user else { return Ok(()) };
        let channel = ev.channel.map(|c| c.id.0).or(match &ev.container {
            SlackInteractionActionContainer::Message(m) => m.channel_id.as_ref().map(|c| c.0.clone()),
            _ => None,
        });
        let Some(channel) = channel else { return Ok(()) };
        let op = match self
            .operator(&user.id.0, user.name.as_deref().or(user.username.as_deref()))
            .await
        {
            Ok(op) => op,
            Err(ServiceError::Forbidden(why)) => {
                let notice = Notice {
                    conversation: "-".into(),
                    channel: channel.clone(),
                    user: user.id.0.clone(),
                    thread_ts: None,
                    text: format!("You can't do that: {why}."),
                    button: None,
                };
                return self.tell(notice).await;
            }
            Err(e) => return Err(e),
        };
        for action in ev.actions.unwrap_or_default() {
            let value = action.value.unwrap_or_default();
            let click = Click {
                op: &op,
                user: &user.id.0,
                channel: &channel,
                trigger: &ev.trigger_id.0,
            };
            self.on_button(&click, &action.action_id.0, &value).await?;
        }
        Ok(())
    }

    async fn on_button(&self, click: &Click<'_>, action: &str, value: &str) -> Result<(), ServiceError> {
        let ws = DEFAULT_WORKSPACE;
        if action == render::TAKEOVER_SEND {
            return self.takeover_and_send(click, value).await;
        }
        let unknown = || Notice {
            conversation: "-".into(),
            channel: click.channel.to_owned(),
            user: click.user.to_owned(),
            thread_ts: None,
            text: crate::platform::UNKNOWN_BUTTON.into(),
            button: None,
        };
        let Some((version, conversation)) = render::parse_action_value(value) else {
            // One of ours that cannot be read is stale or forged: say so. Anything else
            // (another app's element) is not ours to answer.
            if action.starts_with("hb_") {
                return self.tell(unknown()).await;
            }
            return Ok(());
        };
        let notice = |text: String| Notice {
            conversation: conversation.to_owned(),
            channel: click.channel.to_owned(),
            user: click.user.to_owned(),
            thread_ts: None,
            text,
            button: None,
        };
        let current = match self.service().conversation(ws, conversation).await {
            Ok(c) => c.conversation,
            Err(ServiceError::NotFound(_)) => {
                return self.tell(notice("This conversation no longer exists.".into())).await;
            }
            Err(e) => return Err(e),
        };
        if current.version != version {
            self.refresh(conversation).await?;
            // A losing Accept: someone else claimed it first.
            if action == render::ACCEPT
                && let Some(owner) = current.assignee.as_ref().filter(|a| a.id != click.op.id)
            {
                return self
                    .tell(notice(format!(
                        "*{}* already has this conversation.",
                        render::esc(&owner.name)
                    )))
                    .await;
            }
            let ctx = RootContext {
                assignee_slack: None,
                nobody_available: false,
            };
            let now = render::status_line(&current, &ctx);
            return self
                .tell(notice(format!("That message was out of date, so nothing was done: the conversation is now *{now}*. It has been refreshed.")))
                .await;
        }
        let cmd = match action {
            // Accept on someone else's conversation takes it over, where the role allows.
            render::ACCEPT => Command::Claim {
                takeover: self.service().policy().may_take_over(click.op.role),
            },
            render::REJECT => Command::Reject,
            render::UNASSIGN => Command::Unassign,
            render::HANDBACK => Command::Transfer(TransferTarget::Bot),
            render::TRANSFER => return self.open_modal(click, &current, true).await,
            render::RESOLVE => return self.open_modal(click, &current, false).await,
            _ => return self.tell(unknown()).await,
        };
        let result = self.service().act(ws, conversation, &click.op.actor(), cmd).await;
        self.report(result.map(|_| ()), notice).await
    }

    /// Tells the clicker privately why nothing happened, if something was refused.
    async fn report(
        &self,
        result: Result<(), ServiceError>,
        notice: impl Fn(String) -> Notice,
    ) -> Result<(), ServiceError> {
        match result {
            Ok(()) => Ok(()),
            Err(ServiceError::AlreadyAssigned { owner, .. }) => {
                self.tell(notice(format!(
                    "*{}* already has this conversation.",
                    render::esc(&owner.name)
                )))
                .await
            }
            Err(ServiceError::Forbidden(why)) => self.tell(notice(format!("You can't do that: {why}."))).await,
            Err(ServiceError::InvalidState(why) | ServiceError::Invalid(why) | ServiceError::NotFound(why)) => {
                self.tell(notice(format!("Nothing was done: {why}."))).await
            }
            Err(e) => Err(e),
        }
    }

    /// Queues a re-render of a conversation's root.
    async fn refresh(&self, conversation: &str) -> Result<(), ServiceError> {
        self.queue(
            "render",
            super::ordering_key(conversation),
            json!({"conversation": conversation}),
        )
        .await
    }

    async fn open_modal(
        &self,
        click: &Click<'_>,
        c: &crate::service::ConversationView,
        transfer: bool,
    ) -> Result<(), ServiceError> {
        let view = if transfer {
            let ws = DEFAULT_WORKSPACE;
            let operators: Vec<(i64, String)> = self
                .service()
                .list_operators(ws)
                .await?
                .into_iter()
                .map(|o| (o.id, o.name))
                .collect();
            let teams: Vec<(i64, String)> = self
                .service()
                .list_teams(ws)
                .await?
                .into_iter()
                .map(|t| (t.id, t.name))
                .collect();
            render::transfer_modal(c, &operators, &teams)
        } else {
            render::resolve_modal(c)
        };
        // Its own ordering key: a modal must open within Slack's 3-second trigger window.
        let payload = json!({"trigger_id": click.trigger, "view": view});
        self.queue("modal", format!("slack:modal:{}", click.trigger), payload)
            .await
    }

    async fn takeover_and_send(&self, click: &Click<'_>, value: &str) -> Result<(), ServiceError> {
        let notice = |conversation: &str, text: String| Notice {
            conversation: conversation.to_owned(),
            channel: click.channel.to_owned(),
            user: click.user.to_owned(),
            thread_ts: None,
            text,
            button: None,
        };
        let Ok(id) = value.parse::<i64>() else { return Ok(()) };
        // Sent, or kept held if refused: one transaction decides.
        match self.service().send_held(DEFAULT_WORKSPACE, id, &click.op.actor()).await {
            Ok(_) => Ok(()),
            Err(ServiceError::NotFound(why)) => self.tell(notice("-", format!("Nothing was sent: {why}."))).await,
            Err(e) => self.report(Err(e), |t| notice("-", t)).await,
        }
    }

    /// Returns modal errors to show (by input block), or `None` when it may close.
    async fn on_view_submission(&self, ev: SlackInteractionViewSubmissionEvent) -> Result<Option<Value>, ServiceError> {
        let SlackView::Modal(modal) = &ev.view.view else {
            return Ok(None);
        };
        let callback = modal.callback_id.as_ref().map(|c| c.0.as_str()).unwrap_or_default();
        let Some((_, conversation)) = modal.private_metadata.as_deref().and_then(render::parse_action_value) else {
            return Ok(None);
        };
        let values = ev.view.state_params.state.map(|s| s.values).unwrap_or_default();
        let text = |block: &str| {
            input(&values, block)
                .and_then(|v| v.value.clone())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let selected = |block: &str| {
            input(&values, block)
                .and_then(|v| v.selected_option.as_ref())
                .and_then(|o| o.value.parse::<i64>().ok())
        };
        let op = match self
            .operator(&ev.user.id.0, ev.user.name.as_deref().or(ev.user.username.as_deref()))
            .await
        {
            Ok(op) => op,
            Err(ServiceError::Forbidden(why)) => {
                let block = if callback == render::TRANSFER_VIEW {
                    "bot"
                } else {
                    "topic"
                };
                return Ok(Some(json!({ block: why })));
            }
            Err(e) => return Err(e),
        };
        let ws = DEFAULT_WORKSPACE;
        let (cmd, error_block) = match callback {
            render::TRANSFER_VIEW => {
                let bot = input(&values, "bot")
                    .and_then(|v| v.selected_options.as_ref())
                    .is_some_and(|o| !o.is_empty());
                let target = match (selected("operator"), selected("team"), bot) {
                    (Some(op), None, false) => TransferTarget::Operator(OperatorId(op)),
                    (None, Some(team), false) => TransferTarget::Team(TeamId(team)),
                    (None, None, true) => TransferTarget::Bot,
                    _ => {
                        return Ok(Some(
                            json!({"bot": "Pick exactly one destination: an operator, a team, or back to the bot."}),
                        ));
                    }
                };
                (Command::Transfer(target), "bot")
            }
            render::RESOLVE_VIEW => {
                let tags = text("tags")
                    .map(|t| {
                        t.split(',')
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    Command::Resolve(Resolution {
                        topic: text("topic"),
                        outcome: text("outcome"),
                        tags,
                    }),
                    "topic",
                )
            }
            _ => return Ok(None),
        };
        match self.service().act(ws, conversation, &op.actor(), cmd).await {
            Ok(_) => {
                if callback == render::TRANSFER_VIEW
                    && let Some(note) = text("note")
                {
                    self.service()
                        .add_note(ws, conversation, op.id, &format!("Transfer note: {note}"))
                        .await?;
                }
                Ok(None)
            }
            Err(ServiceError::AlreadyAssigned { owner, .. }) => Ok(Some(
                json!({error_block: format!("{} already has this conversation.", owner.name)}),
            )),
            Err(
                ServiceError::Forbidden(why)
                | ServiceError::InvalidState(why)
                | ServiceError::NotFound(why)
                | ServiceError::Invalid(why),
            ) => Ok(Some(json!({error_block: why}))),
            Err(e) => Err(e),
        }
    }
}

/// Who clicked, where.
struct Click<'a> {
    op: &'a LinkedOperator,
    user: &'a str,
    channel: &'a str,
    trigger: &'a str,
}
