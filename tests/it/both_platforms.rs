//! Slack and Discord both on for one widget: two front doors to one engine. A claim in
//! one shows at once in the other, and a person linked on both is one operator with one
//! load.

use crate::discord_helpers::{self, DiscordApp};
use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::{self, all_text, labels};
use handoff_bridge::standins::slack::{SlackSender, SlackStandIn};

const SEED: &str = r#"
[[operators]]
name = "Ada"
slack_user_id = "U0ADA"
discord_user_id = "700000000000000101"

[[operators]]
name = "Bo"
slack_user_id = "U0BO"
discord_user_id = "700000000000000102"

[[widgets]]
id = "support"
slack_channel = "C0SUPPORT"
discord_channel = "700000000000000010"
"#;

pub struct Both {
    pub d: DiscordApp,
    pub slack: SlackStandIn,
    pub sender: SlackSender,
}

pub async fn spawn(db: &Db) -> Both {
    spawn_with(db, &[]).await
}

/// [`spawn`] with extra settings.
pub async fn spawn_with(db: &Db, extra: &[(&str, &str)]) -> Both {
    let slack = SlackStandIn::start(slack_helpers::SLACK_TOKEN).await;
    slack.add_channel(slack_helpers::CHANNEL, "support", true);
    slack.add_user(slack_helpers::ADA, "ada", "Ada Lovelace", false, false);
    slack.add_user(slack_helpers::BO, "bo", "Bo Diddley", false, false);
    slack.add_user("U0EVE", "eve", "Eve", false, false);
    let discord = discord_helpers::discord_standin().await;
    let mut env: Vec<(String, String)> = discord_helpers::discord_env(&discord);
    env.push(("HANDOFF_SLACK_BOT_TOKEN".into(), slack_helpers::SLACK_TOKEN.into()));
    env.push((
        "HANDOFF_SLACK_SIGNING_SECRET".into(),
        slack_helpers::SLACK_SECRET.into(),
    ));
    env.push(("HANDOFF_SLACK_API_URL".into(), slack.api_url()));
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::launch(db, &env, Some(SEED)).await;
    let sender = slack.sender(&app.base, slack_helpers::SLACK_SECRET);
    let d = DiscordApp { app, discord };
    d.connected().await;
    Both { d, slack, sender }
}

impl Both {
    /// Ends a test whose platform calls it checked by what the platforms show (threads,
    /// messages), not call by call: the calls are set aside, then the end-of-test checks
    /// run.
    pub async fn done(&self) {
        self.d.discord.take_calls();
        self.slack.take_calls();
        self.d.finish().await;
    }
}

/// Both platforms, with conversation `c1` handed off and its threads open: (the apps,
/// the Slack root's ts, the Discord thread).
pub async fn opened(db: &Db, extra: &[(&str, &str)]) -> (Both, String, u64) {
    let b = spawn_with(db, extra).await;
    b.d.app.handoff("c1", "support").await;
    b.d.settle().await;
    let (root, _) = slack_root(&b, "c1").await;
    let thread = b.d.thread_of("c1").await;
    (b, root, thread)
}

/// The Slack root of a conversation: (ts, its text).
pub async fn slack_root(b: &Both, conversation: &str) -> (String, String) {
    let ts: String =
        sqlx::query_scalar("select thread from conversation_refs where conversation_id = $1 and platform = 'slack'")
            .bind(conversation)
            .fetch_one(&b.d.pool)
            .await
            .unwrap();
    let text = all_text(&b.slack.message_json(slack_helpers::CHANNEL, &ts).unwrap());
    (ts, text)
}

on_both_databases! {
    async fn a_claim_on_either_platform_shows_on_the_other(db) {
        let b = spawn(&db).await;
        let s = &b.d;
        s.app.handoff("c1", "support").await;
        s.settle().await;
        b.slack.take_calls();
        s.discord.take_calls();
        // Accepted in Discord: the Slack root says so.
        let accept = s.click(discord_helpers::ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.settle().await;
        let slack_calls: Vec<String> = b.slack.take_calls().into_iter().map(|c| c.method).collect();
        assert_eq!(slack_calls, ["chat.update"]);
        let (ts, text) = slack_root(&b, "c1").await;
        assert!(text.contains("Assigned to <@U0ADA>"), "{text}");
        assert_eq!(labels(&b.slack.message(slack_helpers::CHANNEL, &ts).unwrap().blocks), ["Transfer", "Unassign", "Resolve", "Hand back to bot"]);
        s.discord.take_calls();

        // Unassigned in Slack: the Discord root says so.
        let root = b.slack.message(slack_helpers::CHANNEL, &ts).unwrap();
        let value = slack_helpers::buttons_of(&root.blocks).into_iter().find(|(a, _, _)| a == "hb_unassign").unwrap().2;
        let message = b.slack.message_json(slack_helpers::CHANNEL, &ts).unwrap();
        let res = b.sender.block_action(slack_helpers::ADA, slack_helpers::CHANNEL, &ts, message, "hb_unassign", &value).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        s.settle().await;
        b.slack.take_calls();
        s.expect(&["PATCH /channels/{channel_id}/messages/{message_id}"]).await;
        assert_eq!(s.labels("c1").await, ["Accept", "Reject", "Transfer"]);
        assert!(DiscordApp::text(&s.root("c1").await).contains("Unassigned"));
        s.finish().await;
    }

    async fn a_person_on_both_platforms_is_one_operator_with_one_load(db) {
        let b = spawn(&db).await;
        let s = &b.d;
        for c in ["c1", "c2"] {
            s.app.handoff(c, "support").await;
        }
        s.settle().await;
        // Ada accepts c1 in Discord and c2 in Slack.
        let accept = s.click(discord_helpers::ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have c1", |c| c["assignee"]["name"] == "Ada").await;
        let (ts, _) = slack_root(&b, "c2").await;
        let root = b.slack.message(slack_helpers::CHANNEL, &ts).unwrap();
        let value = slack_helpers::buttons_of(&root.blocks).into_iter().find(|(a, _, _)| a == "hb_accept").unwrap().2;
        let message = b.slack.message_json(slack_helpers::CHANNEL, &ts).unwrap();
        let res = b.sender.block_action(slack_helpers::ADA, slack_helpers::CHANNEL, &ts, message, "hb_accept", &value).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        assert_eq!(s.conversation("c2").await["assignee"]["name"], "Ada");
        // One operator, two open conversations.
        let (_, ops) = s.get("/v1/operators", ADMIN_TOKEN).await;
        let adas: Vec<_> = ops.as_array().unwrap().iter().filter(|o| o["name"] == "Ada").collect();
        assert_eq!(adas.len(), 1, "{ops}");
        assert_eq!(adas[0]["open_chats"], 2, "{ops}");
        // Lightest-load therefore gives the next one to Bo.
        s.set_routing("support", "lightest-load", None).await;
        s.app.handoff("c3", "support").await;
        assert_eq!(s.conversation("c3").await["assignee"]["name"], "Bo");
        s.settle().await;
    }

    async fn link_on_discord_then_on_slack_makes_one_operator(db) {
        let b = spawn(&db).await;
        let s = &b.d;
        // Eve is new on both: a code from Discord, redeemed on Slack.
        let answer = s.command(discord_helpers::EVE, "handoff", serde_json::json!([{"name": "link", "type": 1, "options": []}])).await;
        let code: String = answer
            .split("/handoff link ")
            .nth(1)
            .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect())
            .unwrap_or_else(|| panic!("a code in {answer}"));
        assert_eq!(code.len(), 8, "{answer}");
        let res = b.sender.command("U0EVE", slack_helpers::CHANNEL, &format!("link {code}")).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["text"].as_str().unwrap_or_default().to_lowercase().contains("linked"), "{body}");
        let owners = s.count(&format!(
            "select count(distinct operator_id) from operator_identities where external_id in ('U0EVE', '{}')",
            discord_helpers::EVE
        )).await;
        assert_eq!(owners, 1, "one operator has both accounts");
        s.settle().await;
        b.slack.take_calls();
        s.discord.take_calls();
    }
}
