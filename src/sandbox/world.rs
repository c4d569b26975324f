//! The sandbox's world: the three stand-ins, set up with one Slack workspace channel, one
//! Discord guild channel and the demo cast on both, and the clients that play Slack,
//! Discord and the widget platform towards the service.

use crate::config::Seed;
use crate::standins::discord::{DiscordStandIn, Interacted};
use crate::standins::slack::{SlackSender, SlackStandIn};
use crate::standins::widget::{WidgetClient, WidgetPlatform};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const SLACK_TOKEN: &str = "xoxb-sandbox-bot-token";
pub const SLACK_SECRET: &str = "sandbox-slack-signing-secret";
pub const DISCORD_TOKEN: &str = "sandbox-discord-bot-token";
pub const SLACK_CHANNEL: &str = "C0SUPPORT";
pub const DISCORD_GUILD: u64 = 900_000_000_000_000_001;
pub const DISCORD_CHANNEL: u64 = 900_000_000_000_000_010;
/// Manage Server, which Discord managers have.
const MANAGE_GUILD: u64 = 1 << 5;

/// One of the demo operators, as the page lets you be them.
#[derive(Debug, Clone, Serialize)]
pub struct DemoOperator {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub slack_user: String,
    pub discord_user: String,
    /// Their HTTP API token, for the inbox and the event stream.
    pub token: String,
}

/// (name, role, Slack user id, Discord user id).
const CAST: &[(&str, &str, &str, u64)] = &[
    ("Ada", "agent", "U0ADA", 900_000_000_000_000_101),
    ("Bo", "agent", "U0BO", 900_000_000_000_000_102),
    ("Max", "manager", "U0MAX", 900_000_000_000_000_103),
];

/// The demo widgets: (id, routing).
pub const WIDGETS: &[(&str, &str)] = &[("shop", "round-robin"), ("docs", "manual")];

/// The demo cast and widgets, added to whatever the configuration seeds.
pub(super) fn seed(mut from_config: Seed) -> anyhow::Result<Seed> {
    let mut toml = String::new();
    for (name, role, slack, discord) in CAST {
        toml.push_str(&format!(
            "[[operators]]\nkey = \"sandbox-{name}\"\nname = \"{name}\"\nrole = \"{role}\"\n\
             slack_user_id = \"{slack}\"\ndiscord_user_id = \"{discord}\"\n\n"
        ));
    }
    for (id, routing) in WIDGETS {
        toml.push_str(&format!(
            "[[widgets]]\nid = \"{id}\"\nrouting = \"{routing}\"\nslack_channel = \"{SLACK_CHANNEL}\"\n\
             discord_channel = \"{DISCORD_CHANNEL}\"\n\n"
        ));
    }
    let demo: Seed = toml::from_str(&toml)?;
    from_config.operators.extend(demo.operators);
    from_config.widgets.extend(demo.widgets);
    Ok(from_config)
}

/// What the sandbox remembers of what the page did: each visitor chat as the visitor
/// sees it, and the interactions whose private answers belong to someone.
#[derive(Default)]
pub(super) struct Memory {
    /// (conversation, widget, visitor name), in the order they began.
    pub chats: Vec<(String, String, String)>,
    /// (conversation, what the visitor wrote), in order.
    pub visitor_lines: Vec<(String, String)>,
    /// (Discord user, interaction, channel, message), newest last.
    pub interactions: Vec<(u64, Interacted, u64, Option<u64>)>,
    /// Modals submitted (Discord custom ids, Slack view ids): no longer shown.
    pub submitted: std::collections::HashSet<String>,
    /// What Slack's answer to a view submission said was wrong, by view id and block:
    /// the modal stays open and shows it, as Slack does.
    pub view_errors: std::collections::HashMap<String, Value>,
    /// The demo operator who last clicked in Slack: the modals Slack opens are theirs.
    pub slack_clicker: Option<i64>,
}

/// The stand-ins and the clients that speak for Slack, Discord and the widget platform.
#[derive(Clone)]
pub struct World {
    pub slack: SlackStandIn,
    pub discord: DiscordStandIn,
    pub widget: WidgetPlatform,
    /// Set once the service listens.
    pub(super) sender: Option<SlackSender>,
    pub(super) client: Option<WidgetClient>,
    /// Filled once the service serves (their tokens come from its HTTP API).
    pub(super) operators: Arc<Mutex<Vec<DemoOperator>>>,
    pub(super) memory: Arc<Mutex<Memory>>,
}

impl World {
    pub(super) async fn start(widget_secret: &str) -> World {
        let slack = SlackStandIn::start(SLACK_TOKEN).await;
        slack.add_channel(SLACK_CHANNEL, "support", true);
        let discord = DiscordStandIn::start(DISCORD_TOKEN).await;
        discord.add_guild(DISCORD_GUILD, "Sandbox");
        discord.add_text_channel(DISCORD_GUILD, DISCORD_CHANNEL, "handoffs");
        for (name, role, slack_user, discord_user) in CAST {
            let real = format!("{name} (demo {role})");
            slack.add_user(slack_user, &name.to_lowercase(), &real, false, false);
            discord.add_user(*discord_user, &name.to_lowercase(), true);
            if *role == "manager" {
                discord.set_member(DISCORD_GUILD, *discord_user, MANAGE_GUILD);
            }
        }
        let widget = WidgetPlatform::start(widget_secret).await;
        World {
            slack,
            discord,
            widget,
            sender: None,
            client: None,
            operators: Arc::default(),
            memory: Arc::default(),
        }
    }

    /// Once the service listens at `base`: the clients that send to it, an API token for
    /// each demo operator, and the Discord gateway session.
    /// Once the service listens at `base`: the clients that send to it.
    pub(super) fn aim(mut self, base: &str, widget_secret: &str) -> World {
        self.sender = Some(self.slack.sender(base, SLACK_SECRET));
        self.client = Some(WidgetClient::new(base, widget_secret));
        self
    }

    /// Once the service serves: an API token for each demo operator.
    pub(super) async fn connect(&self, base: &str, admin: &str) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let list: Value = http
            .get(format!("{base}/v1/operators"))
            .bearer_auth(admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let empty = Vec::new();
        let listed = list["operators"].as_array().or(list.as_array()).unwrap_or(&empty);
        for (name, role, slack_user, discord_user) in CAST {
            let Some(op) = listed
                .iter()
                .find(|o| o["slack_user_id"] == *slack_user || o["name"] == *name)
            else {
                anyhow::bail!("the demo operator {name} was not seeded");
            };
            let id = op["id"].as_i64().unwrap_or_default();
            let token: Value = http
                .post(format!("{base}/v1/operators/{id}/tokens"))
                .bearer_auth(admin)
                .json(&json!({"label": "sandbox page"}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let operator = DemoOperator {
                id,
                name: op["name"].as_str().unwrap_or(name).to_owned(),
                role: role.to_string(),
                slack_user: slack_user.to_string(),
                discord_user: discord_user.to_string(),
                token: token["token"].as_str().unwrap_or_default().to_owned(),
            };
            let mut known = self.operators.lock().unwrap_or_else(|e| e.into_inner());
            known.retain(|o| o.id != operator.id);
            known.push(operator);
        }
        Ok(())
    }

    pub fn operators(&self) -> Vec<DemoOperator> {
        self.operators.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn operator(&self, id: i64) -> Option<DemoOperator> {
        self.operators().into_iter().find(|o| o.id == id)
    }

    pub(super) fn sender(&self) -> &SlackSender {
        self.sender.as_ref().expect("the sandbox connects before it serves")
    }

    pub(super) fn client(&self) -> &WidgetClient {
        self.client.as_ref().expect("the sandbox connects before it serves")
    }

    pub(super) fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }
}
