//! The Discord side of the harness: the service with Discord on, against the Discord
//! stand-in (REST and gateway, with serenity's real client connected), with three
//! teammates linked to Discord users and the `support` widget's threads in `#handoffs`.
//! Every Discord call the bridge makes must be taken and asserted on: a test ends with
//! [`DiscordApp::finish`], which fails on any call nobody looked at.

use crate::helpers::*;
use handoff_bridge::standins::discord::{DiscordCall, DiscordMessage, DiscordStandIn, Interacted};
use serde_json::Value;
use std::ops::Deref;

pub const DISCORD_TOKEN: &str = "discord-test-bot-token";
pub const GUILD: u64 = 700_000_000_000_000_001;
pub const CHANNEL: u64 = 700_000_000_000_000_010;
pub const FORUM: u64 = 700_000_000_000_000_020;
/// Agents.
pub const ADA: u64 = 700_000_000_000_000_101;
pub const BO: u64 = 700_000_000_000_000_102;
/// A manager (Manage Server on Discord, and the manager role in the bridge).
pub const MAX: u64 = 700_000_000_000_000_103;
/// Someone the bridge has never seen.
pub const EVE: u64 = 700_000_000_000_000_104;
/// Manage Server.
pub const MANAGE_GUILD: u64 = 1 << 5;

pub const SEED: &str = r#"
[[operators]]
name = "Ada"
discord_user_id = "700000000000000101"

[[operators]]
name = "Bo"
discord_user_id = "700000000000000102"

[[operators]]
name = "Max"
role = "manager"
discord_user_id = "700000000000000103"

[[widgets]]
id = "support"
discord_channel = "700000000000000010"

[[widgets]]
id = "forum"
discord_channel = "700000000000000020"
"#;

pub struct DiscordApp {
    pub app: TestApp,
    pub discord: DiscordStandIn,
}

impl Deref for DiscordApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// The stand-in with the guild, its channels and the teammates.
pub async fn discord_standin() -> DiscordStandIn {
    let discord = DiscordStandIn::start(DISCORD_TOKEN).await;
    discord.add_guild(GUILD, "Support");
    discord.add_text_channel(GUILD, CHANNEL, "handoffs");
    discord.add_forum_channel(GUILD, FORUM, "tickets", &[]);
    discord.add_user(ADA, "ada", true);
    discord.add_user(BO, "bo", true);
    discord.add_user(MAX, "max", true);
    discord.add_user(EVE, "eve", true);
    discord.set_member(GUILD, MAX, MANAGE_GUILD);
    discord
}

/// The environment that switches Discord on against `discord`.
pub fn discord_env(discord: &DiscordStandIn) -> Vec<(String, String)> {
    vec![
        ("HANDOFF_DISCORD_BOT_TOKEN".into(), DISCORD_TOKEN.into()),
        (
            "HANDOFF_DISCORD_APPLICATION_ID".into(),
            DiscordStandIn::APPLICATION_ID.to_string(),
        ),
        ("HANDOFF_DISCORD_API_URL".into(), discord.api_url()),
    ]
}

impl DiscordApp {
    pub async fn spawn(db: &Db) -> DiscordApp {
        Self::spawn_with(db, &[]).await
    }

    pub async fn spawn_with(db: &Db, extra: &[(&str, &str)]) -> DiscordApp {
        let discord = discord_standin().await;
        Self::spawn_on(db, discord, extra).await
    }

    /// Starts the service against an existing stand-in (a restart keeps its state).
    pub async fn spawn_on(db: &Db, discord: DiscordStandIn, extra: &[(&str, &str)]) -> DiscordApp {
        let env = discord_env(&discord);
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(extra);
        let app = TestApp::launch(db, &all, Some(SEED)).await;
        let d = DiscordApp { app, discord };
        d.connected().await;
        d
    }

    /// Waits for the gateway session and takes the start-up calls: the gateway lookup and
    /// the command registration.
    pub async fn connected(&self) {
        assert!(
            self.discord.wait_for_session(DEADLINE).await,
            "the bridge connected to the gateway"
        );
        eventually("the commands to be registered", || async {
            (!self.discord.commands(GUILD).is_empty()).then_some(())
        })
        .await;
        let calls = self.calls().await;
        let routes: Vec<&str> = calls.iter().map(|c| c.route.as_str()).collect();
        assert!(routes.contains(&"GET /gateway"), "{routes:?}");
        assert!(
            routes.contains(&"PUT /applications/{application_id}/guilds/{guild_id}/commands"),
            "{routes:?}"
        );
        assert!(
            routes.iter().all(|r| matches!(
                *r,
                "GET /gateway" | "PUT /applications/{application_id}/guilds/{guild_id}/commands"
            )),
            "only the gateway and the commands at start-up: {routes:?}"
        );
    }

    /// Stops the bridge, does `meanwhile` on Discord, and starts it again on the same
    /// database and stand-ins; waits until it is connected anew.
    pub async fn restart(self, db: &Db, meanwhile: impl FnOnce(&DiscordStandIn)) -> DiscordApp {
        let DiscordApp { app, discord } = self;
        let before = discord.gateway().identifies;
        let app = app.restart_after(db, || meanwhile(&discord)).await;
        assert!(
            discord
                .wait_for_gateway(DEADLINE, |g| g.identifies > before && g.connected)
                .await,
            "the restarted bridge connected to the gateway"
        );
        let d = DiscordApp { app, discord };
        // Start-up: the gateway, the commands, and one catch-up fetch per open thread.
        let open = d
            .count(
                "select count(*) from conversation_refs r join conversations c on c.id = r.conversation_id \
                 where r.platform = 'discord' and c.status <> 'resolved'",
            )
            .await as usize;
        eventually("the restarted bridge to register and catch up", || async {
            let calls = d.discord.calls();
            let seen = |route: &str| calls.iter().filter(|c| c.route == route).count();
            (seen("PUT /applications/{application_id}/guilds/{guild_id}/commands") >= 2
                && seen("GET /channels/{channel_id}/messages") >= open)
                .then_some(())
        })
        .await;
        d
    }

    /// Waits until the conversation satisfies `done` (a change an interaction made has
    /// committed, with its outbox rows).
    pub async fn until(&self, conversation: &str, what: &str, done: impl Fn(&Value) -> bool) {
        eventually(what, || async {
            let c = self.conversation(conversation).await;
            done(&c).then_some(())
        })
        .await;
    }

    /// `user` writes `text` in `channel` (a thread); waits until the bridge has taken the
    /// message in from the gateway, and returns its id.
    pub async fn say(&self, channel: u64, user: u64, text: &str) -> u64 {
        let id = self.discord.user_message(channel, user, text);
        self.taken_in(id).await;
        id
    }

    /// Waits until the bridge has taken in the message `id` (from the gateway or by
    /// catching up).
    pub async fn taken_in(&self, id: u64) {
        let sql = format!("select count(*) from inbound_events where source = 'discord' and event_id = 'message:{id}'");
        eventually("the message to be taken in", || async {
            (self.count(&sql).await == 1).then_some(())
        })
        .await;
    }

    /// Settles, then takes every Discord call made since the last take.
    pub async fn calls(&self) -> Vec<DiscordCall> {
        self.settle().await;
        self.discord.take_calls()
    }

    /// Settles and checks that the calls made since the last take were exactly these
    /// routes, in this order; returns them.
    pub async fn expect(&self, routes: &[&str]) -> Vec<DiscordCall> {
        let calls = self.calls().await;
        let seen: Vec<&str> = calls.iter().map(|c| c.route.as_str()).collect();
        assert_eq!(seen, routes, "Discord calls: {calls:#?}");
        calls
    }

    /// Sends a handoff for `conversation` on `widget` and returns its thread's id
    /// (which is the root's), taking the calls that opened it.
    pub async fn handoff_on(&self, conversation: &str, widget: &str) -> u64 {
        self.app.handoff(conversation, widget).await;
        self.calls().await;
        self.thread_of(conversation).await
    }

    pub async fn handoff(&self, conversation: &str) -> u64 {
        self.handoff_on(conversation, "support").await
    }

    /// The thread of a conversation.
    pub async fn thread_of(&self, conversation: &str) -> u64 {
        let thread: String = sqlx::query_scalar(
            "select thread from conversation_refs where conversation_id = $1 and platform = 'discord'",
        )
        .bind(conversation)
        .fetch_one(&self.pool)
        .await
        .expect("the conversation has a Discord thread");
        thread.parse().unwrap()
    }

    /// The root of a conversation in a text channel, as Discord holds it now.
    pub async fn root(&self, conversation: &str) -> DiscordMessage {
        let thread = self.thread_of(conversation).await;
        self.discord
            .message(CHANNEL, thread)
            .or_else(|| self.discord.message(thread, thread))
            .expect("the root exists")
    }

    /// The custom ids and labels of the buttons on a message.
    pub fn buttons(message: &DiscordMessage) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for row in &message.components {
            for c in row["components"].as_array().into_iter().flatten() {
                if c["type"] == 2 {
                    out.push((
                        c["custom_id"].as_str().unwrap_or_default().to_owned(),
                        c["label"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
        out
    }

    pub async fn labels(&self, conversation: &str) -> Vec<String> {
        Self::buttons(&self.root(conversation).await)
            .into_iter()
            .map(|(_, l)| l)
            .collect()
    }

    /// Clicks the button labelled `label` on a conversation's root, as `user`.
    pub async fn click(&self, user: u64, conversation: &str, label: &str) -> Interacted {
        let root = self.root(conversation).await;
        let (id, _) = Self::buttons(&root)
            .into_iter()
            .find(|(_, l)| l == label)
            .unwrap_or_else(|| panic!("no {label} button on the root of {conversation}"));
        self.discord.click_button(root.channel_id, root.id, user, &id)
    }

    /// What was done with an interaction, once the outbox has settled.
    pub async fn responses(&self, i: &Interacted) -> Vec<Value> {
        self.settle().await;
        self.discord.interaction_responses(&i.token)
    }

    /// Waits until an interaction was answered and its follow-ups were sent, and returns
    /// what was done with it.
    pub async fn answered(&self, i: &Interacted, at_least: usize) -> Vec<Value> {
        eventually("the interaction to be answered", || async {
            let r = self.discord.interaction_responses(&i.token);
            (r.len() >= at_least).then_some(())
        })
        .await;
        self.responses(i).await
    }

    /// Runs a slash command as `user` in `#handoffs` and returns its private answer:
    /// deferred (privately) first, then filled in. Its calls are left for the test to take.
    pub async fn command(&self, user: u64, name: &str, options: Value) -> String {
        let i = self.discord.run_command(GUILD, CHANNEL, user, name, options);
        let r = self.answered(&i, 2).await;
        assert_eq!(r[0]["route"], "callback", "{r:?}");
        assert_eq!(r[0]["body"]["type"], 5, "deferred first: {r:?}");
        assert_eq!(r[0]["body"]["data"]["flags"], 64, "privately: {r:?}");
        assert_eq!(r[1]["route"], "edit_original", "{r:?}");
        r[1]["body"]["content"].as_str().unwrap_or_default().to_owned()
    }

    /// The text of everything in a message: content and embeds.
    pub fn text(message: &DiscordMessage) -> String {
        let mut out = message.content.clone();
        for e in &message.embeds {
            out.push(' ');
            out.push_str(&e.to_string());
        }
        out
    }

    /// Fails if any Discord call was not taken and asserted on.
    pub async fn finish(&self) {
        let left = self.calls().await;
        assert!(left.is_empty(), "Discord calls nobody asserted on: {left:#?}");
    }
}
