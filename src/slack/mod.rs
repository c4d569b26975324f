//! The Slack adapter: turns Slack's Events API messages, button clicks, modal
//! submissions and `/handoff` commands into service commands, and turns its outbox rows
//! into Slack Web API calls (thread roots, transcript replies, root updates, DMs,
//! ephemerals, modals, reactions) with slack-morphism. Permissions are the engine's;
//! this module only translates and renders. It plugs into the core through the platform
//! seam (`docs/architecture.md#the-platform-seam`): a [`SlackMirror`], two outbox
//! targets and its own routes.
//!
//! - [`verify`] — the signed-request extractor (v0 HMAC, 5-minute window).
//! - [`events`] — `POST /slack/events`: acknowledged at once, acted on from the outbox.
//! - [`interactions`] — `POST /slack/interactions`: buttons and modals.
//! - [`commands`] — `POST /slack/commands`: Slack's text form of `/handoff`, and its answers.
//! - [`render`] — Block Kit for thread roots, transcript lines, DMs and modals.
//! - [`deliver`] — the outbox target that makes the Web API calls.
//! - [`people`] — Slack users as operators (found, or created from `users.info`).
//! - [`limits`] — Slack's published rate limits, kept before each call.
//! - [`socket`] — Socket Mode: the same events, clicks and commands over WebSockets the
//!   bridge opens, for a bridge with no public URL.

pub mod commands;
pub mod deliver;
pub mod events;
pub mod files;
pub mod interactions;
pub mod limits;
pub mod people;
pub mod render;
pub mod socket;
pub mod verify;

use crate::config::SlackSettings;
use crate::engine::effects::Effect;
use crate::outbox::OutboxRow;
use crate::outbox::{Delivery, Target};
use crate::platform::{Adapter, Started};
use crate::service::{MessageRef, Mirror, Planned, Receipt, Service, ThreadRef};
use axum::Router;
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;
use std::sync::Arc;

/// The platform's name: the outbox target of its rows and the key of its references.
pub const PLATFORM: &str = "slack";
/// The outbox target of inbound Slack events (acted on after the 200).
pub const TARGET_INBOUND: &str = "slack_in";

/// A conversation's Slack rows share this key: one thread, in order.
pub fn ordering_key(conversation: &str) -> String {
    format!("slack:{conversation}")
}

/// How long a request from Slack may work before it must be answered: Slack wants its
/// answer within 3 seconds. Work that takes longer goes on after the answer.
pub const ACK_BUDGET: std::time::Duration = std::time::Duration::from_millis(2500);

/// Runs `work` as a task of its own and waits for it at most [`ACK_BUDGET`]: `Ok` with
/// its result, or `Err` with the task, still running, to follow up on.
pub(crate) async fn within_ack<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, tokio::task::JoinHandle<T>> {
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(ACK_BUDGET, &mut task).await {
        Ok(Ok(done)) => Ok(done),
        // A panic in the work: it is logged by the runtime; treat it as still pending
        // so the caller answers, and the follow-up sees the failure.
        Ok(Err(_)) | Err(_) => Err(task),
    }
}

/// Slack as an adapter: built from its settings, started on the service.
pub struct SlackAdapter {
    settings: SlackSettings,
}

impl SlackAdapter {
    pub fn new(settings: SlackSettings) -> SlackAdapter {
        SlackAdapter { settings }
    }
}

impl Adapter for SlackAdapter {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn mirror(&self) -> Arc<dyn Mirror> {
        Arc::new(SlackMirror)
    }

    fn start(self: Box<Self>, service: &Service) -> anyhow::Result<Started> {
        let slack = Slack::new(service.clone(), &self.settings)?;
        let mut background: Vec<crate::platform::Background> = Vec::new();
        if let Some(app_token) = self.settings.app_token.clone() {
            let s = slack.clone();
            background.push(Box::new(move |stop| Box::pin(socket::run(s, app_token, stop))));
        }
        let files = files::SlackFiles::new(
            slack.clone(),
            &self.settings.api_url,
            std::time::Duration::from_secs(30),
        )?;
        Ok(Started {
            routes: slack.router(),
            targets: vec![
                (PLATFORM, Arc::new(Outbound(slack.clone())) as Arc<dyn Target>),
                (TARGET_INBOUND, Arc::new(Inbound(slack))),
            ],
            background,
            files: Some(Arc::new(files)),
        })
    }
}

/// Which Slack rows a change's effects become. Rows carry ids only: the root, lines and
/// DMs are rendered at delivery time from the state then.
pub struct SlackMirror;

impl Mirror for SlackMirror {
    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn plan(&self, conversation: &str, effect: &Effect) -> Vec<Planned> {
        let Some((kind, payload)) = crate::platform::mirror_row(conversation, effect) else {
            return vec![];
        };
        vec![Planned {
            kind,
            ordering_key: ordering_key(conversation),
            payload,
        }]
    }

    fn receipt(
        &self,
        conversation: &str,
        thread: Option<&ThreadRef>,
        reply: &MessageRef,
        what: Receipt,
        failure: Option<&str>,
    ) -> Vec<Planned> {
        deliver::receipt(conversation, thread, reply, what, failure)
    }
}

/// The outbox target of Slack Web API calls.
struct Outbound(Slack);

#[async_trait::async_trait]
impl Target for Outbound {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.0.deliver(row).await
    }
}

/// The outbox target that acts on queued inbound events.
struct Inbound(Slack);

#[async_trait::async_trait]
impl Target for Inbound {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.0.process_inbound(row).await
    }
}

/// Everything the Slack side needs, shared by the routes and the outbox target.
#[derive(Clone)]
pub struct Slack {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    client: SlackHyperClient,
    token: SecretString,
    signing_secret: SecretString,
    default_channel: Option<String>,
    /// Slack user ids that are admins besides Slack's own admins and owners.
    admins: Vec<String>,
    /// The bridge's own bot user and its workspace, learned from `auth.test`: its
    /// messages are ignored, and users of other workspaces are not its members.
    bot_user: tokio::sync::OnceCell<Option<(String, String)>>,
    limits: limits::Limits,
}

impl Slack {
    pub fn new(service: Service, settings: &SlackSettings) -> anyhow::Result<Slack> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client =
            SlackClient::new(SlackClientHyperConnector::with_connector(https).with_slack_api_url(&settings.api_url));
        let limits = limits::Limits::new(Some(service.shared_pace())).paced(settings.paced);
        Ok(Slack {
            inner: Arc::new(Inner {
                service,
                client,
                token: settings.bot_token.clone(),
                signing_secret: settings.signing_secret.clone(),
                default_channel: settings.default_channel.clone(),
                admins: settings.admins.clone(),
                bot_user: tokio::sync::OnceCell::new(),
                limits,
            }),
        })
    }

    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    fn token(&self) -> SlackApiToken {
        SlackApiToken::new(SlackApiTokenValue(self.inner.token.expose_secret().to_owned()))
    }

    /// A client and the token for Web API calls (each preceded by [`Slack::pace`]).
    pub(crate) fn session(&self) -> (SlackHyperClient, SlackApiToken) {
        (self.inner.client.clone(), self.token())
    }

    /// Waits until Slack's rate limits allow a call of `method` (on `channel`, for posts).
    pub(crate) async fn pace(&self, method: &str, channel: Option<&str>) {
        self.inner.limits.wait(method, channel).await;
    }

    /// Holds calls of `method` (on `channel`, for posts) for `wait`, as a 429 asked.
    pub(crate) fn hold(&self, method: &str, channel: Option<&str>, wait: std::time::Duration) {
        self.inner.limits.hold(method, channel, wait);
    }

    pub fn signing_secret(&self) -> &SecretString {
        &self.inner.signing_secret
    }

    pub fn default_channel(&self) -> Option<&str> {
        self.inner.default_channel.as_deref()
    }

    pub fn is_configured_admin(&self, user: &str) -> bool {
        self.inner.admins.iter().any(|a| a == user)
    }

    /// The bridge's bot user id (asked once with `auth.test`; `None` if Slack would not say).
    pub async fn bot_user(&self) -> Option<String> {
        self.identity().await.map(|(user, _)| user)
    }

    /// The workspace (team) the bridge is installed in.
    pub async fn team(&self) -> Option<String> {
        self.identity().await.map(|(_, team)| team)
    }

    async fn identity(&self) -> Option<(String, String)> {
        self.inner
            .bot_user
            .get_or_init(|| async {
                self.pace("auth.test", None).await;
                let (client, token) = self.session();
                match client.open_session(&token).auth_test().await {
                    Ok(r) => Some((r.user_id.0, r.team_id.0)),
                    Err(e) => {
                        tracing::warn!(error = %e, "auth.test failed; the bot's own messages are recognised by bot_id only");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// The routes Slack calls, with this adapter as their state.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/slack/events", post(events::receive))
            .route("/slack/interactions", post(interactions::receive))
            .route("/slack/commands", post(commands::receive))
            .with_state(self.clone())
    }

    /// Queues one Slack row of this conversation's (or another) ordering key.
    pub(crate) async fn queue(
        &self,
        kind: &'static str,
        ordering_key: String,
        payload: serde_json::Value,
    ) -> Result<(), crate::service::ServiceError> {
        let row = Planned {
            kind,
            ordering_key,
            payload,
        };
        self.service().queue(PLATFORM, row).await
    }
}
