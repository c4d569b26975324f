//! Socket Mode: Slack without a public URL. With an app-level token (`xapp-…`) the
//! bridge opens WebSocket connections to Slack (slack-morphism's Socket Mode listener,
//! several connections as Slack recommends, reconnecting on `disconnect` and on dropped
//! sockets) and takes events, interactions and slash commands from them by the same
//! path as the webhooks: the same idempotency, the same outbox, the same answers.
//! Each envelope is acked only once what it carries is durably recorded: an event is
//! queued by its `event_id`, and an interaction or a command is recorded by its
//! `trigger_id` before it is acted on, so an envelope Slack delivers twice (to this
//! instance or another) acts once. Answers to commands and modal errors go back in the
//! ack.

use super::{PLATFORM, Slack};
use backon::{BackoffBuilder, ExponentialBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Connections kept open (Slack allows up to 10 per app).
pub const CONNECTIONS: u32 = 2;

/// Where envelope repeats are recorded (beside the webhooks' event ids).
const SEEN: &str = "slack_socket";

/// What a callback gives back when it could not take an envelope: it is then not acked.
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Holds the Socket Mode connections until `stop` is cancelled.
pub async fn run(slack: Slack, app_token: SecretString, stop: CancellationToken) {
    let (client, _) = slack.session();
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(Arc::new(client))
            .with_user_state(slack.clone())
            .with_error_handler(on_error),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_event)
        .with_interaction_events(on_interaction)
        .with_command_events(on_command);
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(CONNECTIONS)
        .with_initial_backoff_in_seconds(1);
    let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_owned()));
    // `apps.connections.open` may fail while Slack is unreachable: try again with backoff.
    let mut waits = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .without_max_times()
        .build();
    while let Err(e) = listener.listen_for(&token).await {
        let wait = waits.next().unwrap_or(Duration::from_secs(60));
        tracing::warn!(error = %e, retry_in = ?wait, "Slack Socket Mode: cannot open a connection");
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    listener.start().await;
    tracing::info!(connections = CONNECTIONS, "Slack Socket Mode connected");
    stop.cancelled().await;
    listener.shutdown().await;
}

fn on_error(err: Failure, _: Arc<SlackHyperClient>, _: SlackClientEventsUserState) -> HttpStatusCode {
    // Not acked: Slack delivers the envelope again.
    tracing::warn!(error = %err, "Slack Socket Mode: an envelope was not taken; Slack will deliver it again");
    HttpStatusCode::INTERNAL_SERVER_ERROR
}

async fn adapter(state: &SlackClientEventsUserState) -> Slack {
    state
        .read()
        .await
        .get_user_state::<Slack>()
        .expect("the Socket Mode listener carries the adapter")
        .clone()
}

async fn on_event(
    cb: SlackPushEventCallback,
    _: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> Result<(), Failure> {
    let slack = adapter(&state).await;
    let mut raw = serde_json::to_value(SlackPushEvent::EventCallback(cb.clone()))?;
    crate::web::scrub::strip_nul(&mut raw);
    super::events::take(&slack, &cb, raw).await?;
    Ok(())
}

/// Whether the envelope carrying `trigger_id` is new; a repeat is acked and not acted on.
async fn fresh(slack: &Slack, kind: &str, trigger_id: Option<&str>) -> Result<bool, Failure> {
    let Some(id) = trigger_id else { return Ok(true) };
    let fresh = slack.service().first_sight(SEEN, &format!("{kind}:{id}")).await?;
    if !fresh {
        metrics::counter!("handoff_events_in_total", "source" => "slack_socket", "result" => "duplicate").increment(1);
        tracing::debug!(%id, "repeated Slack Socket Mode {kind} ignored");
    }
    Ok(fresh)
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> Result<SlackInteractionResponse, Failure> {
    let _ack = crate::platform::AckTimer::start(PLATFORM);
    let slack = adapter(&state).await;
    let trigger = match &ev {
        SlackInteractionEvent::BlockActions(e) => Some(e.trigger_id.0.clone()),
        SlackInteractionEvent::ViewSubmission(e) => e.trigger_id.as_ref().map(|t| t.0.clone()),
        _ => None,
    };
    if !fresh(&slack, "interaction", trigger.as_deref()).await? {
        return Ok(SlackInteractionResponse::Empty);
    }
    Ok(match super::interactions::answer(&slack, ev).await? {
        None => SlackInteractionResponse::Empty,
        Some(errors) => {
            let errors = serde_json::from_value(errors)?;
            SlackInteractionResponse::ViewSubmission(SlackViewSubmissionResponse::Errors(
                SlackViewSubmissionErrorsResponse::new(errors),
            ))
        }
    })
}

async fn on_command(
    ev: SlackCommandEvent,
    _: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> Result<SlackCommandEventResponse, Failure> {
    let _ack = crate::platform::AckTimer::start(PLATFORM);
    let slack = adapter(&state).await;
    if !fresh(&slack, "command", Some(&ev.trigger_id.0)).await? {
        // Slack showed the first answer already.
        return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
    }
    let fields: Vec<(String, String)> = match serde_json::to_value(&ev)? {
        Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        _ => Vec::new(),
    };
    let answer = match super::commands::answer(&slack, fields).await {
        Ok(answer) => answer.0,
        // What the webhook would have answered with a status, said to the user instead:
        // the envelope is taken either way (its trigger is recorded).
        Err(e) if e.status.is_client_error() => serde_json::json!({"text": format!("⚠️ {}", e.message)}),
        Err(e) => {
            tracing::error!(code = e.code, "a /handoff command over Socket Mode failed");
            serde_json::json!({"text": "⚠️ That did not work; please try again."})
        }
    };
    Ok(serde_json::from_value(answer)?)
}
