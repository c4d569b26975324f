//! Slack (`docs/behaviour.md#in-slack`, `docs/behaviour.md#replies-and-notes`): thread
//! roots with the buttons the state allows, the transcript, clicks, modals, replies both
//! ways, DMs to the assignee only, receipts, retries, signatures and rate limits —
//! through signed Slack requests, against the stand-in.

use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::*;
use handoff_bridge::standins::slack::SlackSender;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An operator's reply that cannot reach the widget platform at `base`: its ⚠️ note, and
/// the outbox's record of the failure, show nothing of the platform's address.
async fn a_failed_reply_shows_nothing_of_the_widget_platforms_address(db: &Db, base: std::net::SocketAddr) {
    let url = format!("http://{base}/hooks/s3cr3t-path-4711/");
    let s = SlackApp::spawn_with(
        db,
        &[("HANDOFF_WIDGET_API_URL", &url), ("HANDOFF_OUTBOX_MAX_ATTEMPTS", "2")],
    )
    .await;
    let root = s.handoff("c1").await;
    s.click(ADA, "c1", "hb_accept").await;
    s.expect(&["chat.update"]).await;
    let event = s.slack.user_reply(CHANNEL, ADA, "Are you still there?", &root);
    s.sender.event("EvW1", event).await;
    let calls = s.expect(&["auth.test", "reactions.add", "chat.postMessage"]).await;
    let note = calls[2].args["text"].as_str().unwrap().to_owned();
    assert!(note.contains("could not be delivered"), "{note}");
    for secret in ["s3cr3t", &base.port().to_string(), "127.0.0.1", "http:"] {
        assert!(!note.contains(secret), "the thread note shows `{secret}`: {note}");
    }
    let errors: Vec<Option<String>> = sqlx::query_scalar("select last_error from outbox where target = 'widget'")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert!(errors.iter().flatten().all(|e| !e.contains("s3cr3t")), "{errors:?}");
    s.finish().await;
}

/// Serves `router` on a free loopback port.
async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn dm_calls(calls: &[handoff_bridge::standins::slack::SlackCall]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.method == "conversations.open")
        .map(|c| match &c.args["users"] {
            Value::Array(users) => users.iter().filter_map(|u| u.as_str()).collect::<Vec<_>>().join(","),
            other => other.as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

on_both_databases! {
    async fn a_handoff_opens_a_thread_with_the_transcript_and_the_right_buttons(db) {
        let s = SlackApp::spawn(&db).await;
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&["chat.postMessage", "chat.postMessage", "chat.postMessage"]).await;
        assert_eq!(calls[0].args["channel"], CHANNEL);
        assert!(calls[0].args["thread_ts"].is_null(), "the first post is the root");
        let root_ts = calls[0].response["ts"].as_str().unwrap();
        let root = s.root("c1").await;
        assert_eq!(root.ts, root_ts);
        let text = all_text(&s.slack.message_json(CHANNEL, root_ts).unwrap());
        assert!(text.contains("Ada") && text.contains("support") && text.contains("Unassigned"), "{text}");
        assert_eq!(labels(&root.blocks), ["Accept", "Reject", "Transfer"]);
        let replies = s.slack.replies(CHANNEL, root_ts);
        assert_eq!(replies.len(), 2);
        assert!(replies[0].text.starts_with("*Visitor:*"), "{}", replies[0].text);
        assert!(replies[1].text.starts_with("*AI bot:*"), "{}", replies[1].text);

        // A later visitor message goes into the thread, marked by author.
        let res = s.client.send(&handoff_bridge::standins::widget::WidgetClient::message_event("c1", "visitor", "Still there?")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.postMessage"]).await;
        assert_eq!(calls[0].args["thread_ts"], root_ts);
        assert!(calls[0].args["text"].as_str().unwrap().contains("Still there?"));
        s.finish().await;
    }

    async fn accepting_updates_the_root_and_only_the_assignee_is_ever_dmed(db) {
        let s = SlackApp::spawn(&db).await;
        s.set_routing("support", "round-robin", None).await;
        s.slack.take_calls();
        // Round-robin gives it to Ada: she, and nobody else, gets a DM with a link.
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[
            "chat.postMessage", "chat.postMessage", "chat.postMessage",
            "chat.getPermalink", "conversations.open", "chat.postMessage",
        ]).await;
        assert_eq!(dm_calls(&calls), [ADA]);
        let dm = &calls[5];
        assert_eq!(dm.args["channel"].as_str(), s.slack.dm_channel(ADA).as_deref());
        assert!(dm.args["text"].as_str().unwrap().contains("https://"), "the DM links to the thread: {}", dm.args["text"]);
        let root = s.root("c1").await;
        assert!(all_text(&s.slack.message_json(CHANNEL, &root.ts).unwrap()).contains("<@U0ADA>"));
        assert_eq!(labels(&root.blocks), ["Accept", "Reject", "Transfer", "Unassign", "Resolve", "Hand back to bot"]);

        // Bo cannot accept Ada's conversation: he is told privately who has it.
        assert_eq!(s.click(BO, "c1", "hb_accept").await, StatusCode::OK);
        let calls = s.expect(&["chat.postEphemeral"]).await;
        assert_eq!(calls[0].args["user"], BO);
        assert!(all_text(&calls[0].args).contains("Ada"));
        // Ada accepts: the root is updated in place and no further DM goes out.
        assert_eq!(s.click(ADA, "c1", "hb_accept").await, StatusCode::OK);
        let calls = s.expect(&["chat.update"]).await;
        assert_eq!(labels(&calls[0].args["blocks"]), ["Transfer", "Unassign", "Resolve", "Hand back to bot"]);
        assert_eq!(s.conversation("c1").await["status"], "active");
        s.finish().await;
    }

    async fn an_accept_click_claims_it_and_dms_nobody(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        assert_eq!(s.click(ADA, "c1", "hb_accept").await, StatusCode::OK);
        let calls = s.expect(&["chat.update"]).await;
        let text = all_text(&calls[0].args);
        assert!(text.contains("Assigned to <@U0ADA>"), "{text}");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");
        assert!(s.slack.dm_channel(ADA).is_none() && s.slack.dm_channel(BO).is_none());
        s.widget.wait_for(DEADLINE, "the assignment at the widget platform", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("assignment") && c.body["status"] == "active")
        }).await;
        s.finish().await;
    }

    async fn of_two_concurrent_accepts_one_wins_and_the_other_is_told_privately_who_has_it(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        // Both see the same root and click Accept at once.
        let root = s.root("c1").await;
        let value = s.buttons("c1").await.into_iter().find(|(a, _, _)| a == "hb_accept").unwrap().2;
        let message = s.slack.message_json(CHANNEL, &root.ts).unwrap();
        let click = |user| s.sender.block_action(user, CHANNEL, &root.ts, message.clone(), "hb_accept", &value);
        let (a, b) = tokio::join!(click(ADA), click(BO));
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let c = s.conversation("c1").await;
        // Exactly one of the two clickers owns it.
        let winner = c["assignee"]["name"].as_str().unwrap_or_default().to_owned();
        let (winner_id, loser_id) = match winner.as_str() {
            "Ada" => (ADA, BO),
            "Bo" => (BO, ADA),
            _ => panic!("the conversation belongs to one of the two clickers: {c}"),
        };
        assert_eq!(c["status"], "active", "{c}");
        // The other is told privately, by name, who has it; the winner is told nothing.
        let calls = s.calls().await;
        let ephemerals: Vec<_> = calls.iter().filter(|c| c.method == "chat.postEphemeral").collect();
        assert_eq!(ephemerals.len(), 1, "{calls:#?}");
        assert_eq!(ephemerals[0].args["user"], loser_id);
        let notice = all_text(&ephemerals[0].args);
        assert!(notice.contains(&format!("*{winner}* already has this conversation")), "{notice}");
        assert!(calls.iter().all(|c| c.method != "conversations.open"), "nobody is DMed");
        // The root shows the winner as the assignee.
        let updates: Vec<_> = calls.iter().filter(|c| c.method == "chat.update").collect();
        assert!(!updates.is_empty(), "{calls:#?}");
        let root_text = all_text(&updates.last().unwrap().args);
        assert!(root_text.contains(&format!("Assigned to <@{winner_id}>")), "{root_text}");
        assert!(!root_text.contains(&format!("<@{loser_id}>")), "{root_text}");
        // The audit trail has one claim, by the winner.
        let claims: Vec<_> = c["audit"].as_array().unwrap().iter().filter(|a| a["reason"] == "claim").collect();
        assert_eq!(claims.len(), 1, "{c}");
        assert_eq!(claims[0]["actor_operator_id"], c["assignee"]["id"], "{c}");
        assert_eq!(claims[0]["to_assignee"], c["assignee"]["id"], "{c}");
        s.finish().await;
    }

    async fn reject_reroutes_to_the_next_operator_and_the_root_lists_who_declined(db) {
        let s = SlackApp::spawn(&db).await;
        s.set_routing("support", "round-robin", Some(&[1, 2])).await;
        s.app.handoff("c1", "support").await;
        let calls = s.calls().await;
        assert_eq!(dm_calls(&calls), [ADA]);
        assert_eq!(s.click(ADA, "c1", "hb_reject").await, StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.getPermalink", "conversations.open", "chat.postMessage"]).await;
        assert_eq!(dm_calls(&calls), [BO]);
        let c = s.conversation("c1").await;
        assert_eq!(c["assignee"]["name"], "Bo");
        assert!(all_text(&calls[0].args).contains("Declined by:* Ada"), "{}", all_text(&calls[0].args));
        s.finish().await;
    }

    async fn the_transfer_modal_sends_it_to_an_operator_a_team_or_the_bot(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        s.click(ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;

        assert_eq!(s.click(ADA, "c1", "hb_transfer").await, StatusCode::OK);
        s.expect(&["views.open"]).await;
        let view = s.slack.views().last().unwrap().view.clone();
        assert_eq!(view["callback_id"], "hb_transfer_view");
        let bo_id = s.count("select operator_id from operator_identities where platform = 'slack' and external_id = 'U0BO'").await;
        // Nothing picked: the modal says so and nothing changes.
        let res = s.sender.view_submission(ADA, view.clone(), values(&[])).await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["response_action"], "errors");
        // To Bo, with a note: Bo is DMed, the note stays in the team.
        let pick = json!({"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "Bo"}, "value": bo_id.to_string()}});
        let note = json!({"type": "plain_text_input", "value": "VIP, be nice"});
        let res = s.sender.view_submission(ADA, view.clone(), values(&[("operator", pick), ("note", note)])).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.getPermalink", "conversations.open", "chat.postMessage", "chat.postMessage"]).await;
        assert_eq!(dm_calls(&calls), [BO]);
        assert!(calls[4].args["text"].as_str().unwrap().contains("VIP, be nice"), "the note is in the thread");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Bo");

        // Bo sends it to a team: it is routed among the team's members (only Max is in it).
        let (st, team) = s.post("/v1/teams", ADMIN_TOKEN, json!({"name": "billing"})).await;
        assert_eq!(st, StatusCode::CREATED);
        let tid = team["id"].as_i64().unwrap();
        let max_id = s.count("select operator_id from operator_identities where platform = 'slack' and external_id = 'U0MAX'").await;
        s.call(reqwest::Method::PUT, &format!("/v1/teams/{tid}/members/{max_id}"), ADMIN_TOKEN, None).await;
        s.set_routing("support", "round-robin", None).await;
        s.click(BO, "c1", "hb_transfer").await;
        s.expect(&["views.open"]).await;
        let view = s.slack.views().last().unwrap().view.clone();
        let pick = json!({"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "billing"}, "value": tid.to_string()}});
        let res = s.sender.view_submission(BO, view, values(&[("team", pick)])).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.getPermalink", "conversations.open", "chat.postMessage"]).await;
        assert_eq!(dm_calls(&calls), [MAX]);
        assert!(all_text(&calls[0].args).contains("billing"));
        let c = s.conversation("c1").await;
        assert_eq!((c["team"]["name"].as_str(), c["assignee"]["name"].as_str()), (Some("billing"), Some("Max")));

        // Max sends it back to the bot.
        s.click(MAX, "c1", "hb_transfer").await;
        s.expect(&["views.open"]).await;
        let view = s.slack.views().last().unwrap().view.clone();
        let bot = json!({"type": "checkboxes", "selected_options": [{"text": {"type": "plain_text", "text": "Back to the bot"}, "value": "bot"}]});
        s.sender.view_submission(MAX, view, values(&[("bot", bot)])).await;
        let calls = s.expect(&["chat.update"]).await;
        assert!(labels(&calls[0].args["blocks"]).is_empty(), "no buttons once the bot has it");
        assert_eq!(s.conversation("c1").await["status"], "bot");
        s.finish().await;
    }

    async fn the_resolve_modal_resolves_with_topic_outcome_and_tags(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        s.click(ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;
        s.click(ADA, "c1", "hb_resolve").await;
        s.expect(&["views.open"]).await;
        let view = s.slack.views().last().unwrap().view.clone();
        let text = |v: &str| json!({"type": "plain_text_input", "value": v});
        let res = s.sender.view_submission(ADA, view, values(&[("topic", text("refund")), ("outcome", text("refunded")), ("tags", text("billing, vip"))])).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.update"]).await;
        assert!(labels(&calls[0].args["blocks"]).is_empty(), "buttons leave a resolved root");
        assert!(all_text(&calls[0].args).contains("Resolved"));
        let c = s.conversation("c1").await;
        assert_eq!(c["resolution"], json!({"topic": "refund", "outcome": "refunded", "tags": ["billing", "vip"]}));
        s.widget.wait_for(DEADLINE, "the handback", |calls| calls.iter().any(|c| c.kind.as_deref() == Some("handback") && c.body["tags"] == json!(["billing", "vip"]))).await;
        s.finish().await;
    }

    async fn a_thread_reply_self_claims_reaches_the_visitor_and_gets_a_check_mark(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        let event = s.slack.user_reply(CHANNEL, ADA, "Hi Ada, I'm on it", &root);
        let res = s.sender.event("Ev001", event.clone()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.calls().await;
        let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert!(methods.contains(&"auth.test"), "{methods:?}");
        assert!(methods.contains(&"chat.update"), "the root shows the new owner: {methods:?}");
        let react = calls.iter().find(|c| c.method == "reactions.add").expect("a receipt");
        assert_eq!(react.args["name"], "white_check_mark");
        assert_eq!(react.args["timestamp"], event["ts"]);
        assert_eq!(methods.len(), 3, "{methods:?}");
        let sent = s.widget.delivered();
        let reply = sent.iter().find(|c| c.kind.as_deref() == Some("messages")).expect("the visitor got the reply");
        assert_eq!(reply.body["text"], "Hi Ada, I'm on it");
        assert_eq!(reply.body["operator"]["name"], "Ada");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");

        // Slack retries the same event: it acts once.
        let again = s.sender.event_retry("Ev001", event, 1).await;
        assert_eq!(again.status(), StatusCode::OK);
        s.settle().await;
        assert_eq!(s.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages")).count(), 1);
        s.finish().await;
    }

    async fn a_reply_the_visitor_could_not_get_is_marked_with_a_warning_and_a_note(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        s.click(ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;
        s.widget.fail_next(1, 410);
        let event = s.slack.user_reply(CHANNEL, ADA, "Are you still there?", &root);
        s.sender.event("EvW1", event.clone()).await;
        let calls = s.expect(&["auth.test", "reactions.add", "chat.postMessage"]).await;
        assert_eq!(calls[1].args["name"], "warning");
        assert_eq!(calls[1].args["timestamp"], event["ts"]);
        assert_eq!(calls[2].args["thread_ts"], root.as_str());
        assert!(calls[2].args["text"].as_str().unwrap().contains("could not be delivered"), "{}", calls[2].args["text"]);
        let c = s.conversation("c1").await;
        let line = c["transcript"].as_array().unwrap().iter().find(|l| l["author"] == "operator").unwrap().clone();
        assert_eq!(line["delivery"], "failed");
        s.finish().await;
    }

    async fn a_redirect_from_the_widget_platform_is_not_followed_and_its_address_is_never_shown(db) {
        // Anything sent `elsewhere` would have left with the signature and the body.
        let elsewhere_hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hits = elsewhere_hits.clone();
        let elsewhere = serve(axum::Router::new().fallback(move || {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "taken" }
        }))
        .await;
        // The widget platform's address answers every call with a redirect there.
        let location = format!("http://{elsewhere}/capture");
        let redirector = serve(axum::Router::new().fallback(move || {
            let location = location.clone();
            async move { (axum::http::StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, location)]) }
        }))
        .await;
        a_failed_reply_shows_nothing_of_the_widget_platforms_address(&db, redirector).await;
        assert_eq!(elsewhere_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no redirect was followed");
    }

    async fn an_unreachable_widget_platforms_address_is_never_shown(db) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        a_failed_reply_shows_nothing_of_the_widget_platforms_address(&db, closed).await;
    }

    async fn a_reply_by_someone_else_is_held_back_and_a_manager_may_take_over_and_send(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        s.click(ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;

        // Bo (an agent) is told privately, with no button.
        s.sender.event("Ev100", s.slack.user_reply(CHANNEL, BO, "I can help!", &root)).await;
        let calls = s.expect(&["auth.test", "chat.postEphemeral"]).await;
        assert_eq!(calls[1].args["user"], BO);
        assert!(all_text(&calls[1].args).contains("Ada"));
        assert!(labels(&calls[1].args["blocks"]).is_empty());
        // An internal note goes nowhere.
        s.sender.event("Ev101", s.slack.user_reply(CHANNEL, BO, "// she is a VIP", &root)).await;
        s.settle().await;
        // Max (a manager) gets "Take over & send", and it works.
        s.sender.event("Ev102", s.slack.user_reply(CHANNEL, MAX, "Max here, taking over", &root)).await;
        let calls = s.expect(&["chat.postEphemeral"]).await;
        assert_eq!(calls[0].args["user"], MAX);
        assert_eq!(labels(&calls[0].args["blocks"]), ["Take over & send"]);
        let (_, _, value) = buttons_of(&calls[0].args["blocks"]).remove(0);
        let message = json!({"type": "message", "ts": calls[0].response["message_ts"], "text": ""});
        let res = s.sender.block_action(MAX, CHANNEL, calls[0].response["message_ts"].as_str().unwrap_or("1.1"), message, "hb_takeover_send", &value).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.update", "reactions.add"]).await;
        assert!(all_text(&calls[0].args).contains("<@U0MAX>"));
        let texts: Vec<String> = s.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages")).map(|c| c.body["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(texts, ["Max here, taking over"], "only Max's reply reached the visitor");
        s.finish().await;
    }

    async fn a_resolved_conversation_handed_off_again_shows_its_new_state(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        let (st, _) = s.post("/v1/conversations/c1/resolve", ADMIN_TOKEN, json!({})).await;
        assert!(st.is_success(), "{st}");
        s.expect(&["chat.update"]).await;
        assert!(labels(&s.root("c1").await.blocks).is_empty());
        s.app.handoff("c1", "support").await;
        let calls = s.calls().await;
        assert_eq!(calls[0].method, "chat.update", "{calls:#?}");
        assert_eq!(labels(&s.root("c1").await.blocks), ["Accept", "Reject", "Transfer"]);
        s.finish().await;
    }

    async fn a_refused_take_over_and_send_keeps_the_reply_held_until_it_can_go(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        s.click(ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;
        s.sender.event("Ev200", s.slack.user_reply(CHANNEL, MAX, "Max here", &root)).await;
        let calls = s.expect(&["auth.test", "chat.postEphemeral"]).await;
        let (_, _, held) = buttons_of(&calls[1].args["blocks"]).remove(0);
        let press = || async {
            let message = json!({"type": "message", "ts": "1.1", "text": ""});
            s.sender.block_action(MAX, CHANNEL, "1.1", message, "hb_takeover_send", &held).await
        };
        // Meanwhile the conversation went back to the bot: the press is refused and says why.
        let (st, _) = s.post("/v1/conversations/c1/transfer", ADMIN_TOKEN, json!({"to": "bot"})).await;
        assert_eq!(st, StatusCode::OK);
        s.expect(&["chat.update"]).await;
        assert_eq!(press().await.status(), StatusCode::OK);
        let calls = s.expect(&["chat.postEphemeral"]).await;
        assert!(all_text(&calls[0].args).contains("Nothing was done"), "{}", all_text(&calls[0].args));
        let held_rows = "select count(*) from messages where author = 'held'";
        assert_eq!(s.count(held_rows).await, 1, "the reply is still held");
        // Handed off again, the same press sends it, once.
        s.app.handoff("c1", "support").await;
        s.calls().await;
        assert_eq!(press().await.status(), StatusCode::OK);
        s.calls().await;
        assert_eq!(s.count(held_rows).await, 0);
        let texts: Vec<String> = s.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages")).map(|c| c.body["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(texts, ["Max here"]);
        assert_eq!(press().await.status(), StatusCode::OK);
        let calls = s.expect(&["chat.postEphemeral"]).await;
        assert!(all_text(&calls[0].args).contains("no longer waiting"), "sent once: {}", all_text(&calls[0].args));
        s.finish().await;
    }

    async fn a_change_made_through_the_http_api_re_renders_the_slack_root(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        let bo = s.count("select operator_id from operator_identities where platform = 'slack' and external_id = 'U0BO'").await;
        let (st, _) = s.post("/v1/conversations/c1/transfer", ADMIN_TOKEN, json!({"operator_id": bo})).await;
        assert_eq!(st, StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.getPermalink", "conversations.open", "chat.postMessage"]).await;
        assert!(all_text(&calls[0].args).contains("Assigned to <@U0BO>"));
        assert_eq!(dm_calls(&calls), [BO]);
        s.finish().await;
    }

    async fn a_click_on_an_out_of_date_root_re_renders_it_and_says_what_changed(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        let root = s.root("c1").await;
        let stale_value = s.buttons("c1").await.into_iter().find(|(a, _, _)| a == "hb_reject").unwrap().2;
        let ada = s.count("select operator_id from operator_identities where platform = 'slack' and external_id = 'U0ADA'").await;
        let (st, _) = s.post("/v1/conversations/c1/transfer", ADMIN_TOKEN, json!({"operator_id": ada})).await;
        assert_eq!(st, StatusCode::OK);
        s.calls().await;
        let message = s.slack.message_json(CHANNEL, &root.ts).unwrap();
        s.sender.block_action(BO, CHANNEL, &root.ts, message, "hb_reject", &stale_value).await;
        let calls = s.expect(&["chat.update", "chat.postEphemeral"]).await;
        assert_eq!(calls[1].args["user"], BO);
        assert!(all_text(&calls[1].args).contains("out of date"));
        assert!(s.conversation("c1").await["declined_by"].as_array().unwrap().is_empty(), "nothing was done");
        s.finish().await;
    }

    async fn a_rate_limited_update_is_delivered_later_in_order_and_once(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        s.slack.rate_limit_next("chat.update", 1, 1);
        s.click(ADA, "c1", "hb_accept").await;
        let (st, _) = s.post("/v1/conversations/c1/unassign", ADMIN_TOKEN, json!({})).await;
        assert_eq!(st, StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.update", "chat.update"]).await;
        assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200, 200]);
        // Roots are rendered when delivered: the late update already shows the latest state.
        assert!(all_text(&calls[2].args).contains("Unassigned"));
        assert_eq!(labels(&s.root("c1").await.blocks), ["Accept", "Reject", "Transfer"]);

        // A rate-limited root post holds back the transcript behind it: in order, once each.
        s.slack.rate_limit_next("chat.postMessage", 1, 1);
        s.app.handoff("c2", "support").await;
        let calls = s.expect(&["chat.postMessage", "chat.postMessage", "chat.postMessage", "chat.postMessage"]).await;
        assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200, 200, 200]);
        let root_ts = calls[1].response["ts"].as_str().unwrap();
        assert!(calls[1].args["thread_ts"].is_null());
        assert_eq!(calls[2].args["thread_ts"], root_ts);
        assert_eq!(calls[3].args["thread_ts"], root_ts);
        assert_eq!(s.slack.messages(CHANNEL).iter().filter(|m| m.thread_ts.is_none()).count(), 2, "one root per conversation");
        s.finish().await;
    }

    async fn a_root_whose_answer_was_lost_is_found_again_not_posted_twice(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.lose_response_next("chat.postMessage", 1);
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&["chat.postMessage", "conversations.history", "conversations.replies", "chat.postMessage", "chat.postMessage"]).await;
        assert_eq!(calls[0].status, 504);
        let root_ts = calls[0].response["lost"]["ts"].as_str().unwrap();
        assert_eq!(calls[1].args["include_all_metadata"], "true");
        assert_eq!(calls[3].args["thread_ts"], root_ts, "the transcript goes under the root that was posted");
        assert_eq!(s.slack.messages(CHANNEL).iter().filter(|m| m.thread_ts.is_none()).count(), 1, "one thread, not two");
        assert_eq!(s.root("c1").await.ts, root_ts);

        // The same for a transcript line: found again by its metadata, not posted twice.
        s.slack.lose_response_next("chat.postMessage", 1);
        let res = s.client.send(&handoff_bridge::standins::widget::WidgetClient::message_event("c1", "visitor", "hello?")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&["chat.postMessage", "conversations.replies"]).await;
        assert_eq!(calls[0].status, 504);
        assert_eq!(calls[1].args["include_all_metadata"], "true");
        let replies = s.slack.replies(CHANNEL, root_ts);
        assert_eq!(replies.iter().filter(|m| m.text.contains("hello?")).count(), 1, "posted once");

        // And a DM: found again in the DM's history.
        let bo = s.count("select operator_id from operator_identities where platform = 'slack' and external_id = 'U0BO'").await;
        s.slack.lose_response_next("chat.postMessage", 1);
        let (st, _) = s.post("/v1/conversations/c1/transfer", ADMIN_TOKEN, json!({"operator_id": bo})).await;
        assert_eq!(st, StatusCode::OK);
        let calls = s.expect(&["chat.update", "chat.getPermalink", "conversations.open", "chat.postMessage", "chat.getPermalink", "conversations.open", "conversations.history"]).await;
        assert_eq!(calls[3].status, 504);
        let dm = s.slack.dm_channel(BO).unwrap();
        assert_eq!(s.slack.messages(&dm).len(), 1, "one DM, not two");
        s.finish().await;
    }

    async fn a_root_left_by_a_row_that_died_is_found_by_the_next_one_not_posted_twice(db) {
        let s = SlackApp::spawn_with(&db, &[("HANDOFF_OUTBOX_MAX_ATTEMPTS", "1")]).await;
        // The root is posted, its answer is lost, and the row dies without a record of it.
        s.slack.lose_response_next("chat.postMessage", 1);
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&["chat.postMessage"]).await;
        assert_eq!(calls[0].status, 504);
        assert_eq!(s.count("select count(*) from outbox where status = 'dead' and target = 'slack'").await, 1);
        // Handed off again, the next row opening the thread looks first and finds it.
        let (st, _) = s.post("/v1/conversations/c1/resolve", ADMIN_TOKEN, json!({})).await;
        assert!(st.is_success(), "{st}");
        s.app.handoff("c1", "support").await;
        let calls = s.calls().await;
        let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert_eq!(methods[0], "conversations.history", "{methods:?}");
        let roots: Vec<_> = s.slack.messages(CHANNEL).into_iter().filter(|m| m.thread_ts.is_none()).collect();
        assert_eq!(roots.len(), 1, "one thread, not two");
        let root_ts = roots[0].ts.clone();
        assert_eq!(s.root("c1").await.ts, root_ts);
        assert!(!s.slack.replies(CHANNEL, &root_ts).is_empty(), "the transcript went under it");
        s.finish().await;
    }

    async fn bad_signatures_are_refused_and_change_nothing(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        let event = SlackSender::event_envelope("Ev9", SlackSender::thread_message(CHANNEL, ADA, "hi", &root));
        let now = handoff_bridge::signature::unix_now();
        for (ts, secret) in [(now, "wrong-secret"), (now - 600, SLACK_SECRET)] {
            let res = s.sender.send_raw("/slack/events", "application/json", event.to_string(), ts, secret).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = s.app.http.post(s.url("/slack/interactions")).body("payload={}").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        s.settle().await;
        assert_eq!(s.count("select count(*) from inbound_events where source = 'slack'").await, 0);
        assert_eq!(s.conversation("c1").await["assignee"], Value::Null);
        let res = s.sender.url_verification("chal-123").await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["challenge"], "chal-123");
        s.finish().await;
    }

    async fn the_bridges_own_and_other_bots_messages_are_ignored(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        let ours = SlackSender::bot_message(CHANNEL, handoff_bridge::standins::slack::SlackStandIn::BOT_ID, "echo", &root);
        s.sender.event("EvB1", ours).await;
        let other = SlackSender::bot_message(CHANNEL, "BOTHER01", "beep", &root);
        s.sender.event("EvB2", other).await;
        s.settle().await;
        assert!(s.widget.calls().iter().all(|c| c.kind.as_deref() != Some("messages")));
        assert_eq!(s.conversation("c1").await["assignee"], Value::Null);
        s.finish().await;
    }

    async fn long_texts_are_split_or_trimmed_to_slacks_limits_never_refused(db) {
        let s = SlackApp::spawn(&db).await;
        let mut event = handoff_bridge::standins::widget::WidgetClient::handoff_event("c1", "support");
        event["conversation"]["summary"] = json!("refund ".repeat(1000));
        event["conversation"]["visitor"]["name"] = json!("V".repeat(300));
        event["conversation"]["transcript"] = json!([{"author": "visitor", "text": "word ".repeat(3000)}]);
        assert_eq!(s.client.send(&event).await.status(), StatusCode::OK);
        let calls = s.calls().await;
        assert!(calls.iter().all(|c| c.status == 200 && c.response["ok"] == true), "Slack refused something: {calls:#?}");
        let root = &calls[0];
        assert!(root.args["thread_ts"].is_null());
        let posts = calls.iter().filter(|c| c.args["thread_ts"].is_string()).count();
        assert_eq!(posts, 5, "15 000 characters go out as five thread messages");
        let total: usize = s.slack.replies(CHANNEL, root.response["ts"].as_str().unwrap()).iter().map(|m| m.text.matches("word").count()).sum();
        assert_eq!(total, 3000, "nothing was lost");
        s.finish().await;
    }

    async fn in_command_reply_mode_thread_messages_stay_in_the_team(db) {
        let s = SlackApp::spawn_with(&db, &[("HANDOFF_REPLY_MODE", "command")]).await;
        let root = s.handoff("c1").await;
        s.sender.event("EvC1", s.slack.user_reply(CHANNEL, ADA, "should we refund?", &root)).await;
        s.expect(&["auth.test"]).await;
        assert_eq!(s.conversation("c1").await["assignee"], Value::Null, "no self-claim");
        let res = s.sender.command(ADA, CHANNEL, "reply c1 Yes, refunded!").await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["response_type"], "ephemeral");
        let calls = s.expect(&["chat.update", "chat.postMessage", "reactions.add"]).await;
        assert_eq!(calls[1].args["thread_ts"], root.as_str());
        assert_eq!(calls[2].args["timestamp"], calls[1].response["ts"], "the ✅ goes on the thread copy");
        let texts: Vec<String> = s.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages")).map(|c| c.body["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(texts, ["Yes, refunded!"]);
        s.finish().await;
    }

    async fn a_new_slack_user_becomes_an_operator_and_slack_admins_become_admins(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.add_user("U0OWNER", "olga", "Olga Owner", false, true);
        let root = s.handoff("c1").await;
        s.sender.event("EvN1", s.slack.user_reply(CHANNEL, "U0OWNER", "hello", &root)).await;
        let calls = s.calls().await;
        let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert!(methods.contains(&"users.info"), "{methods:?}");
        let (_, ops) = s.get("/v1/operators", ADMIN_TOKEN).await;
        let olga = ops.as_array().unwrap().iter().find(|o| o["slack_user_id"] == "U0OWNER").unwrap().clone();
        assert_eq!(olga["role"], "admin");
        assert_eq!(olga["name"], "olga", "the Slack display name");
        s.finish().await;
    }
}

/// The app manifest is valid YAML and names exactly the URLs the bridge serves for Slack.
#[tokio::test]
async fn the_slack_app_manifest_names_every_slack_url_the_bridge_serves() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/slack/manifest.yml")).unwrap();
    let manifest: Value = serde_norway::from_str(&text).expect("the manifest is valid YAML");
    let urls = [
        manifest["features"]["slash_commands"][0]["url"].as_str().unwrap(),
        manifest["settings"]["event_subscriptions"]["request_url"]
            .as_str()
            .unwrap(),
        manifest["settings"]["interactivity"]["request_url"].as_str().unwrap(),
    ];
    let mut paths: Vec<&str> = urls
        .iter()
        .map(|u| u.trim_start_matches("https://bridge.example.com"))
        .collect();
    paths.sort();
    assert_eq!(paths, ["/slack/commands", "/slack/events", "/slack/interactions"]);
    assert_eq!(manifest["features"]["slash_commands"][0]["command"], "/handoff");
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for scope in [
        "chat:write",
        "commands",
        "im:write",
        "users:read",
        "reactions:write",
        "channels:history",
    ] {
        assert!(scopes.contains(&scope), "{scope} is requested");
    }
    // Each URL is served: unsigned requests are refused (401), not unknown (404).
    let db = Db::sqlite();
    let s = SlackApp::spawn(&db).await;
    for path in paths {
        let res = s.app.http.post(s.url(path)).body("{}").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    s.finish().await;
}

/// The Socket Mode manifest is the webhook one without request URLs, with Socket Mode on.
#[test]
fn the_socket_mode_manifest_is_the_same_app_with_no_request_urls() {
    let read = |name: &str| -> Value {
        let path = format!("{}/manifests/slack/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).expect("valid YAML")
    };
    let mut webhooks = read("manifest.yml");
    let socket = read("manifest.socket-mode.yml");
    assert_eq!(socket["settings"]["socket_mode_enabled"], true);
    assert!(
        !serde_json::to_string(&socket).unwrap().contains("https://"),
        "no request URLs: {socket}"
    );
    // The webhook manifest, its URLs taken out and Socket Mode turned on, is the same app.
    webhooks["features"]["slash_commands"][0]
        .as_object_mut()
        .unwrap()
        .remove("url");
    webhooks["settings"]["event_subscriptions"]
        .as_object_mut()
        .unwrap()
        .remove("request_url");
    webhooks["settings"]["interactivity"]
        .as_object_mut()
        .unwrap()
        .remove("request_url");
    webhooks["settings"]["socket_mode_enabled"] = Value::Bool(true);
    assert_eq!(webhooks, socket);
}
