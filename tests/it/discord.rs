//! Discord (`docs/behaviour.md#in-discord`): thread roots with the buttons the state
//! allows, the transcript, clicks, selects, modals, replies both ways, DMs to the
//! assignee only (and the thread mention when their DMs are closed), receipts, the
//! gateway dropping and the bridge being away — through the gateway and REST of the
//! Discord stand-in, with serenity's real client connected to it.

use crate::discord_helpers::*;
use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::standins::widget::WidgetClient;
use reqwest::StatusCode;

const POST: &str = "POST /channels/{channel_id}/messages";
const EDIT: &str = "PATCH /channels/{channel_id}/messages/{message_id}";
const START_THREAD: &str = "POST /channels/{channel_id}/messages/{message_id}/threads";
const GET_CHANNEL: &str = "GET /channels/{channel_id}";
const MODIFY_CHANNEL: &str = "PATCH /channels/{channel_id}";
const OPEN_DM: &str = "POST /users/@me/channels";
const REACT: &str = "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me";
const CALLBACK: &str = "POST /interactions/{interaction_id}/{interaction_token}/callback";
const FOLLOWUP: &str = "POST /webhooks/{webhook_id}/{webhook_token}";
const EDIT_ORIGINAL: &str = "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original";

on_both_databases! {
    async fn a_handoff_opens_a_thread_from_a_root_with_the_transcript_and_the_right_buttons(db) {
        let s = DiscordApp::spawn(&db).await;
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST, START_THREAD, POST, POST]).await;
        assert_eq!(calls[1].path, format!("/channels/{CHANNEL}/messages"));
        let root_id: u64 = calls[1].response["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(calls[1].body["enforce_nonce"], true, "{}", calls[1].body);
        let thread = s.thread_of("c1").await;
        assert_eq!(thread, root_id, "the thread is started from the root and has its id");
        let root = s.root("c1").await;
        let text = DiscordApp::text(&root);
        assert!(text.contains("Ada") && text.contains("support") && text.contains("Unassigned"), "{text}");
        assert_eq!(s.labels("c1").await, ["Accept", "Reject", "Transfer"]);
        assert!(DiscordApp::buttons(&root).iter().all(|(id, _)| id.len() <= 100 && id.contains("c1")));
        let lines = s.discord.messages(thread);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[0].content.starts_with("**Visitor:** Hi"), "{}", lines[0].content);
        assert!(lines[1].content.starts_with("**AI bot:**"), "{}", lines[1].content);

        // A later visitor message goes into the thread; its mentions ping nobody.
        let res = s.client.send(&WidgetClient::message_event("c1", "visitor", "@everyone @here <@&123> <@700000000000000101> help")).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&[POST]).await;
        assert_eq!(calls[0].path, format!("/channels/{thread}/messages"));
        let line = s.discord.messages(thread).pop().unwrap();
        assert!(line.content.contains("@everyone"), "{}", line.content);
        assert!(line.pings.is_empty(), "nobody is pinged: {:?}", line.pings);
        s.finish().await;
    }

    async fn accepting_edits_the_root_and_only_the_assignee_is_ever_dmed(db) {
        let s = DiscordApp::spawn(&db).await;
        s.set_routing("support", "round-robin", None).await;
        // Round-robin gives it to Ada: she, and nobody else, gets a DM with a link.
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST, START_THREAD, POST, POST, OPEN_DM, POST]).await;
        assert_eq!(calls[5].body["recipient_id"], ADA.to_string());
        let dm = s.discord.dm_channel(ADA).expect("a DM with Ada");
        assert_eq!(calls[6].path, format!("/channels/{dm}/messages"));
        let thread = s.thread_of("c1").await;
        assert!(calls[6].body["content"].as_str().unwrap().contains(&format!("https://discord.com/channels/{GUILD}/{thread}")), "{}", calls[6].body);
        assert!(DiscordApp::text(&s.root("c1").await).contains(&format!("<@{ADA}>")));
        assert_eq!(s.labels("c1").await, ["Accept", "Reject", "Transfer", "Unassign", "Resolve", "Hand back to bot"]);

        // Bo cannot accept Ada's conversation: he is told privately who has it.
        let click = s.click(BO, "c1", "Accept").await;
        let r = s.answered(&click, 2).await;
        assert_eq!(r[0]["route"], "callback");
        assert_eq!(r[0]["body"]["type"], 6, "a deferred update first");
        assert_eq!(r[1]["route"], "followup");
        assert_eq!(r[1]["body"]["flags"], 64, "privately");
        assert!(r[1]["body"]["content"].as_str().unwrap().contains("**Ada** already has this conversation"), "{}", r[1]);
        s.expect(&[CALLBACK, FOLLOWUP]).await;

        // Ada accepts: the root is edited in place and no further DM goes out.
        let click = s.click(ADA, "c1", "Accept").await;
        s.answered(&click, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.expect(&[CALLBACK, EDIT]).await;
        assert_eq!(s.labels("c1").await, ["Transfer", "Unassign", "Resolve", "Hand back to bot"]);
        assert_eq!(s.conversation("c1").await["status"], "active");
        s.finish().await;
    }

    async fn of_two_concurrent_accepts_one_wins_and_the_other_is_told_who_has_it(db) {
        let s = DiscordApp::spawn(&db).await;
        s.handoff("c1").await;
        // Both click Accept on the same root before the bridge has handled either.
        let root = s.root("c1").await;
        let (accept, _) = DiscordApp::buttons(&root).into_iter().find(|(_, l)| l == "Accept").unwrap();
        let a = s.discord.click_button(CHANNEL, root.id, ADA, &accept);
        let b = s.discord.click_button(CHANNEL, root.id, BO, &accept);
        s.answered(&a, 1).await;
        s.answered(&b, 1).await;
        s.until("c1", "one of them to have it", |c| c["status"] == "active").await;
        eventually("the loser to be told", || async {
            (s.discord.interaction_responses(&a.token).len() + s.discord.interaction_responses(&b.token).len() == 3).then_some(())
        }).await;
        let c = s.conversation("c1").await;
        let winner = c["assignee"]["name"].as_str().unwrap_or_default().to_owned();
        let (winner_id, loser) = match winner.as_str() {
            "Ada" => (ADA, &b),
            "Bo" => (BO, &a),
            _ => panic!("the conversation belongs to one of the two clickers: {c}"),
        };
        let told = s.responses(loser).await;
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(told[1]["body"]["content"].as_str().unwrap().contains(&format!("**{winner}** already has this conversation")), "{told:?}");
        let calls = s.calls().await;
        assert!(calls.iter().all(|c| c.route != OPEN_DM), "nobody is DMed");
        assert!(DiscordApp::text(&s.root("c1").await).contains(&format!("Assigned to <@{winner_id}>")));
        let claims: Vec<_> = c["audit"].as_array().unwrap().iter().filter(|a| a["reason"] == "claim").collect();
        assert_eq!(claims.len(), 1, "{c}");
        s.finish().await;
    }

    async fn a_thread_reply_self_claims_reaches_the_visitor_and_gets_a_check_mark(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let msg = s.say(thread, ADA, "Hi, I'm on it").await;
        let calls = s.expect(&[EDIT, REACT]).await;
        assert_eq!(calls[1].path, format!("/channels/{thread}/messages/{msg}/reactions/%E2%9C%85/@me"));
        assert_eq!(s.visitor_replies(), ["Hi, I'm on it"]);
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");
        assert_eq!(s.discord.message(thread, msg).unwrap().reactions, ["✅"]);

        // An internal note stays in the team; the bot's own and other bots' messages are ignored.
        s.discord.webhook_message(thread, "a webhook says hi");
        s.say(thread, ADA, "// she is a VIP").await;
        s.settle().await;
        assert_eq!(s.visitor_replies(), ["Hi, I'm on it"]);
        let c = s.conversation("c1").await;
        assert!(c["transcript"].as_array().unwrap().iter().any(|l| l["author"] == "note" && l["text"] == "// she is a VIP"), "{c}");
        s.finish().await;
    }

    async fn a_reply_by_someone_else_is_held_and_they_are_told_by_dm_a_manager_may_take_over(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let click = s.click(ADA, "c1", "Accept").await;
        s.answered(&click, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.expect(&[CALLBACK, EDIT]).await;

        // Bo (an agent) is told by DM, with no button.
        s.say(thread, BO, "I can help!").await;
        let calls = s.expect(&[OPEN_DM, POST]).await;
        assert_eq!(calls[0].body["recipient_id"], BO.to_string());
        let notice = calls[1].body["content"].as_str().unwrap();
        assert!(notice.contains("**Ada** is handling this conversation"), "{notice}");
        assert!(calls[1].body["components"].is_null() || calls[1].body["components"] == serde_json::json!([]), "{}", calls[1].body);
        // Max (a manager) gets "Take over & send", and it works.
        s.say(thread, MAX, "Max here, taking over").await;
        let calls = s.expect(&[OPEN_DM, POST]).await;
        let dm = s.discord.dm_channel(MAX).unwrap();
        let notice_id: u64 = calls[1].response["id"].as_str().unwrap().parse().unwrap();
        let notice = s.discord.message(dm, notice_id).unwrap();
        let (id, label) = DiscordApp::buttons(&notice).remove(0);
        assert_eq!(label, "Take over & send");
        let click = s.discord.click_button(dm, notice_id, MAX, &id);
        s.answered(&click, 2).await;
        s.until("c1", "Max to have it", |c| c["assignee"]["name"] == "Max").await;
        let calls = s.expect(&[CALLBACK, EDIT, EDIT_ORIGINAL, REACT]).await;
        assert!(DiscordApp::text(&s.root("c1").await).contains(&format!("<@{MAX}>")), "{calls:#?}");
        assert_eq!(s.visitor_replies(), ["Max here, taking over"], "only Max's reply reached the visitor");
        s.finish().await;
    }

    async fn closed_dms_become_one_thread_message_that_mentions_only_the_assignee(db) {
        let discord = discord_standin().await;
        discord.add_user(ADA, "ada", false);
        let s = DiscordApp::spawn_on(&db, discord, &[]).await;
        let ada = s.count(&format!("select operator_id from operator_identities where external_id = '{ADA}'")).await;
        s.set_routing("support", "round-robin", Some(&[ada])).await;
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST, START_THREAD, POST, POST, OPEN_DM, POST, POST]).await;
        assert_eq!(calls[6].status, 403);
        assert_eq!(calls[6].response["code"], 50007);
        let thread = s.thread_of("c1").await;
        assert_eq!(calls[7].path, format!("/channels/{thread}/messages"));
        let mention = s.discord.messages(thread).pop().unwrap();
        assert_eq!(mention.pings, [format!("user:{ADA}")], "only Ada is pinged");
        // The next conversation for Ada does not try her DMs again.
        s.app.handoff("c2", "support").await;
        let calls = s.expect(&[POST, START_THREAD, POST, POST, POST]).await;
        let thread2 = s.thread_of("c2").await;
        assert_eq!(calls[4].path, format!("/channels/{thread2}/messages"));
        assert_eq!(s.conversation("c2").await["assignee"]["name"], "Ada");
        s.finish().await;
    }

    async fn a_dm_whose_answer_was_lost_is_sent_once(db) {
        let s = DiscordApp::spawn(&db).await;
        s.handoff("c1").await;
        let ada = s.count(&format!("select operator_id from operator_identities where external_id = '{ADA}'")).await;
        // Discord carries out the DM, but its answer never comes back.
        s.discord.lose_response_next(POST, 1);
        let (st, _) = s.post("/v1/conversations/c1/transfer", ADMIN_TOKEN, serde_json::json!({"operator_id": ada})).await;
        assert_eq!(st, StatusCode::OK);
        let calls = s.calls().await;
        let dm = s.discord.dm_channel(ADA).expect("a DM with Ada");
        let sent: Vec<_> = calls.iter().filter(|c| c.route == POST && c.path == format!("/channels/{dm}/messages")).collect();
        assert_eq!(sent.iter().map(|c| c.status).collect::<Vec<_>>(), [504, 200], "{calls:#?}");
        assert_eq!(sent[0].body["nonce"], sent[1].body["nonce"], "the retry names the same message");
        assert_eq!(sent[1].body["enforce_nonce"], true);
        assert_eq!(sent[1].response["id"], sent[0].response["lost"]["id"], "Discord answers with the message it already has");
        assert_eq!(s.discord.messages(dm).len(), 1, "one DM, not two");
        s.finish().await;
    }

    async fn a_dropped_gateway_resumes_and_a_reply_sent_meanwhile_is_relayed(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        s.discord.drop_connections();
        let msg = s.discord.user_message(thread, ADA, "written while the bridge was reconnecting");
        assert!(s.discord.wait_for_gateway(DEADLINE, |g| g.resumes >= 1 && g.connected).await);
        s.taken_in(msg).await;
        s.expect(&[EDIT, REACT]).await;
        assert_eq!(s.visitor_replies(), ["written while the bridge was reconnecting"]);
        assert_eq!(s.discord.gateway().identifies, 1, "resumed, not identified again");
        s.finish().await;
    }

    async fn a_reply_written_while_the_bridge_was_down_is_relayed_when_it_starts(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        s.say(thread, ADA, "first").await;
        s.expect(&[EDIT, REACT]).await;
        // The bridge stops; a moderator writes in the thread meanwhile; it starts again.
        let s = s.restart(&db, |discord| {
            discord.user_message(thread, ADA, "while you were away");
        }).await;
        eventually("the reply written meanwhile to reach the visitor", || async {
            (s.visitor_replies().len() == 2).then_some(())
        }).await;
        let calls = s.calls().await;
        let routes: Vec<&str> = calls.iter().map(|c| c.route.as_str()).collect();
        assert!(routes.contains(&"GET /channels/{channel_id}/messages"), "caught up: {routes:?}");
        assert!(routes.contains(&REACT), "{routes:?}");
        assert_eq!(s.visitor_replies(), ["first", "while you were away"]);
        s.finish().await;
    }

    async fn transfer_offers_selects_for_an_operator_a_team_or_the_bot(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let accept = s.click(ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.expect(&[CALLBACK, EDIT]).await;

        // Transfer answers with a private message holding the selects.
        let open = s.click(ADA, "c1", "Transfer").await;
        let r = s.answered(&open, 1).await;
        assert_eq!((r[0]["body"]["type"].as_u64(), r[0]["body"]["data"]["flags"].as_u64()), (Some(4), Some(64)), "{r:?}");
        s.expect(&[CALLBACK]).await;
        let panel: u64 = r[0]["message_id"].as_str().unwrap().parse().unwrap();
        let panel = s.discord.message(CHANNEL, panel).expect("the transfer message");
        assert_eq!(panel.visible_to, Some(ADA));
        let select = |kind: u64| -> String {
            panel.components.iter().flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                .find(|c| c["type"] == kind).and_then(|c| c["custom_id"].as_str().map(str::to_owned))
                .unwrap_or_else(|| panic!("a component of type {kind}: {:?}", panel.components))
        };
        // To Bo: he is DMed, the panel says so, the root shows him.
        let pick = s.discord.choose_users(CHANNEL, panel.id, ADA, &select(5), &[BO]);
        let r = s.answered(&pick, 2).await;
        s.until("c1", "Bo to have it", |c| c["assignee"]["name"] == "Bo").await;
        assert_eq!(r[0]["body"]["type"], 6);
        assert!(r[1]["body"]["content"].as_str().unwrap().contains("Assigned to Bo"), "{r:?}");
        let calls = s.expect(&[CALLBACK, EDIT, OPEN_DM, POST, EDIT_ORIGINAL]).await;
        assert_eq!(calls[2].body["recipient_id"], BO.to_string());
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Bo");

        // With a team, the panel offers it too; Bo sends it to the team (only Max is in it).
        let (st, team) = s.post("/v1/teams", ADMIN_TOKEN, serde_json::json!({"name": "billing"})).await;
        assert_eq!(st, StatusCode::CREATED);
        let tid = team["id"].as_i64().unwrap();
        let max_id = s.count(&format!("select operator_id from operator_identities where external_id = '{MAX}'")).await;
        s.call(reqwest::Method::PUT, &format!("/v1/teams/{tid}/members/{max_id}"), ADMIN_TOKEN, None).await;
        s.set_routing("support", "round-robin", None).await;
        let open = s.click(BO, "c1", "Transfer").await;
        let r = s.answered(&open, 1).await;
        s.expect(&[CALLBACK]).await;
        let panel = s.discord.message(CHANNEL, r[0]["message_id"].as_str().unwrap().parse().unwrap()).unwrap();
        let team_select = panel.components.iter().flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .find(|c| c["type"] == 3).expect("a team select");
        assert_eq!(team_select["options"][0]["label"], "billing");
        let pick = s.discord.choose_strings(CHANNEL, panel.id, BO, team_select["custom_id"].as_str().unwrap(), &[&tid.to_string()]);
        s.answered(&pick, 2).await;
        s.until("c1", "Max to have it", |c| c["assignee"]["name"] == "Max").await;
        let calls = s.expect(&[CALLBACK, EDIT, OPEN_DM, POST, EDIT_ORIGINAL]).await;
        assert_eq!(calls[2].body["recipient_id"], MAX.to_string());
        let c = s.conversation("c1").await;
        assert_eq!((c["team"]["name"].as_str(), c["assignee"]["name"].as_str()), (Some("billing"), Some("Max")));

        // Max sends it back to the bot: no buttons are left on the root.
        let open = s.click(MAX, "c1", "Transfer").await;
        let r = s.answered(&open, 1).await;
        s.expect(&[CALLBACK]).await;
        let panel = s.discord.message(CHANNEL, r[0]["message_id"].as_str().unwrap().parse().unwrap()).unwrap();
        let (bot, label) = DiscordApp::buttons(&panel).remove(0);
        assert_eq!(label, "Back to the bot");
        let back = s.discord.click_button(CHANNEL, panel.id, MAX, &bot);
        s.answered(&back, 2).await;
        s.until("c1", "the bot to have it", |c| c["status"] == "bot").await;
        s.expect(&[CALLBACK, EDIT, EDIT_ORIGINAL]).await;
        assert!(s.labels("c1").await.is_empty());
        assert_eq!(s.conversation("c1").await["status"], "bot");
        let _ = thread;
        s.finish().await;
    }

    async fn the_resolve_modal_resolves_with_topic_outcome_and_tags_and_archives_the_thread(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let accept = s.click(ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.expect(&[CALLBACK, EDIT]).await;
        let open = s.click(ADA, "c1", "Resolve").await;
        let r = s.answered(&open, 1).await;
        assert_eq!(r[0]["body"]["type"], 9, "a modal");
        s.expect(&[CALLBACK]).await;
        let modal = r[0]["body"]["data"]["custom_id"].as_str().unwrap().to_owned();
        let submit = s.discord.submit_modal(CHANNEL, Some(thread), ADA, &modal, &[("topic", "refund"), ("outcome", "refunded"), ("tags", "billing, vip")]);
        s.answered(&submit, 1).await;
        s.until("c1", "it to be resolved", |c| c["status"] == "resolved").await;
        let calls = s.expect(&[CALLBACK, EDIT, MODIFY_CHANNEL]).await;
        assert_eq!(calls[2].path, format!("/channels/{thread}"));
        assert_eq!(calls[2].body["archived"], true);
        assert!(s.labels("c1").await.is_empty(), "buttons leave a resolved root");
        let text = DiscordApp::text(&s.root("c1").await);
        assert!(text.contains("Resolved") && text.contains("thread archived"), "{text}");
        let c = s.conversation("c1").await;
        assert_eq!(c["resolution"], serde_json::json!({"topic": "refund", "outcome": "refunded", "tags": ["billing", "vip"]}));
        s.finish().await;
    }

    async fn a_forum_gets_one_post_per_conversation_with_its_status_as_a_tag(db) {
        let s = DiscordApp::spawn(&db).await;
        s.app.handoff("f1", "forum").await;
        let calls = s.expect(&[GET_CHANNEL, GET_CHANNEL, MODIFY_CHANNEL, "POST /channels/{channel_id}/threads", POST, POST]).await;
        assert_eq!(calls[2].path, format!("/channels/{FORUM}"));
        let tags = s.discord.channel(FORUM).unwrap()["available_tags"].clone();
        let names: Vec<&str> = tags.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Waiting", "In progress", "With the bot", "Resolved"]);
        let tag = |name: &str| tags.as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].clone();
        let post = s.thread_of("f1").await;
        assert_eq!(s.discord.channel(post).unwrap()["applied_tags"], serde_json::json!([tag("Waiting")]));
        assert_eq!(s.labels("f1").await, ["Accept", "Reject", "Transfer"]);
        // Accepting moves the tag; the post is never renamed.
        let name = s.discord.channel(post).unwrap()["name"].clone();
        let root = s.root("f1").await;
        let (id, _) = DiscordApp::buttons(&root).into_iter().find(|(_, l)| l == "Accept").unwrap();
        let accept = s.discord.click_button(post, root.id, ADA, &id);
        s.answered(&accept, 1).await;
        s.until("f1", "Ada to have it", |c| c["status"] == "active").await;
        let calls = s.expect(&[CALLBACK, MODIFY_CHANNEL, EDIT]).await;
        assert!(calls[1].body.get("name").is_none(), "{}", calls[1].body);
        assert_eq!(s.discord.channel(post).unwrap()["applied_tags"], serde_json::json!([tag("In progress")]));
        assert_eq!(s.discord.channel(post).unwrap()["name"], name);
        s.finish().await;
    }

    async fn a_button_drawn_before_a_restart_still_works_and_a_stale_one_says_what_changed(db) {
        let s = DiscordApp::spawn(&db).await;
        s.handoff("c1").await;
        let root = s.root("c1").await;
        let (accept, _) = DiscordApp::buttons(&root).into_iter().find(|(_, l)| l == "Accept").unwrap();
        let (reject, _) = DiscordApp::buttons(&root).into_iter().find(|(_, l)| l == "Reject").unwrap();
        let s = s.restart(&db, |_| {}).await;
        s.calls().await; // the gateway and the commands again
        let click = s.discord.click_button(CHANNEL, root.id, ADA, &accept);
        s.answered(&click, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.expect(&[CALLBACK, EDIT]).await;
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");
        // A button of the same, now out-of-date root: nothing changes; the root is redrawn
        // and Bo told what changed.
        let stale = s.discord.click_button(CHANNEL, root.id, BO, &reject);
        let r = s.answered(&stale, 2).await;
        assert!(r[1]["body"]["content"].as_str().unwrap().contains("out of date"), "{r:?}");
        s.expect(&[CALLBACK, EDIT, FOLLOWUP]).await;
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");
        s.finish().await;
    }

    async fn every_handoff_subcommand_answers_privately(db) {
        use serde_json::json;
        let s = DiscordApp::spawn(&db).await;
        let defs = s.discord.commands(GUILD);
        let names: Vec<&str> = defs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["handoff", "handoff-manage"]);
        assert_eq!(defs[1]["default_member_permissions"], "32", "manager subcommands need Manage Server");
        let sub = |name: &str, options: serde_json::Value| json!([{"name": name, "type": 1, "options": options}]);
        let word = |name: &str, value: &str| json!({"name": name, "type": 3, "value": value});
        let user = |name: &str, id: u64| json!({"name": name, "type": 6, "value": id.to_string()});

        let help = s.command(ADA, "handoff", sub("help", json!([]))).await;
        assert!(help.contains("/handoff-manage connect widget:<widget>") && help.contains("/handoff claim conversation:<conversation>"), "{help}");
        assert!(s.command(ADA, "handoff", sub("away", json!([]))).await.contains("**away**"));
        assert!(s.command(ADA, "handoff", sub("available", json!([]))).await.contains("**available**"));
        assert!(s.command(ADA, "handoff", sub("status", json!([]))).await.contains("role **agent**"));
        s.handoff("c1").await;
        let inbox = s.command(ADA, "handoff", sub("inbox", json!([]))).await;
        assert!(inbox.contains("`c1`"), "{inbox}");
        assert!(s.command(ADA, "handoff", sub("claim", json!([word("conversation", "c1")]))).await.contains("is yours"));
        let mine = s.command(ADA, "handoff", sub("inbox", json!([word("filter", "mine")]))).await;
        assert!(mine.contains("`c1`"), "{mine}");
        let sent = s.command(ADA, "handoff", sub("reply", json!([word("conversation", "c1"), word("text", "Hello from a command")]))).await;
        assert!(sent.contains("Sent to the visitor"), "{sent}");
        assert_eq!(s.visitor_replies(), ["Hello from a command"]);
        // Bo cannot claim what Ada has: the answer says who has it.
        let refused = s.command(BO, "handoff", sub("claim", json!([word("conversation", "c1")]))).await;
        assert!(refused.contains("**Ada**"), "{refused}");

        // Managers: connect, routing, eligible, teams.
        let connected = s.command(MAX, "handoff-manage", sub("connect", json!([word("widget", "sales")]))).await;
        assert!(connected.contains("Discord channel of **sales**"), "{connected}");
        let shown = s.command(MAX, "handoff-manage", sub("routing", json!([word("widget", "sales")]))).await;
        assert!(shown.contains(&format!("<#{CHANNEL}>")) && shown.contains("manual"), "{shown}");
        let set = s.command(MAX, "handoff-manage", sub("routing", json!([word("widget", "sales"), word("mode", "round-robin")]))).await;
        assert!(set.contains("**round-robin**"), "{set}");
        let eligible = s.command(MAX, "handoff-manage", sub("eligible", json!([word("widget", "sales"), user("user1", ADA), user("user2", BO)]))).await;
        assert!(eligible.contains("Ada, Bo"), "{eligible}");
        let everyone = s.command(MAX, "handoff-manage", sub("eligible", json!([word("widget", "sales"), json!({"name": "everyone", "type": 5, "value": true})]))).await;
        assert!(everyone.contains("everyone"), "{everyone}");
        let team = |verb: &str, options: serde_json::Value| json!([{"name": "team", "type": 2, "options": [{"name": verb, "type": 1, "options": options}]}]);
        assert!(s.command(MAX, "handoff-manage", team("create", json!([word("name", "billing")]))).await.contains("**billing** created"));
        let added = s.command(MAX, "handoff-manage", team("add", json!([word("name", "billing"), user("user", EVE)]))).await;
        assert!(added.contains("eve"), "a member the bridge had not seen becomes an operator: {added}");
        assert!(s.command(ADA, "handoff", sub("teams", json!([]))).await.contains("**billing**: eve"));
        let removed = s.command(MAX, "handoff-manage", team("remove", json!([word("name", "billing"), user("user", EVE)]))).await;
        assert!(removed.contains("no members"), "{removed}");
        assert!(s.command(MAX, "handoff-manage", team("delete", json!([word("name", "billing")]))).await.contains("deleted"));
        // An agent is refused the manager ones, with the reason.
        let refused = s.command(ADA, "handoff-manage", sub("routing", json!([word("widget", "sales"), word("mode", "manual")]))).await;
        assert!(refused.starts_with("⚠️"), "{refused}");
        // A code from Discord; the same platform cannot redeem it.
        let code = s.command(ADA, "handoff", sub("link", json!([]))).await;
        assert!(code.contains("/handoff link"), "{code}");
        // Since the handoff, each command was answered by its two calls; besides, only what claim and reply did:
        // the root's edit, the reply's line in the thread and its receipt.
        let calls = s.calls().await;
        let count = |route: &str| calls.iter().filter(|c| c.route == route).count();
        assert_eq!(count(CALLBACK), 17, "{calls:#?}");
        assert_eq!(count(EDIT_ORIGINAL), 17);
        assert_eq!((count(EDIT), count(POST), count(REACT)), (1, 1, 1), "{calls:#?}");
        assert_eq!(calls.len(), 37);
        s.finish().await;
    }

    async fn reject_reroutes_to_the_next_operator_and_the_root_lists_who_declined(db) {
        let s = DiscordApp::spawn(&db).await;
        s.set_routing("support", "round-robin", Some(&[1, 2])).await;
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST, START_THREAD, POST, POST, OPEN_DM, POST]).await;
        assert_eq!(calls[5].body["recipient_id"], ADA.to_string());
        let reject = s.click(ADA, "c1", "Reject").await;
        s.answered(&reject, 1).await;
        s.until("c1", "Bo to have it", |c| c["assignee"]["name"] == "Bo").await;
        let calls = s.expect(&[CALLBACK, EDIT, OPEN_DM, POST]).await;
        assert_eq!(calls[2].body["recipient_id"], BO.to_string());
        let text = DiscordApp::text(&s.root("c1").await);
        assert!(text.contains("Declined by") && text.contains("Ada"), "{text}");
        s.finish().await;
    }

    async fn a_rate_limited_call_waits_for_discords_retry_after_and_keeps_the_order(db) {
        let s = DiscordApp::spawn(&db).await;
        s.discord.rate_limit_next(POST, 1, 0.3);
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST, POST, START_THREAD, POST, POST]).await;
        assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [200, 429, 200, 201, 200, 200]);
        let thread = s.thread_of("c1").await;
        let lines = s.discord.messages(thread);
        assert_eq!(lines.len(), 2, "each line once, in order: {lines:#?}");
        assert!(lines[0].content.contains("Visitor") && lines[1].content.contains("AI bot"));
        assert_eq!(s.discord.messages(CHANNEL).len(), 1, "one root");
        s.finish().await;
    }

    async fn a_resolved_conversation_handed_off_again_reopens_its_thread(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let (st, _) = s.post("/v1/conversations/c1/resolve", ADMIN_TOKEN, serde_json::json!({})).await;
        assert!(st.is_success(), "{st}");
        s.expect(&[EDIT, MODIFY_CHANNEL]).await;
        assert_eq!(s.discord.channel(thread).unwrap()["thread_metadata"]["archived"], true);
        // The visitor asks for a human again: the same thread, reopened, shows it.
        s.app.handoff("c1", "support").await;
        let calls = s.calls().await;
        let routes: Vec<&str> = calls.iter().map(|c| c.route.as_str()).collect();
        assert!(routes.contains(&EDIT), "the root is redrawn: {routes:?}");
        assert_eq!(s.discord.channel(thread).unwrap()["thread_metadata"]["archived"], false);
        assert_eq!(s.labels("c1").await, ["Accept", "Reject", "Transfer"]);
        assert!(DiscordApp::text(&s.root("c1").await).contains("Unassigned"));
        s.finish().await;
    }

    async fn without_manage_channels_a_forum_post_goes_untagged_and_a_refused_post_is_a_dead_letter(db) {
        let s = DiscordApp::spawn(&db).await;
        s.discord.refuse_next(MODIFY_CHANNEL, 1, 403, 50013);
        s.app.handoff("f1", "forum").await;
        let calls = s.expect(&[GET_CHANNEL, GET_CHANNEL, MODIFY_CHANNEL, "POST /channels/{channel_id}/threads", POST, POST]).await;
        assert_eq!((calls[2].status, calls[2].response["code"].as_u64()), (403, Some(50013)));
        let post = s.thread_of("f1").await;
        assert_eq!(s.discord.channel(post).unwrap()["applied_tags"], serde_json::json!([]));
        // The bridge may not post in the text channel: the row is kept as a dead letter,
        // and nothing is retried against Discord.
        s.discord.refuse_next(POST, 1, 403, 50001);
        s.app.handoff("c9", "support").await;
        let calls = s.expect(&[GET_CHANNEL, POST]).await;
        assert_eq!(calls[1].response["code"], 50001);
        assert_eq!(s.count("select count(*) from outbox where status = 'dead' and target = 'discord'").await, 1);
        s.finish().await;
    }

    async fn long_texts_are_split_to_discords_limits_never_refused(db) {
        let s = DiscordApp::spawn(&db).await;
        let thread = s.handoff("c1").await;
        let long = "word ".repeat(1000);
        let res = s.client.send(&WidgetClient::message_event("c1", "visitor", &long)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let calls = s.expect(&[POST, POST, POST]).await;
        assert!(calls.iter().all(|c| c.status == 200), "{calls:#?}");
        let lines = s.discord.messages(thread);
        let pieces: Vec<&str> = lines[2..].iter().map(|m| m.content.as_str()).collect();
        assert!(pieces.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(pieces.concat().replace([' ', '\n'], "").replace("**Visitor:**", ""), long.replace(' ', ""));
        s.finish().await;
    }

    async fn a_new_member_becomes_an_operator_and_manage_server_makes_an_admin(db) {
        use serde_json::json;
        let s = DiscordApp::spawn(&db).await;
        let status = json!([{"name": "status", "type": 1, "options": []}]);
        s.discord.set_member(GUILD, EVE, MANAGE_GUILD);
        assert!(s.command(EVE, "handoff", status.clone()).await.contains("role **admin**"));
        let zed = 700_000_000_000_000_199;
        s.discord.add_user(zed, "zed", true);
        assert!(s.command(zed, "handoff", status).await.contains("role **agent**"));
        let (_, ops) = s.get("/v1/operators", ADMIN_TOKEN).await;
        let names: Vec<&str> = ops.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"eve") && names.contains(&"zed"), "{names:?}");
        s.settle().await;
        s.discord.take_calls();
    }
}

/// Several instances on one PostgreSQL hold the gateway one at a time (SQLite allows one
/// instance: see `review::a_second_instance_on_one_sqlite_file_is_refused`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(test_database_url), ignore = "PostgreSQL: set TEST_DATABASE_URL")]
async fn one_instance_at_a_time_holds_the_gateway_and_another_takes_over_when_it_stops() {
    let db = Db::postgres().await;
    let a = DiscordApp::spawn(&db).await;
    let env = discord_env(&a.discord);
    let mut extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    extra.push(("HANDOFF_DISCORD_SHARDS", "1"));
    let b = TestApp::launch(&db, &extra, Some(SEED)).await;

    // Work goes on with both up: a moderator's message is taken in once.
    let thread = a.handoff("c1").await;
    let first = a.say(thread, ADA, "hello from A's time").await;
    a.taken_in(first).await;
    let g = a.discord.gateway();
    assert_eq!(
        (g.identifies, g.overlaps),
        (1, 0),
        "the second instance stood by: {g:?}"
    );

    // The holder stops: the other takes the shard over and takes messages in.
    let discord = a.discord.clone();
    a.app.stop().await;
    assert!(
        discord
            .wait_for_gateway(DEADLINE, |g| g.identifies == 2 && g.connected)
            .await,
        "the standing-by instance connected: {:?}",
        discord.gateway()
    );
    assert_eq!(discord.gateway().overlaps, 0);
    let id = discord.user_message(thread, ADA, "hello from B's time");
    let sql = format!("select count(*) from inbound_events where source = 'discord' and event_id = 'message:{id}'");
    eventually("the message to be taken in by the instance that took over", || async {
        (b.count(&sql).await == 1).then_some(())
    })
    .await;
}
