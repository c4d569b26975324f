//! The Discord adapter: conversations mirrored into a Discord channel (a thread started
//! from a root message, or one forum post each), moderators' thread messages relayed as
//! replies, buttons, selects and modals for the assignment actions, DMs to the
//! assignee, and `/handoff` as a guild slash command. It plugs into the core through the
//! platform seam (`docs/architecture.md#the-platform-seam`) like Slack does: a
//! [`DiscordMirror`], two outbox targets, and a background task holding the gateway.
//!
//! - [`gateway`] — serenity's gateway client: messages and interactions in, catch-up
//!   after downtime, commands registered per guild.
//! - [`rest`] — Discord's REST API for the outbox, paced by Discord's rate-limit headers.
//! - [`render`] — embeds, components, transcript lines and the `custom_id` scheme.
//! - [`deliver`] — the outbox target that makes the REST calls.
//! - [`replies`] — moderators' thread messages as replies and notes.
//! - [`interactions`] — buttons, selects and modals.
//! - [`commands`] — `/handoff` as typed options.
//! - [`people`] — Discord members as operators.

pub mod commands;
pub mod deliver;
pub mod files;
pub mod gateway;
pub mod interactions;
pub mod people;
pub mod render;
pub mod replies;
pub mod rest;

use crate::config::DiscordSettings;
use crate::engine::effects::Effect;
use crate::outbox::{Delivery, OutboxRow, Target};
use crate::platform::{Adapter, Started};
use crate::service::{MessageRef, Mirror, Planned, Receipt, Service, ServiceError, ThreadRef};
use axum::Router;
use dashmap::{DashMap, DashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The platform's name: the outbox target of its rows and the key of its references.
pub const PLATFORM: &str = "discord";
/// The outbox target of inbound gateway messages (acted on in order per thread).
pub const TARGET_INBOUND: &str = "discord_in";

/// A conversation's Discord rows share this key: one thread, in order.
pub fn ordering_key(conversation: &str) -> String {
    format!("discord:{conversation}")
}

/// Discord as an adapter: built from its settings, started on the service.
pub struct DiscordAdapter {
    settings: DiscordSettings,
}

impl DiscordAdapter {
    pub fn new(settings: DiscordSettings) -> DiscordAdapter {
        DiscordAdapter { settings }
    }
}

impl Adapter for DiscordAdapter {
    fn name(&self) -> &'static str {
        PLATFORM
    }

    fn mirror(&self) -> Arc<dyn Mirror> {
        Arc::new(DiscordMirror)
    }

    fn start(self: Box<Self>, service: &Service) -> anyhow::Result<Started> {
        let discord = Discord::new(service.clone(), &self.settings)?;
        let gateway = discord.clone();
        let files = files::DiscordFiles::new(
            discord.clone(),
            &self.settings.api_url,
            std::time::Duration::from_secs(30),
        )?;
        Ok(Started {
            routes: Router::new(),
            targets: vec![
                (PLATFORM, Arc::new(Outbound(discord.clone())) as Arc<dyn Target>),
                (TARGET_INBOUND, Arc::new(Inbound(discord))),
            ],
            background: vec![Box::new(move |stop| Box::pin(gateway::run(gateway, stop)))],
            files: Some(Arc::new(files)),
        })
    }
}

/// Which Discord rows a change's effects become. Rows carry ids only: roots, lines and
/// DMs are rendered at delivery time from the state then.
pub struct DiscordMirror;

impl Mirror for DiscordMirror {
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

/// The outbox target of Discord REST calls.
struct Outbound(Discord);

#[async_trait::async_trait]
impl Target for Outbound {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.0.deliver(row).await
    }
}

/// The outbox target that acts on queued gateway messages.
struct Inbound(Discord);

#[async_trait::async_trait]
impl Target for Inbound {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.0.process_inbound(row).await
    }
}

/// What is known of a channel the bridge posts in.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    /// Discord's channel type: 0 text, 5 announcement, 15 forum.
    pub kind: u64,
    pub guild: Option<String>,
    /// A thread's parent channel.
    pub parent: Option<String>,
}

/// Everything the Discord side needs, shared by the gateway handler and the outbox
/// targets.
#[derive(Clone)]
pub struct Discord {
    inner: Arc<Inner>,
}

struct Inner {
    service: Service,
    settings: DiscordSettings,
    rest: rest::Rest,
    /// The bot's own user id, learned from READY (0 until then).
    bot_user: AtomicU64,
    channels: DashMap<String, ChannelInfo>,
    /// Forum → its tags by name.
    forum_tags: DashMap<String, std::collections::HashMap<String, String>>,
    /// Users whose DMs refused the bot (50007) since start: they get thread mentions
    /// instead, because Discord counts refused requests towards a temporary ban.
    dms_closed: DashSet<String>,
    /// When each interaction being handled arrived, for the time to its answer.
    arrived: DashMap<u64, std::time::Instant>,
}

impl Discord {
    pub fn new(service: Service, settings: &DiscordSettings) -> anyhow::Result<Discord> {
        let shared = Some(service.shared_pace()).filter(|s| s.reserves());
        let rest = rest::Rest::new(&settings.api_url, &settings.bot_token, shared)?.paced(settings.paced);
        Ok(Discord {
            inner: Arc::new(Inner {
                service,
                settings: settings.clone(),
                rest,
                bot_user: AtomicU64::new(0),
                channels: DashMap::new(),
                forum_tags: DashMap::new(),
                dms_closed: DashSet::new(),
                arrived: DashMap::new(),
            }),
        })
    }

    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    pub(crate) fn rest(&self) -> &rest::Rest {
        &self.inner.rest
    }

    pub(crate) fn settings(&self) -> &DiscordSettings {
        &self.inner.settings
    }

    pub fn application_id(&self) -> u64 {
        self.inner.settings.application_id
    }

    pub fn default_channel(&self) -> Option<&str> {
        self.inner.settings.default_channel.as_deref()
    }

    pub fn is_configured_admin(&self, user: &str) -> bool {
        self.inner.settings.admins.iter().any(|a| a == user)
    }

    pub(crate) fn bot_user(&self) -> Option<u64> {
        Some(self.inner.bot_user.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }

    pub(crate) fn set_bot_user(&self, id: u64) {
        self.inner.bot_user.store(id, Ordering::Relaxed);
    }

    /// Queues one Discord row.
    pub(crate) async fn queue(
        &self,
        kind: &'static str,
        ordering_key: String,
        payload: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let row = Planned {
            kind,
            ordering_key,
            payload,
        };
        self.service().queue(PLATFORM, row).await
    }
}
