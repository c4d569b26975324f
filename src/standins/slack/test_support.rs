//! What the Slack stand-in's tests share: a stand-in with a small workspace, a
//! slack-morphism client pointed at it, and Block Kit fixtures.

use serde_json::{Value, json};
use slack_morphism::prelude::*;

use super::{SlackCall, SlackStandIn};

pub(super) const TOKEN: &str = "xoxb-stand-in-token";
pub(super) const SIGNING: &str = "stand-in-signing-secret";
pub(super) const CH: &str = "C0HANDOFF";

/// slack-morphism's own Web API client, talking to `slack`.
pub(super) fn client_for(slack: &SlackStandIn) -> SlackHyperClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    SlackClient::new(SlackClientHyperConnector::with_connector(https).with_slack_api_url(&slack.api_url()))
}

/// A stand-in with the channel [`CH`] (the bot is in it), `C0OUTSIDE` (it is not), the
/// users Ada (`U0ADA`) and Grace (`U0GRACE`, admin and owner) and another app's bot.
pub(super) async fn setup() -> SlackStandIn {
    let slack = SlackStandIn::start(TOKEN).await;
    slack.add_channel(CH, "handoffs", true);
    slack.add_channel("C0OUTSIDE", "random", false);
    slack.add_user("U0ADA", "ada", "Ada Lovelace", false, false);
    slack.add_user("U0GRACE", "grace", "Grace Hopper", true, true);
    slack.add_bot_user("U0OTHERBOT", "otherbot");
    slack
}

pub(super) fn blocks(v: Value) -> Vec<SlackBlock> {
    serde_json::from_value(v).expect("blocks parse as slack-morphism blocks")
}

/// A handoff's root message: header, summary, context, divider and an Accept button.
pub(super) fn root_blocks() -> Vec<SlackBlock> {
    let accept = SlackBlockButtonElement::new(pt!("Accept"))
        .with_action_id("accept".into())
        .with_value("conv_42".into())
        .with_style(SlackBlockButtonStyle::Primary);
    let mut b = blocks(json!([
        {"type": "header", "text": {"type": "plain_text", "text": "Ada needs a human"}},
        {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Wants a refund*"},
         "fields": [{"type": "mrkdwn", "text": "*Status*\nUnassigned"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "widget `support`"}]},
        {"type": "divider"}
    ]));
    b.push(SlackBlock::Actions(
        SlackActionsBlock::new(vec![accept.into()]).with_block_id("root_actions".into()),
    ));
    b
}

pub(super) fn methods(calls: &[SlackCall]) -> Vec<&str> {
    calls.iter().map(|c| c.method.as_str()).collect()
}

/// A JSON POST of `method` to the stand-in, with the bot token.
pub(super) fn post(slack: &SlackStandIn, method: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/{method}", slack.api_url()))
        .bearer_auth(TOKEN)
        .json(body)
}

/// [`post`], sent: the JSON answered.
pub(super) async fn call(slack: &SlackStandIn, method: &str, body: Value) -> Value {
    let r = post(slack, method, &body).send().await.unwrap();
    r.json().await.unwrap()
}

/// The `ts` of each message a history method listed.
pub(super) fn listed_ts(answer: &Value) -> Vec<&str> {
    answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap())
        .collect()
}
