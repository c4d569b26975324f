//! Buttons, selects and modals (gateway `INTERACTION_CREATE`): Accept, Reject, Transfer,
//! Unassign, Resolve and Hand back on a thread root, the Transfer message's selects,
//! the Resolve modal, and "Take over & send" on a held reply.
//!
//! Discord wants every interaction answered within 3 seconds, so each is answered
//! first — a deferred update for actions, the Transfer message or the Resolve modal
//! for those two — and the work follows. Each `custom_id` carries the version it was
//! drawn at: a click on an out-of-date root re-draws it and tells the clicker privately
//! what changed, and does nothing else. Refusals (someone else has it, a rule forbids
//! it) are told privately, as ephemeral follow-ups, never in the channel. Permissions
//! are the engine's.

use super::Discord;
use super::people::Member;
use super::render::{self, Custom, RootContext, verb};
use crate::engine::transition::{Command, TransferTarget};
use crate::engine::{OperatorId, Resolution, TeamId};
use crate::service::{ConversationView, DEFAULT_WORKSPACE, LinkedOperator, ServiceError};
use serde_json::{Value, json};
use serenity::all::{
    ActionRowComponent, ComponentInteraction, ComponentInteractionDataKind, CreateInteractionResponse,
    CreateInteractionResponseMessage, Interaction, ModalInteraction, UserId,
};

/// The private answer to a button this bridge cannot read.
const UNKNOWN_BUTTON: &str =
    "That button is not one this bridge knows (it may be from an older message), so nothing was done.";

/// One interaction being answered: where to send follow-ups, and who acted.
pub(crate) struct Answering {
    pub token: String,
    pub op: LinkedOperator,
    /// The conversation the follow-ups are about (their ordering key).
    pub conversation: String,
}

impl Discord {
    /// An interaction from the gateway.
    pub async fn on_interaction(&self, interaction: Interaction) {
        let id = interaction.id().get();
        self.inner.arrived.insert(id, std::time::Instant::now());
        let result = match interaction {
            Interaction::Component(c) => self.on_component(c).await,
            Interaction::Modal(m) => self.on_modal(m).await,
            Interaction::Command(c) => self.on_command(c).await,
            _ => Ok(()),
        };
        self.inner.arrived.remove(&id);
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("handoff_events_in_total", "source" => "discord_interaction", "result" => outcome)
            .increment(1);
        if let Err(e) = result {
            tracing::error!(error = %e, "a Discord interaction failed");
        }
    }

    /// Answers an interaction (the first, required response). `false`: it was answered
    /// already (a repeated dispatch) or it expired, so nothing more is done.
    pub(crate) async fn respond(&self, id: u64, token: &str, response: &CreateInteractionResponse) -> bool {
        let path = format!("/interactions/{id}/{token}/callback");
        match self.rest().post(&path, response).await {
            Ok(_) => {
                if let Some((_, arrived)) = self.inner.arrived.remove(&id) {
                    metrics::histogram!("handoff_interaction_ack_seconds", "platform" => super::PLATFORM)
                        .record(arrived.elapsed().as_secs_f64());
                }
                true
            }
            Err(e) => {
                tracing::warn!(interaction = id, error = %e, "Discord refused the answer to an interaction");
                false
            }
        }
    }

    /// The operator behind whoever acted, or `None` when they may not act here (the
    /// provisioning setting): then they are told why, privately.
    pub(crate) async fn acting(
        &self,
        member: &Member<'_>,
        token: &str,
    ) -> Result<Option<LinkedOperator>, ServiceError> {
        match self.operator(member).await {
            Ok(op) => Ok(Some(op)),
            Err(ServiceError::Forbidden(why)) => {
                let message = json!({"content": format!("You can't do that: {why}.")});
                self.queue(
                    "followup",
                    format!("discord:refused:{token}"),
                    json!({"token": token, "message": message}),
                )
                .await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Queues an ephemeral follow-up.
    pub(crate) async fn follow_up(
        &self,
        a: &Answering,
        text: String,
        components: Option<Value>,
    ) -> Result<(), ServiceError> {
        let mut message = json!({"content": render::trim(&text, render::CONTENT_MAX)});
        if let Some(c) = components {
            message["components"] = c;
        }
        self.queue(
            "followup",
            super::ordering_key(&a.conversation),
            json!({"token": a.token, "message": message}),
        )
        .await
    }

    /// Queues a replacement of the interaction's original response.
    pub(crate) async fn answer(&self, a: &Answering, text: String, components: Value) -> Result<(), ServiceError> {
        let message = json!({"content": render::trim(&text, render::CONTENT_MAX), "components": components});
        self.queue(
            "edit_original",
            super::ordering_key(&a.conversation),
            json!({"token": a.token, "message": message}),
        )
        .await
    }

    /// The conversation a `custom_id` names: by id, or by its thread (given, or the
    /// message the component is on, whose id is the thread's).
    async fn conversation_of(&self, custom: &Custom, message: Option<String>) -> Result<Option<String>, ServiceError> {
        if let Some(c) = &custom.conversation {
            return Ok(Some(c.clone()));
        }
        match custom.thread.clone().or(message) {
            Some(thread) => self.service().conversation_by_thread(super::PLATFORM, &thread).await,
            None => Ok(None),
        }
    }

    async fn on_component(&self, i: ComponentInteraction) -> Result<(), ServiceError> {
        let member = Member {
            user: &i.user,
            nick: i.member.as_ref().and_then(|m| m.nick.as_deref()),
            permissions: i.member.as_ref().and_then(|m| m.permissions),
            in_guild: i.member.is_some(),
        };
        let custom_id = i.data.custom_id.as_str();
        if let Some(held) = custom_id
            .strip_prefix("hb:")
            .and_then(|r| r.strip_prefix(verb::TAKEOVER_SEND))
            .and_then(|r| r.strip_prefix(':'))
        {
            if !self
                .respond(i.id.get(), &i.token, &CreateInteractionResponse::Acknowledge)
                .await
            {
                return Ok(());
            }
            let Some(op) = self.acting(&member, &i.token).await? else {
                return Ok(());
            };
            return self.takeover_and_send(&i.token, op, held).await;
        }
        let Some(custom) = render::parse_custom_id(custom_id) else {
            // Only this application's components reach it: one it cannot read is from a
            // message it no longer understands, or forged. Say so rather than fail.
            self.respond(i.id.get(), &i.token, &ephemeral_message(UNKNOWN_BUTTON))
                .await;
            return Ok(());
        };
        let thread = i.message.id.to_string();
        let Some(conversation) = self.conversation_of(&custom, Some(thread.clone())).await? else {
            self.respond(
                i.id.get(),
                &i.token,
                &ephemeral_message("This conversation no longer exists."),
            )
            .await;
            return Ok(());
        };
        let current = match self.service().conversation(DEFAULT_WORKSPACE, &conversation).await {
            Ok(c) => c.conversation,
            Err(ServiceError::NotFound(_)) => {
                self.respond(
                    i.id.get(),
                    &i.token,
                    &ephemeral_message("This conversation no longer exists."),
                )
                .await;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let fresh = current.version == custom.version;
        // The two that open something answer with it; everything else is deferred.
        let thread_for_ids = custom.thread.clone().or(Some(thread));
        let first = match custom.verb.as_str() {
            verb::TRANSFER if fresh => {
                let teams: Vec<(i64, String)> = self
                    .service()
                    .list_teams(DEFAULT_WORKSPACE)
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.name))
                    .collect();
                let visitor = current
                    .visitor
                    .name
                    .clone()
                    .unwrap_or_else(|| "this conversation".into());
                CreateInteractionResponse::Message(
                    CreateInteractionResponseMessage::new()
                        .content(format!("Transfer **{}** to:", render::esc(&visitor)))
                        .components(render::transfer_components(&current, thread_for_ids.as_deref(), &teams))
                        .ephemeral(true),
                )
            }
            verb::RESOLVE if fresh => {
                CreateInteractionResponse::Modal(render::resolve_modal(&current, thread_for_ids.as_deref()))
            }
            _ => CreateInteractionResponse::Acknowledge,
        };
        let opened = matches!(
            first,
            CreateInteractionResponse::Message(_) | CreateInteractionResponse::Modal(_)
        );
        if !self.respond(i.id.get(), &i.token, &first).await || opened {
            return Ok(());
        }
        let Some(op) = self.acting(&member, &i.token).await? else {
            return Ok(());
        };
        let a = Answering {
            token: i.token.clone(),
            op,
            conversation: conversation.clone(),
        };
        if !fresh {
            // A losing Accept: someone else claimed it first.
            if custom.verb == verb::ACCEPT
                && let Some(owner) = current.assignee.as_ref().filter(|o| o.id != a.op.id)
            {
                self.queue(
                    "render",
                    super::ordering_key(&current.id),
                    json!({"conversation": current.id}),
                )
                .await?;
                let text = format!("**{}** already has this conversation.", render::esc(&owner.name));
                return self.follow_up(&a, text, None).await;
            }
            return self.stale(&a, &current).await;
        }
        let cmd = match custom.verb.as_str() {
            verb::ACCEPT => Command::Claim {
                takeover: self.service().policy().may_take_over(a.op.role),
            },
            verb::REJECT => Command::Reject,
            verb::UNASSIGN => Command::Unassign,
            verb::HANDBACK | verb::TO_BOT => Command::Transfer(TransferTarget::Bot),
            verb::TO_OPERATOR => {
                let ComponentInteractionDataKind::UserSelect { values } = &i.data.kind else {
                    return Ok(());
                };
                let Some(user) = values.first() else { return Ok(()) };
                let target = self.picked_operator(*user, &i).await?;
                Command::Transfer(TransferTarget::Operator(target))
            }
            verb::TO_TEAM => {
                let ComponentInteractionDataKind::StringSelect { values } = &i.data.kind else {
                    return Ok(());
                };
                let Some(team) = values.first().and_then(|v| v.parse::<i64>().ok()) else {
                    return Ok(());
                };
                Command::Transfer(TransferTarget::Team(TeamId(team)))
            }
            _ => return self.follow_up(&a, UNKNOWN_BUTTON.into(), None).await,
        };
        let transfer = matches!(cmd, Command::Transfer(_)) && custom.verb != verb::HANDBACK;
        let result = self
            .service()
            .act(DEFAULT_WORKSPACE, &conversation, &a.op.actor(), cmd)
            .await;
        if transfer {
            // The Transfer message itself says how it went.
            let text = match result {
                Ok(acted) => format!("Done: {}.", render::status_line(&acted.conversation, &no_context())),
                Err(e) => refusal(e)?,
            };
            return self.answer(&a, text, json!([])).await;
        }
        self.report(&a, result.map(|_| ())).await
    }

    /// The operator behind a user picked in a select.
    async fn picked_operator(&self, user: UserId, i: &ComponentInteraction) -> Result<OperatorId, ServiceError> {
        let resolved = i.data.resolved.users.get(&user).cloned();
        let user = resolved.unwrap_or_else(|| {
            let mut u = serenity::all::User::default();
            u.id = user;
            u.name = user.to_string();
            u
        });
        Ok(self.operator_of_id(&user).await?.id)
    }

    /// A click on an out-of-date root: re-draw it and say what changed.
    async fn stale(&self, a: &Answering, current: &ConversationView) -> Result<(), ServiceError> {
        self.queue(
            "render",
            super::ordering_key(&current.id),
            json!({"conversation": current.id}),
        )
        .await?;
        let now = render::status_line(current, &no_context());
        self.follow_up(
            a,
            format!("That message was out of date, so nothing was done: the conversation is now **{now}**. It has been refreshed."),
            None,
        )
        .await
    }

    /// Tells the clicker privately why nothing happened, if something was refused.
    async fn report(&self, a: &Answering, result: Result<(), ServiceError>) -> Result<(), ServiceError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                let text = refusal(e)?;
                self.follow_up(a, text, None).await
            }
        }
    }

    async fn takeover_and_send(&self, token: &str, op: LinkedOperator, held: &str) -> Result<(), ServiceError> {
        let mut a = Answering {
            token: token.to_owned(),
            op,
            conversation: "-".into(),
        };
        let Ok(id) = held.parse::<i64>() else { return Ok(()) };
        // Sent, or kept held if refused: one transaction decides.
        match self.service().send_held(DEFAULT_WORKSPACE, id, &a.op.actor()).await {
            Ok((_, conversation)) => {
                a.conversation = conversation;
                self.answer(
                    &a,
                    "You took the conversation over; your message was sent.".into(),
                    json!([]),
                )
                .await
            }
            Err(ServiceError::NotFound(why)) => self.follow_up(&a, format!("Nothing was sent: {why}."), None).await,
            Err(e) => self.report(&a, Err(e)).await,
        }
    }

    async fn on_modal(&self, m: ModalInteraction) -> Result<(), ServiceError> {
        let Some(custom) = render::parse_custom_id(&m.data.custom_id).filter(|c| c.verb == verb::RESOLVED) else {
            return Ok(());
        };
        if !self
            .respond(m.id.get(), &m.token, &CreateInteractionResponse::Acknowledge)
            .await
        {
            return Ok(());
        }
        let member = Member {
            user: &m.user,
            nick: m.member.as_ref().and_then(|mm| mm.nick.as_deref()),
            permissions: m.member.as_ref().and_then(|mm| mm.permissions),
            in_guild: m.member.is_some(),
        };
        let Some(op) = self.acting(&member, &m.token).await? else {
            return Ok(());
        };
        let Some(conversation) = self
            .conversation_of(&custom, m.message.as_ref().map(|msg| msg.id.to_string()))
            .await?
        else {
            return Ok(());
        };
        let a = Answering {
            token: m.token.clone(),
            op,
            conversation: conversation.clone(),
        };
        let current = match self.service().conversation(DEFAULT_WORKSPACE, &conversation).await {
            Ok(c) => c.conversation,
            Err(e) => return self.report(&a, Err(e)).await,
        };
        if current.version != custom.version {
            return self.stale(&a, &current).await;
        }
        let text = |id: &str| {
            m.data
                .components
                .iter()
                .flat_map(|row| row.components.iter())
                .find_map(|c| match c {
                    ActionRowComponent::InputText(t) if t.custom_id == id => t.value.clone(),
                    _ => None,
                })
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let tags = text("tags")
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cmd = Command::Resolve(Resolution {
            topic: text("topic"),
            outcome: text("outcome"),
            tags,
        });
        let result = self
            .service()
            .act(DEFAULT_WORKSPACE, &conversation, &a.op.actor(), cmd)
            .await;
        self.report(&a, result.map(|_| ())).await
    }
}

/// An ephemeral answer.
fn ephemeral_message(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(CreateInteractionResponseMessage::new().content(text).ephemeral(true))
}

fn no_context() -> RootContext<'static> {
    RootContext {
        assignee_account: None,
        nobody_available: false,
        thread: None,
        archived: false,
    }
}

/// What to tell someone whose action was refused; internal failures stay errors.
fn refusal(e: ServiceError) -> Result<String, ServiceError> {
    Ok(match e {
        ServiceError::AlreadyAssigned { owner, .. } => {
            format!("**{}** already has this conversation.", render::esc(&owner.name))
        }
        ServiceError::Forbidden(why) => format!("You can't do that: {why}."),
        ServiceError::InvalidState(why) | ServiceError::Invalid(why) | ServiceError::NotFound(why) => {
            format!("Nothing was done: {why}.")
        }
        e => return Err(e),
    })
}
