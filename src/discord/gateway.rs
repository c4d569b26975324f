//! The Discord gateway, through serenity's client: moderators' thread messages and
//! interactions come in here. On READY the bridge learns its own user id, queues the
//! command registration for each guild, and catches up on every open thread: the
//! messages after the last one it took in are fetched and taken in the same way, so a
//! reply written while the bridge was down is not lost. serenity resumes a dropped
//! session by itself; a client that stops is restarted with backoff until shutdown.
//! Each shard is connected by one instance at a time (`Service::try_own`).
//!
//! serenity's HTTP client is used only to find the gateway: with its rate limiter off
//! (the outbox paces calls), pointed at the configured API origin.

use super::Discord;
use secrecy::ExposeSecret;
use serde_json::json;
use serenity::all::{
    ClientBuilder, Context, EventHandler, GatewayIntents, HttpBuilder, Interaction, Message, Ready, ResumedEvent,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the bridge asks the gateway for: guild messages with their content, and
/// guilds (for interactions and threads).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
}

struct Handler {
    discord: Discord,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        self.discord.set_bot_user(ready.user.id.get());
        tracing::info!(bot = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord gateway");
        for guild in &ready.guilds {
            let payload = json!({"guild": guild.id.to_string()});
            if let Err(e) = self
                .discord
                .queue("register_commands", format!("discord:commands:{}", guild.id), payload)
                .await
            {
                tracing::error!(error = %e, guild = %guild.id, "cannot queue the command registration");
            }
        }
        let discord = self.discord.clone();
        tokio::spawn(async move { discord.catch_up().await });
    }

    async fn resume(&self, _ctx: Context, _: ResumedEvent) {
        tracing::info!("the Discord gateway session resumed");
    }

    async fn message(&self, _ctx: Context, msg: Message) {
        let msg = crate::web::scrub::scrubbed(msg);
        if let Err(e) = self.discord.take_in(&msg).await {
            tracing::error!(error = %e, message = %msg.id, channel = %msg.channel_id,
                "a Discord message could not be taken in; it is fetched again at the next start");
        }
    }

    async fn message_update(
        &self,
        _ctx: Context,
        _old: Option<Message>,
        _new: Option<Message>,
        event: serenity::all::MessageUpdateEvent,
    ) {
        let event = crate::web::scrub::scrubbed(event);
        if let Err(e) = self.discord.take_in_edit(&event).await {
            tracing::error!(error = %e, message = %event.id, channel = %event.channel_id,
                "a Discord message edit could not be taken in");
        }
    }

    async fn message_delete(
        &self,
        _ctx: Context,
        channel: serenity::all::ChannelId,
        message: serenity::all::MessageId,
        _guild: Option<serenity::all::GuildId>,
    ) {
        if let Err(e) = self.discord.take_in_deletion(channel.get(), message.get()).await {
            tracing::error!(error = %e, %message, %channel, "a Discord message deletion could not be taken in");
        }
    }

    async fn message_delete_bulk(
        &self,
        _ctx: Context,
        channel: serenity::all::ChannelId,
        messages: Vec<serenity::all::MessageId>,
        _guild: Option<serenity::all::GuildId>,
    ) {
        for message in messages {
            if let Err(e) = self.discord.take_in_deletion(channel.get(), message.get()).await {
                tracing::error!(error = %e, %message, %channel, "a Discord message deletion could not be taken in");
            }
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let interaction = crate::web::scrub::scrubbed(interaction);
        let discord = self.discord.clone();
        tokio::spawn(async move { discord.on_interaction(interaction).await });
    }
}

/// How often an instance that does not hold a shard asks again whether it is free.
const STANDBY_POLL: Duration = Duration::from_secs(2);

/// Runs the gateway's shards until `stop` is cancelled, each in a task of its own.
/// A shard is connected only while this instance owns it: with several instances on
/// PostgreSQL one holds each shard, and another takes it over when that one stops or
/// dies; the others stand by.
pub async fn run(discord: Discord, stop: CancellationToken) {
    let total = discord.settings().shards;
    let mut shards = tokio::task::JoinSet::new();
    for shard in 0..total {
        shards.spawn(hold_shard(discord.clone(), shard, total, stop.clone()));
    }
    while shards.join_next().await.is_some() {}
}

/// Owns shard `shard` of `total` when it is free, and connects it while owned.
async fn hold_shard(discord: Discord, shard: u32, total: u32, stop: CancellationToken) {
    let name = format!("discord-shard:{}:{shard}/{total}", discord.application_id());
    loop {
        let owned = tokio::select! {
            o = discord.service().try_own(&name) => o,
            _ = stop.cancelled() => return,
        };
        let mut owned = match owned {
            Ok(Some(owned)) => owned,
            Ok(None) => {
                tracing::debug!(shard, "another instance holds this Discord shard; standing by");
                if wait(&stop, STANDBY_POLL).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, shard, "cannot tell who holds this Discord shard; asking again");
                if wait(&stop, STANDBY_POLL).await {
                    return;
                }
                continue;
            }
        };
        tracing::info!(shard, total, "this instance holds the Discord gateway shard");
        let shard_stop = stop.child_token();
        let connected = connect(discord.clone(), shard, total, shard_stop.clone());
        tokio::pin!(connected);
        tokio::select! {
            _ = &mut connected => {}
            _ = owned.lost() => {
                shard_stop.cancel();
                connected.await;
            }
        }
        owned.release().await;
        if stop.is_cancelled() {
            return;
        }
    }
}

/// Waits `d`; `true` if stopped meanwhile.
async fn wait(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.cancelled() => true,
    }
}

/// Holds shard `shard` of `total` connected until `stop` is cancelled, reconnecting
/// with backoff.
async fn connect(discord: Discord, shard: u32, total: u32, stop: CancellationToken) {
    let mut delay = Duration::from_secs(1);
    loop {
        let token = discord.settings().bot_token.expose_secret().to_owned();
        let http = HttpBuilder::new(&token)
            .proxy(discord.settings().api_url.clone())
            .ratelimiter_disabled(true)
            .application_id(discord.application_id().into())
            .build();
        let handler = Handler {
            discord: discord.clone(),
        };
        let built = tokio::select! {
            c = ClientBuilder::new_with_http(http, intents()).event_handler(handler) => c,
            _ = stop.cancelled() => return,
        };
        let mut client = match built {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the Discord client; trying again");
                if pause(&stop, &mut delay).await {
                    return;
                }
                continue;
            }
        };
        let shards = client.shard_manager.clone();
        tokio::select! {
            ended = client.start_shard(shard, total) => {
                match ended {
                    Ok(()) => tracing::warn!("the Discord gateway connection ended; reconnecting"),
                    Err(e) => tracing::error!(error = %e, "the Discord gateway connection failed; reconnecting"),
                }
                if pause(&stop, &mut delay).await {
                    return;
                }
            }
            _ = stop.cancelled() => {
                shards.shutdown_all().await;
                return;
            }
        }
    }
}

/// Waits before a reconnect (doubling up to a minute); `true` if stopped meanwhile.
async fn pause(stop: &CancellationToken, delay: &mut Duration) -> bool {
    let wait = *delay;
    *delay = (*delay * 2).min(Duration::from_secs(60));
    tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        _ = stop.cancelled() => true,
    }
}

impl Discord {
    /// Takes in what was written in open threads while the bridge was away: for each,
    /// the messages after the last one taken in, oldest first, a page at a time.
    pub async fn catch_up(&self) {
        let threads = match self.service().open_threads(super::PLATFORM).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the open Discord threads to catch up on");
                return;
            }
        };
        let mut taken = 0usize;
        for t in threads {
            let mut after = t.last_seen.clone().unwrap_or_else(|| t.thread.clone());
            loop {
                let path = format!("/channels/{}/messages?limit=100&after={after}", t.thread);
                let page: Vec<Message> = match self.rest().get(&path).await {
                    Ok(v) => match serde_json::from_value(v) {
                        Ok(page) => page,
                        Err(e) => {
                            tracing::error!(error = %e, thread = %t.thread, "unreadable messages while catching up");
                            break;
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, thread = %t.thread, "cannot catch up on a Discord thread");
                        break;
                    }
                };
                let mut page = page;
                page.sort_by_key(|m| m.id);
                let Some(last) = page.last().map(|m| m.id) else { break };
                for msg in page.iter().cloned().map(crate::web::scrub::scrubbed) {
                    let msg = &msg;
                    match self.take_in(msg).await {
                        Ok(true) => taken += 1,
                        Ok(false) => {}
                        Err(e) => tracing::error!(error = %e, message = %msg.id, "cannot take in a caught-up message"),
                    }
                }
                if page.len() < 100 {
                    break;
                }
                after = last.to_string();
            }
        }
        if taken > 0 {
            tracing::info!(messages = taken, "caught up on Discord threads");
        }
    }
}
