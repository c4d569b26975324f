//! `/handoff` (`docs/behaviour.md#in-slack`), through Slack's front door
//! (`POST /slack/commands`, signed as Slack signs it): every subcommand — `help`,
//! `available`/`away`, `status`, `inbox`, `claim`, `reply`,
//! `team create|delete|add|remove|list`, `routing` (show, set, eligible),
//! `widgets`, `connect` (`link` is in `links.rs`) — with what the person who typed it
//! sees (always an ephemeral answer), what changed behind it (the HTTP API, the widget
//! platform, routing) and every Slack Web API call it caused; wrong commands answered
//! with what is wrong and the usage; role refusals that name the role; Slack users seen
//! for the first time made operators from `users.info`; and badly signed commands
//! refused.

use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::*;
use handoff_bridge::signature::unix_now;
use handoff_bridge::standins::slack::SlackCall;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// A line of the usage that every usage answer carries.
const USAGE_LINE: &str = "`/handoff claim <conversation>` — take an unassigned conversation";
/// A channel that is not the `support` widget's.
const NEW_CHANNEL: &str = "C0NEW";

/// Sends `/handoff <text>` as `user` in `#support`; returns the ephemeral answer's text.
pub(crate) async fn say(s: &SlackApp, user: &str, text: &str) -> String {
    say_in(s, user, CHANNEL, text).await
}

/// Sends `/handoff <text>` as `user` in `channel`; checks that Slack got a 200 with an
/// ephemeral answer and returns its text.
async fn say_in(s: &SlackApp, user: &str, channel: &str, text: &str) -> String {
    let res = s.sender.command(user, channel, text).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "/handoff {text}: {body}");
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("/handoff {text}: not JSON: {body}"));
    assert_eq!(answer["response_type"], "ephemeral", "/handoff {text}: {answer}");
    answer["text"]
        .as_str()
        .unwrap_or_else(|| panic!("/handoff {text}: no text in {answer}"))
        .to_owned()
}

/// The answer to a wrong command: a warning saying `what`, then the usage.
fn assert_usage_after(answer: &str, what: &str) {
    assert!(answer.starts_with("⚠️"), "a warning first: {answer}");
    assert!(answer.contains(what), "`{answer}` should say `{what}`");
    assert!(answer.contains(USAGE_LINE), "the usage follows: {answer}");
}

/// A refusal that names the role it needs, and no usage.
fn assert_refused_naming(answer: &str, role: &str) {
    assert!(answer.starts_with("⚠️"), "a refusal: {answer}");
    assert!(answer.contains(role), "`{answer}` should name the {role} role");
    assert!(!answer.contains(USAGE_LINE), "a refusal is not a usage error: {answer}");
}

/// The conversation ids an inbox or status answer lists, one per line.
fn listed(answer: &str) -> Vec<String> {
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("• `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// The line of an answer about conversation `id`.
fn line_of<'a>(answer: &'a str, id: &str) -> &'a str {
    let prefix = format!("• `{id}`");
    answer
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {id} in: {answer}"))
}

/// The operator linked to a Slack user, as the HTTP API shows them.
async fn operator_of(s: &SlackApp, slack_user: &str) -> Value {
    let (status, all) = s.get("/v1/operators", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    all.as_array()
        .unwrap()
        .iter()
        .find(|o| o["slack_user_id"] == slack_user)
        .cloned()
        .unwrap_or_else(|| panic!("no operator for {slack_user}: {all}"))
}

/// `GET /v1/operators/{id}` of the operator linked to a Slack user.
async fn operator_by_id(s: &SlackApp, slack_user: &str) -> Value {
    let id = operator_of(s, slack_user).await["id"].as_i64().unwrap();
    let (status, o) = s.get(&format!("/v1/operators/{id}"), ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    o
}

async fn widget(s: &SlackApp, id: &str) -> Value {
    let (status, w) = s.get(&format!("/v1/widgets/{id}"), ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{w}");
    w
}

async fn teams(s: &SlackApp) -> Value {
    let (status, t) = s.get("/v1/teams", ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    t
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A handoff on `support` under round-robin or lightest-load: the thread opens (root and
/// the two transcript lines) and the assignee alone gets a DM. Returns who was DM'd.
async fn routed_handoff(s: &SlackApp, conversation: &str) -> String {
    s.app.handoff(conversation, "support").await;
    let calls = s
        .expect(&[
            "chat.postMessage",
            "chat.postMessage",
            "chat.postMessage",
            "chat.getPermalink",
            "conversations.open",
            "chat.postMessage",
        ])
        .await;
    assert!(calls[0].args["thread_ts"].is_null(), "the root first: {:#?}", calls[0]);
    let opened = &calls[4];
    let user = match &opened.args["users"] {
        Value::Array(users) => users.iter().filter_map(|u| u.as_str()).collect::<Vec<_>>().join(","),
        other => other.as_str().unwrap_or_default().to_owned(),
    };
    let dm = s.slack.dm_channel(&user).expect("a DM channel was opened");
    assert_eq!(calls[5].args["channel"], dm.as_str(), "the DM goes to the assignee");
    let assignee = s.conversation(conversation).await["assignee"]["id"].clone();
    let linked = s.get(&format!("/v1/operators/{assignee}"), ADMIN_TOKEN).await.1["slack_user_id"].clone();
    assert_eq!(linked, user.as_str(), "the DM went to {conversation}'s assignee");
    user
}

/// The status line of a thread root's blocks (after `*Status:* `).
fn status_of(blocks: &Value) -> String {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["text"]["text"].as_str())
        .find_map(|t| t.lines().find_map(|l| l.strip_prefix("*Status:* ")))
        .unwrap_or_else(|| panic!("no status line in {blocks}"))
        .to_owned()
}

/// The text of a Slack call's message.
fn text_of(call: &SlackCall) -> String {
    call.args["text"].as_str().unwrap_or_default().to_owned()
}

/// A `/handoff` request exactly as Slack would send it, form-encoded.
fn command_body(s: &SlackApp, user: &str, text: &str) -> String {
    let fields = s.sender.command_fields(user, CHANNEL, text);
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        form.append_pair(k, v);
    }
    form.finish()
}

on_both_databases! {
    async fn help_and_an_empty_command_show_the_usage(db) {
        let s = SlackApp::spawn(&db).await;
        for text in ["help", "", "   "] {
            let answer = say(&s, ADA, text).await;
            assert!(!answer.starts_with("⚠️"), "help is not an error: {answer}");
            for line in [
                "`/handoff available`",
                "`/handoff away`",
                "`/handoff status`",
                "`/handoff inbox [mine|unassigned|all]`",
                USAGE_LINE,
                "`/handoff reply <conversation> <text>`",
                "`/handoff team create|delete <name>`",
                "`/handoff team list`",
                "`/handoff routing <widget> [manual|round-robin|lightest-load]`",
                "`/handoff routing <widget> eligible <@user…|all>`",
                "`/handoff widgets`",
                "`/handoff connect <widget>`",
                "need the manager role",
            ] {
                assert!(answer.contains(line), "`/handoff {text}` shows {line}: {answer}");
            }
        }
        // Asking for help changes nothing on Slack.
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn wrong_commands_say_what_is_wrong_show_the_usage_and_change_nothing(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        assert_eq!(say(&s, MAX, "team create billing").await, "Team *billing* created.");

        let cases = [
            ("dance", "`dance` is not a /handoff command"),
            ("inbox sideways", "`sideways` is not mine, unassigned or all"),
            ("routing support fastest", "`fastest` is not one of"),
            ("team add billing ada", "`ada` is not a @mention of a user"),
            ("team remove billing <@U0BO> bo", "`bo` is not a @mention of a user"),
            ("routing support eligible ada", "`ada` is not a @mention of a user"),
            ("claim", "which conversation?"),
            ("reply c1", "`/handoff reply <conversation> <text>`"),
            ("connect", "`/handoff connect <widget>`"),
            ("team", "`team list`"),
            ("routing", "`/handoff routing <widget>"),
        ];
        for (text, what) in cases {
            // As a manager, so that nothing is refused for want of a role.
            let answer = say(&s, MAX, text).await;
            assert_usage_after(&answer, what);
        }
        // `routing support fastest` names the modes there are.
        let answer = say(&s, MAX, "routing support fastest").await;
        assert!(answer.contains("round-robin") && answer.contains("lightest-load"), "{answer}");

        // Nothing changed: no Slack calls, the routing, the team and the conversation as they were.
        s.expect(&[]).await;
        let w = widget(&s, "support").await;
        assert_eq!(w["routing"], "manual");
        assert_eq!(w["eligible"], json!([]));
        assert_eq!(w["slack_channel"], CHANNEL);
        let t = teams(&s).await;
        assert_eq!(t.as_array().unwrap().len(), 1);
        assert_eq!(t[0]["members"], json!([]));
        let c = s.conversation("c1").await;
        assert_eq!(c["assignee"], Value::Null);
        assert_eq!(c["status"], "handed_off");
        assert!(s.app.widget.calls().iter().all(|c| c.kind.as_deref() != Some("messages")));
        assert!(!s.root("c1").await.edited, "the root {root} was not touched");
        s.finish().await;
    }

    async fn available_and_away_set_presence_and_round_robin_skips_the_away(db) {
        let s = SlackApp::spawn(&db).await;
        assert_eq!(operator_by_id(&s, ADA).await["presence"], "available");

        let answer = say(&s, ADA, "away").await;
        assert!(answer.contains("*away*") && answer.contains("routing skips you"), "{answer}");
        assert_eq!(operator_by_id(&s, ADA).await["presence"], "away");
        // Presence is the operator's own: Bo's and Max's did not move.
        assert_eq!(operator_by_id(&s, BO).await["presence"], "available");
        assert_eq!(operator_by_id(&s, MAX).await["presence"], "available");
        s.expect(&[]).await;
        // Away, she can still claim by hand.
        s.handoff("c0").await;
        assert_eq!(say(&s, ADA, "claim c0").await, "`c0` is yours.");
        s.expect(&["chat.update"]).await;
        assert_eq!(s.conversation("c0").await["assignee"]["name"], "Ada");

        // Round-robin goes Bo, Max, Bo: never Ada, who is away.
        s.app.set_routing("support", "round-robin", None).await;
        let mut got = Vec::new();
        for c in ["c1", "c2", "c3"] {
            got.push(routed_handoff(&s, c).await);
        }
        assert_eq!(got, [BO, MAX, BO]);
        // Routed to Bo, c3 waits for him to accept; `claim` is his Accept.
        assert_eq!(status_of(&s.root("c3").await.blocks), "Assigned to <@U0BO> (waiting for them to accept)");
        assert_eq!(say(&s, BO, "claim c3").await, "`c3` is yours.");
        s.expect(&["chat.update"]).await;
        assert_eq!(status_of(&s.root("c3").await.blocks), "Assigned to <@U0BO>");
        assert_eq!(s.conversation("c3").await["status"], "active");

        let answer = say(&s, ADA, "available").await;
        assert!(answer.contains("*available*"), "{answer}");
        assert_eq!(operator_by_id(&s, ADA).await["presence"], "available");
        s.expect(&[]).await;
        // Back in the rotation: after Bo comes Max, then Ada.
        assert_eq!(routed_handoff(&s, "c4").await, MAX);
        assert_eq!(routed_handoff(&s, "c5").await, ADA);
        s.finish().await;
    }

    async fn status_shows_presence_role_and_open_chats(db) {
        let s = SlackApp::spawn(&db).await;
        assert_eq!(
            say(&s, ADA, "status").await,
            "You are *available*, role *agent*, with 0 open conversation(s)."
        );
        s.handoff("c1").await;
        s.handoff("c2").await;
        say(&s, ADA, "claim c1").await;
        say(&s, ADA, "claim c2").await;
        s.expect(&["chat.update", "chat.update"]).await;
        // One of them is resolved: it is no longer open.
        let id = operator_of(&s, ADA).await["id"].as_i64().unwrap();
        let (st, r) = s.post("/v1/conversations/c2/resolve", ADMIN_TOKEN, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        s.expect(&["chat.update"]).await;
        let (st, _) = s.call(Method::PATCH, &format!("/v1/operators/{id}"), ADMIN_TOKEN, Some(json!({"capacity": 3}))).await;
        assert_eq!(st, StatusCode::OK);
        say(&s, ADA, "away").await;

        let answer = say(&s, ADA, "status").await;
        assert!(
            answer.starts_with("You are *away*, role *agent*, with 1 open conversation(s) (capacity 3)."),
            "{answer}"
        );
        assert_eq!(listed(&answer), ["c1"]);
        assert_eq!(
            say(&s, MAX, "status").await,
            "You are *available*, role *manager*, with 0 open conversation(s)."
        );
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn inbox_lists_unassigned_mine_and_all(db) {
        let s = SlackApp::spawn(&db).await;
        let empty = say(&s, ADA, "inbox").await;
        assert!(empty.starts_with("No ") && listed(&empty).is_empty(), "{empty}");
        for c in ["c1", "c2", "c3", "c4"] {
            s.handoff(c).await;
        }
        say(&s, ADA, "claim c1").await;
        say(&s, BO, "claim c2").await;
        s.expect(&["chat.update", "chat.update"]).await;
        let (st, _) = s.post("/v1/conversations/c4/resolve", ADMIN_TOKEN, json!({})).await;
        assert_eq!(st, StatusCode::OK);
        s.expect(&["chat.update"]).await;

        // The default is the unassigned ones (open and nobody's).
        for text in ["inbox", "inbox unassigned"] {
            let answer = say(&s, ADA, text).await;
            assert!(answer.starts_with("*unassigned conversations*"), "{answer}");
            assert_eq!(listed(&answer), ["c3"], "/handoff {text}: {answer}");
            let line = line_of(&answer, "c3");
            assert!(line.contains("Wants a refund for order 1234") && line.contains("(handed_off, unassigned)"), "{line}");
        }
        let mine = say(&s, ADA, "inbox mine").await;
        assert_eq!(listed(&mine), ["c1"], "{mine}");
        assert!(line_of(&mine, "c1").contains("(active, Ada)"), "{mine}");
        let mine = say(&s, BO, "inbox mine").await;
        assert_eq!(listed(&mine), ["c2"], "{mine}");
        let nothing = say(&s, MAX, "inbox mine").await;
        assert!(nothing.contains("no open conversations") && listed(&nothing).is_empty(), "{nothing}");

        let all = say(&s, MAX, "inbox all").await;
        let mut ids = listed(&all);
        ids.sort();
        assert_eq!(ids, ["c1", "c2", "c3", "c4"], "{all}");
        assert!(line_of(&all, "c1").contains("(active, Ada)"), "{all}");
        assert!(line_of(&all, "c2").contains("(active, Bo)"), "{all}");
        assert!(line_of(&all, "c3").contains("(handed_off, unassigned)"), "{all}");
        assert!(line_of(&all, "c4").contains("(resolved, unassigned)"), "{all}");
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn claim_makes_it_theirs_rerenders_the_root_and_tells_a_second_claimer_who_has_it(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        assert_eq!(
            s.buttons("c1").await.iter().map(|b| b.1.as_str()).collect::<Vec<_>>(),
            ["Accept", "Reject", "Transfer"]
        );

        assert_eq!(say(&s, ADA, "claim c1").await, "`c1` is yours.");
        let c = s.conversation("c1").await;
        assert_eq!(c["assignee"]["name"], "Ada");
        assert_eq!(c["status"], "active");
        assert_eq!(c["audit"].as_array().unwrap().last().unwrap()["reason"], "claim");
        // The root is updated in place, and nobody is DM'd (she took it herself).
        let calls = s.expect(&["chat.update"]).await;
        assert_eq!(calls[0].args["ts"], root.as_str());
        assert_eq!(calls[0].args["channel"], CHANNEL);
        let shown = s.root("c1").await;
        assert_eq!(status_of(&shown.blocks), "Assigned to <@U0ADA>");
        assert_eq!(labels(&shown.blocks), ["Transfer", "Unassign", "Resolve", "Hand back to bot"]);
        s.app.widget.wait_for(DEADLINE, "the assignment at the widget platform", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("assignment") && c.body["assignee"]["name"] == "Ada" && c.status == 200)
        }).await;

        // Claiming it again is harmless.
        assert_eq!(say(&s, ADA, "claim c1").await, "`c1` is yours.");
        // Bo is told, privately, who has it.
        assert_eq!(say(&s, BO, "claim c1").await, "⚠️ *Ada* already has this conversation.");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");
        // A conversation that does not exist.
        let answer = say(&s, BO, "claim nope").await;
        assert!(answer.starts_with("⚠️") && answer.contains("no conversation `nope`"), "{answer}");
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn reply_reaches_the_visitor_is_mirrored_in_the_thread_and_a_note_stays_internal(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        // Unassigned: Ada's reply claims it and goes to the visitor.
        assert_eq!(say(&s, ADA, "reply c1 Hi there,  I can help with the refund").await, "Sent to the visitor of `c1`.");
        let calls = s.app.widget.wait_for(DEADLINE, "the reply at the widget platform", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("messages") && c.status == 200)
        }).await;
        let sent = calls.iter().find(|c| c.kind.as_deref() == Some("messages")).unwrap();
        assert_eq!(sent.conversation.as_deref(), Some("c1"));
        assert_eq!(sent.body["text"], "Hi there,  I can help with the refund");
        assert_eq!(sent.body["operator"]["name"], "Ada");
        let c = s.conversation("c1").await;
        assert_eq!(c["assignee"]["name"], "Ada");
        assert_eq!(c["status"], "active");
        // Slack: the root shows her, the reply appears in the thread, and gets its ✅.
        let calls = s.expect(&["chat.update", "chat.postMessage", "reactions.add"]).await;
        assert_eq!(calls[0].args["ts"], root.as_str());
        assert_eq!(calls[1].args["channel"], CHANNEL);
        assert_eq!(calls[1].args["thread_ts"], root.as_str());
        assert_eq!(text_of(&calls[1]), "*Ada (to the visitor):* Hi there,  I can help with the refund");
        let mirrored = calls[1].response["ts"].as_str().unwrap().to_owned();
        assert_eq!(calls[2].args["timestamp"], mirrored.as_str());
        assert_eq!(calls[2].args["name"], "white_check_mark");
        assert_eq!(status_of(&s.root("c1").await.blocks), "Assigned to <@U0ADA>");

        // Bo does not own it: not sent, and he is told who does.
        assert_eq!(say(&s, BO, "reply c1 me too").await, "⚠️ *Ada* already has this conversation.");
        s.expect(&[]).await;

        // An internal note: shown in the thread for the team, never sent to the visitor.
        assert_eq!(say(&s, BO, "reply c1 // she is a VIP").await, "Kept as an internal note.");
        let calls = s.expect(&["chat.postMessage"]).await;
        assert_eq!(calls[0].args["thread_ts"], root.as_str());
        assert_eq!(text_of(&calls[0]), "*Internal note by Bo:* // she is a VIP");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada", "a note claims nothing");

        // The owner's next reply: sent and mirrored; the root has nothing new to show.
        assert_eq!(say(&s, ADA, "reply c1 Done!").await, "Sent to the visitor of `c1`.");
        let calls = s.app.widget.wait_for(DEADLINE, "the second reply", |calls| {
            calls.iter().filter(|c| c.kind.as_deref() == Some("messages") && c.status == 200).count() >= 2
        }).await;
        let texts: Vec<&str> = calls.iter().filter(|c| c.kind.as_deref() == Some("messages")).filter_map(|c| c.body["text"].as_str()).collect();
        assert_eq!(texts, ["Hi there,  I can help with the refund", "Done!"], "neither Bo's reply nor the note");
        let calls = s.expect(&["chat.postMessage", "reactions.add"]).await;
        assert_eq!(text_of(&calls[0]), "*Ada (to the visitor):* Done!");
        assert_eq!(calls[0].args["thread_ts"], root.as_str());

        let thread: Vec<String> = s.slack.replies(CHANNEL, &root).into_iter().map(|m| m.text).collect();
        assert_eq!(thread.len(), 5, "{thread:#?}");
        assert!(thread[2..].iter().all(|t| !t.contains("me too")), "{thread:#?}");
        s.finish().await;
    }

    async fn teams_are_managed_by_managers_with_mentions(db) {
        let s = SlackApp::spawn(&db).await;
        assert_eq!(say(&s, MAX, "team list").await, "No teams yet: `/handoff team create <name>`.");
        assert_eq!(say(&s, MAX, "team create billing").await, "Team *billing* created.");
        assert_eq!(say(&s, MAX, "team add billing <@U0BO|bo> <@U0ADA>").await, "Team *billing*: Ada, Bo");
        let t = teams(&s).await;
        assert_eq!(t[0]["name"], "billing");
        assert_eq!(names(&t[0]["members"]), ["Ada", "Bo"]);
        assert_eq!(say(&s, MAX, "team create vip").await, "Team *vip* created.");
        // Anyone may look.
        assert_eq!(say(&s, ADA, "team list").await, "• *billing*: Ada, Bo\n• *vip*: no members");

        // An agent may not create, staff or delete teams; the answer names the role.
        for text in ["team create sales", "team add billing <@U0ADA>", "team remove billing <@U0BO>", "team delete billing"] {
            assert_refused_naming(&say(&s, ADA, text).await, "manager");
        }
        let t = teams(&s).await;
        assert_eq!(t.as_array().unwrap().len(), 2);
        assert_eq!(names(&t[0]["members"]), ["Ada", "Bo"]);

        assert_eq!(say(&s, MAX, "team remove billing <@U0ADA|ada>").await, "Team *billing*: Bo");
        assert_eq!(names(&teams(&s).await[0]["members"]), ["Bo"]);
        // A duplicate, an unknown team, and someone who is not in it.
        let answer = say(&s, MAX, "team create billing").await;
        assert!(answer.starts_with("⚠️") && answer.contains("already exists"), "{answer}");
        let answer = say(&s, MAX, "team add nope <@U0BO>").await;
        assert!(answer.starts_with("⚠️") && answer.contains("no team named `nope`"), "{answer}");
        let answer = say(&s, MAX, "team remove billing <@U0ADA>").await;
        assert!(answer.starts_with("⚠️") && answer.contains("not in team"), "{answer}");

        assert_eq!(say(&s, MAX, "team delete vip").await, "Team *vip* deleted.");
        assert_eq!(say(&s, BO, "team list").await, "• *billing*: Bo");
        assert_eq!(teams(&s).await.as_array().unwrap().len(), 1);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn routing_is_shown_to_anyone_and_set_by_managers(db) {
        let s = SlackApp::spawn(&db).await;
        let shown = say(&s, ADA, "routing support").await;
        assert_eq!(shown, "• *support*: manual routing, eligible: everyone, threads in <#C0SUPPORT>");

        // An agent may not change it; the answer names the role.
        assert_refused_naming(&say(&s, ADA, "routing support round-robin").await, "manager");
        assert_refused_naming(&say(&s, BO, "routing support eligible <@U0BO>").await, "manager");
        assert_refused_naming(&say(&s, BO, "routing support eligible all").await, "manager");
        let w = widget(&s, "support").await;
        assert_eq!((w["routing"].as_str(), w["eligible"].clone()), (Some("manual"), json!([])));

        assert_eq!(say(&s, MAX, "routing support round-robin").await, "Routing of *support* is now *round-robin*.");
        assert_eq!(widget(&s, "support").await["routing"], "round-robin");
        assert_eq!(say(&s, MAX, "routing support lightest-load").await, "Routing of *support* is now *lightest-load*.");
        assert_eq!(say(&s, MAX, "routing support round-robin").await, "Routing of *support* is now *round-robin*.");

        // Only Ada and Bo may take its conversations (both mention forms).
        let answer = say(&s, MAX, "routing support eligible <@U0ADA|ada> <@U0BO>").await;
        assert_eq!(answer, "• *support*: round-robin routing, eligible: Ada, Bo, threads in <#C0SUPPORT>");
        assert_eq!(names(&widget(&s, "support").await["eligible"]), ["Ada", "Bo"]);
        s.expect(&[]).await;
        let mut got = Vec::new();
        for c in ["c1", "c2", "c3"] {
            got.push(routed_handoff(&s, c).await);
        }
        assert_eq!(got, [ADA, BO, ADA], "Max is not eligible");

        let answer = say(&s, MAX, "routing support eligible all").await;
        assert_eq!(answer, "• *support*: round-robin routing, eligible: everyone, threads in <#C0SUPPORT>");
        assert_eq!(widget(&s, "support").await["eligible"], json!([]));
        // After Ada comes Bo, then Max, who is eligible again.
        assert_eq!(routed_handoff(&s, "c4").await, BO);
        assert_eq!(routed_handoff(&s, "c5").await, MAX);

        let answer = say(&s, MAX, "routing nope").await;
        assert!(answer.starts_with("⚠️") && answer.contains("no widget `nope`"), "{answer}");
        let answer = say(&s, MAX, "routing nope manual").await;
        assert!(answer.starts_with("⚠️") && answer.contains("no widget `nope`"), "{answer}");
        s.expect(&[]).await;

        // Only the eligible pick up its conversations by hand.
        say(&s, MAX, "routing support manual").await;
        say(&s, MAX, "routing support eligible <@U0ADA>").await;
        s.handoff("c6").await;
        for text in ["claim c6", "reply c6 Hello from Bo"] {
            let answer = say(&s, BO, text).await;
            assert!(answer.starts_with("⚠️") && answer.contains("only operators eligible for this widget"), "{answer}");
        }
        assert_eq!(s.conversation("c6").await["assignee"], Value::Null);
        s.expect(&[]).await;
        assert_eq!(say(&s, ADA, "claim c6").await, "`c6` is yours.");
        s.expect(&["chat.update"]).await;
        s.finish().await;
    }

    async fn widgets_lists_every_widget_with_its_routing_and_channel(db) {
        let s = SlackApp::spawn(&db).await;
        assert_eq!(
            say(&s, ADA, "widgets").await,
            "• *support*: manual routing, eligible: everyone, threads in <#C0SUPPORT>"
        );
        s.slack.add_channel(NEW_CHANNEL, "new", true);
        assert!(say_in(&s, MAX, NEW_CHANNEL, "connect sales").await.contains("*sales*"));
        say(&s, MAX, "routing sales lightest-load").await;
        say(&s, MAX, "routing support eligible <@U0MAX>").await;
        let answer = say(&s, BO, "widgets").await;
        let mut lines: Vec<&str> = answer.lines().collect();
        lines.sort();
        assert_eq!(lines, [
            "• *sales*: lightest-load routing, eligible: everyone, threads in <#C0NEW>",
            "• *support*: manual routing, eligible: Max, threads in <#C0SUPPORT>",
        ]);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn connect_makes_this_channel_the_widgets_channel(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.add_channel(NEW_CHANNEL, "new", true);

        // An agent may not; the answer names the role, and nothing moves.
        assert_refused_naming(&say_in(&s, ADA, NEW_CHANNEL, "connect support").await, "manager");
        assert_refused_naming(&say_in(&s, ADA, NEW_CHANNEL, "connect sales").await, "manager");
        assert_eq!(widget(&s, "support").await["slack_channel"], CHANNEL);
        let (st, _) = s.get("/v1/widgets/sales", ADMIN_TOKEN).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "an agent's connect created nothing");

        assert_eq!(
            say_in(&s, MAX, NEW_CHANNEL, "connect support").await,
            "This channel is now the Slack channel of *support*: its handoffs open threads here."
        );
        assert_eq!(widget(&s, "support").await["slack_channel"], NEW_CHANNEL);
        s.expect(&[]).await;

        // The next handoff opens its thread in the new channel, not in #support.
        s.app.handoff("c1", "support").await;
        let calls = s.expect(&["chat.postMessage", "chat.postMessage", "chat.postMessage"]).await;
        assert!(calls.iter().all(|c| c.args["channel"] == NEW_CHANNEL), "{calls:#?}");
        let root = calls[0].response["ts"].as_str().unwrap();
        assert!(calls[1..].iter().all(|c| c.args["thread_ts"] == root));
        let shown = s.slack.message_json(NEW_CHANNEL, root).expect("the root is in #new");
        assert!(all_text(&shown).contains("Ada needs a human"), "{shown}");
        assert_eq!(s.slack.replies(NEW_CHANNEL, root).len(), 2);
        assert!(s.slack.messages(CHANNEL).is_empty(), "nothing in #support");

        // A widget that did not exist yet is created, with the defaults, in this channel.
        s.slack.add_channel("C0SALES", "sales", true);
        assert_eq!(
            say_in(&s, MAX, "C0SALES", "connect sales").await,
            "This channel is now the Slack channel of *sales*: its handoffs open threads here."
        );
        let w = widget(&s, "sales").await;
        assert_eq!(w["routing"], "manual");
        assert_eq!(w["slack_channel"], "C0SALES");
        assert_eq!(w["eligible"], json!([]));
        s.expect(&[]).await;
        s.app.handoff("s1", "sales").await;
        let calls = s.expect(&["chat.postMessage", "chat.postMessage", "chat.postMessage"]).await;
        assert!(calls.iter().all(|c| c.args["channel"] == "C0SALES"), "{calls:#?}");
        s.finish().await;
    }

    async fn a_slack_user_seen_for_the_first_time_becomes_an_operator(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.add_user("U0CY", "cy", "Cy Young", false, false);
        s.slack.add_user("U0GRACE", "grace", "Grace Hopper", true, false);
        s.slack.add_user("U0OWEN", "owen", "Owen Wilson", false, true);
        let before = s.get("/v1/operators", ADMIN_TOKEN).await.1.as_array().unwrap().len();

        // An ordinary member: an agent, available, named as Slack shows them.
        assert_eq!(say(&s, "U0CY", "status").await, "You are *available*, role *agent*, with 0 open conversation(s).");
        // The bridge's own workspace is learned once (`auth.test`), to tell members apart.
        let calls = s.expect(&["auth.test", "users.info"]).await;
        assert_eq!(calls[1].args["user"], "U0CY");
        let cy = operator_of(&s, "U0CY").await;
        assert_eq!((cy["name"].as_str(), cy["role"].as_str(), cy["presence"].as_str()), (Some("cy"), Some("agent"), Some("available")));

        // Known now: no second look-up.
        say(&s, "U0CY", "away").await;
        s.expect(&[]).await;
        assert_eq!(operator_of(&s, "U0CY").await["presence"], "away");

        // A workspace admin and a workspace owner are admins.
        assert!(say(&s, "U0GRACE", "status").await.contains("role *admin*"));
        let calls = s.expect(&["users.info"]).await;
        assert_eq!(calls[0].args["user"], "U0GRACE");
        assert!(say(&s, "U0OWEN", "team create owners").await.contains("created"), "an admin manages teams");
        let calls = s.expect(&["users.info"]).await;
        assert_eq!(calls[0].args["user"], "U0OWEN");
        assert_eq!(operator_of(&s, "U0GRACE").await["role"], "admin");
        assert_eq!(operator_of(&s, "U0OWEN").await["role"], "admin");
        assert_eq!(s.get("/v1/operators", ADMIN_TOKEN).await.1.as_array().unwrap().len(), before + 3);

        // A mention of someone never seen makes them an operator too.
        s.slack.add_user("U0DEE", "dee", "Dee Dee", false, false);
        assert_eq!(say(&s, MAX, "team add owners <@U0DEE|dee>").await, "Team *owners*: dee");
        let calls = s.expect(&["users.info"]).await;
        assert_eq!(calls[0].args["user"], "U0DEE");
        assert_eq!(operator_of(&s, "U0DEE").await["role"], "agent");
        s.finish().await;
    }

    async fn a_badly_signed_command_is_refused_and_changes_nothing(db) {
        let s = SlackApp::spawn(&db).await;
        s.slack.add_user("U0CY", "cy", "Cy Young", false, false);
        let body = command_body(&s, ADA, "away");
        for (timestamp, secret) in [
            (unix_now(), "not-the-signing-secret"),
            (unix_now() - 600, SLACK_SECRET),
        ] {
            let res = s.sender.send_raw("/slack/commands", "application/x-www-form-urlencoded", body.clone(), timestamp, secret).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        // No signature at all.
        let res = s.http.post(s.url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(operator_by_id(&s, ADA).await["presence"], "available");

        // Nor does a stranger's badly signed command create them.
        let body = command_body(&s, "U0CY", "status");
        let res = s.sender.send_raw("/slack/commands", "application/x-www-form-urlencoded", body, unix_now(), "wrong").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let all = s.get("/v1/operators", ADMIN_TOKEN).await.1;
        assert!(all.as_array().unwrap().iter().all(|o| o["slack_user_id"] != "U0CY"), "{all}");
        s.expect(&[]).await;

        // The same command, signed well, works.
        let body = command_body(&s, ADA, "away");
        let res = s.sender.send_raw("/slack/commands", "application/x-www-form-urlencoded", body, unix_now(), SLACK_SECRET).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(operator_by_id(&s, ADA).await["presence"], "away");
        s.expect(&[]).await;
        s.finish().await;
    }
}

on_both_databases! {
    async fn a_managers_claim_of_someone_elses_conversation_takes_it_over(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        assert_eq!(say(&s, ADA, "claim c1").await, "`c1` is yours.");
        s.expect(&["chat.update"]).await;

        // `docs/behaviour.md#transitions`: Accept (button, or `/handoff claim`) on a chat
        // owned by someone else is allowed to managers, as a takeover (the default
        // `takeover = managers`).
        assert_eq!(say(&s, MAX, "claim c1").await, "You took `c1` over.");
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Max");
        s.expect(&["chat.update"]).await;
        assert_eq!(status_of(&s.root("c1").await.blocks), "Assigned to <@U0MAX>");
        // An agent still may not.
        assert_eq!(say(&s, BO, "claim c1").await, "⚠️ *Max* already has this conversation.");
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn a_managers_reply_to_someone_elses_conversation_offers_take_over_and_send(db) {
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        assert_eq!(say(&s, ADA, "claim c1").await, "`c1` is yours.");
        s.expect(&["chat.update"]).await;

        // `docs/behaviour.md#replies-and-notes`: a reply by someone else on an owned chat
        // is not sent; the replier is told privately, with a "Take over & send" button if
        // their role allows takeover.
        let res = s.sender.command(MAX, CHANNEL, "reply c1 Max here, I'll take it").await;
        assert_eq!(res.status(), StatusCode::OK);
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(answer["text"].as_str().unwrap().contains("Ada"), "{answer}");
        assert!(labels(&answer["blocks"]).iter().any(|l| l == "Take over & send"), "no takeover offered: {answer}");
        assert!(s.app.widget.calls().iter().all(|c| c.kind.as_deref() != Some("messages")), "not sent");
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn a_reply_sent_before_its_thread_copy_is_posted_still_gets_its_receipt(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        // Slack is slow to post the reply's copy into the thread; the widget platform is not.
        s.slack.delay_next("chat.postMessage", 1, Duration::from_secs(1));
        assert_eq!(say(&s, ADA, "reply c1 Hi, I can help").await, "Sent to the visitor of `c1`.");
        s.app.widget.wait_for(DEADLINE, "the reply at the widget platform", |calls| {
            calls.iter().any(|c| c.kind.as_deref() == Some("messages") && c.status == 200)
        }).await;
        eventually("the reply marked delivered", || async {
            let c = s.conversation("c1").await;
            let line = c["transcript"].as_array().unwrap().iter().find(|l| l["author"] == "operator").cloned()?;
            (line["delivery"] == "delivered").then_some(())
        }).await;

        // The visitor got it, so the copy in the thread must get its ✅
        // (`docs/behaviour.md#replies-and-notes`).
        let calls = s.expect(&["chat.update", "chat.postMessage", "reactions.add"]).await;
        assert_eq!(calls[1].args["thread_ts"], root.as_str());
        assert_eq!(calls[2].args["name"], "white_check_mark");
        assert_eq!(calls[2].args["timestamp"], calls[1].response["ts"]);
        s.finish().await;
    }

    async fn a_team_with_a_space_in_its_name_can_be_staffed(db) {
        let s = SlackApp::spawn(&db).await;
        assert_eq!(say(&s, MAX, "team create first line").await, "Team *first line* created.");
        assert_eq!(teams(&s).await[0]["name"], "first line");
        assert_eq!(say(&s, MAX, "team add first line <@U0BO|bo>").await, "Team *first line*: Bo");
        assert_eq!(names(&teams(&s).await[0]["members"]), ["Bo"]);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn a_widget_without_a_channel_is_not_said_to_use_a_default_channel_that_does_not_exist(db) {
        let s = SlackApp::spawn(&db).await;
        // A handoff on a widget nobody connected: no Slack channel, and no default one.
        s.app.handoff("s1", "sales").await;
        s.expect(&[]).await;
        assert_eq!(widget(&s, "sales").await["slack_channel"], Value::Null);
        let dead = s.count("select count(*) from outbox where target = 'slack' and status = 'dead'").await;
        assert_eq!(dead, 1, "its thread could not be opened anywhere");

        let answer = say(&s, MAX, "routing sales").await;
        assert!(!answer.contains("default channel"), "there is no default channel: {answer}");
        let answer = say(&s, MAX, "widgets").await;
        let line = answer.lines().find(|l| l.contains("*sales*")).unwrap_or_else(|| panic!("{answer}"));
        assert!(!line.contains("default channel"), "there is no default channel: {line}");
        s.finish().await;
    }
}
