//! Timers (`docs/behaviour.md#timers`): a conversation routing gives someone who does
//! not accept it within the widget's `accept_within` goes to the next operator; the one
//! who let it lapse is listed as timed out and never picked for it again; when nobody is
//! left it waits unassigned. A click racing the timer has one outcome, and a timer fires
//! once across restarts and instances. Durations are short and every wait is on a
//! condition.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn patch_widget(app: &TestApp, widget: &str, body: Value) -> (StatusCode, Value) {
    app.call(Method::PATCH, &format!("/v1/widgets/{widget}"), ADMIN_TOKEN, Some(body))
        .await
}

/// A widget routing by `mode` whose conversations must be accepted within `within`.
async fn widget_with_timer(app: &TestApp, widget: &str, mode: &str, within: &str) {
    app.widget_with_routing(widget, mode).await;
    let (s, w) = patch_widget(app, widget, json!({"accept_within": within})).await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["accept_within"], within);
}

/// Waits until the conversation's assignee is `want` (a name, or `None` for unassigned)
/// and returns the conversation.
async fn until_assignee(app: &TestApp, conv: &str, want: Option<&str>) -> Value {
    eventually(&format!("{conv} to be assigned to {want:?}"), || async {
        let c = app.conversation(conv).await;
        (c["assignee"]["name"].as_str() == want).then_some(c)
    })
    .await
}

/// Waits until all `n` operators have let the conversation lapse and it waits
/// unassigned, and returns it. (Both, since a view reads the conversation and its lapses
/// one after the other, and a lapse may commit in between.)
async fn until_lapsed(app: &TestApp, conv: &str, n: usize) -> Value {
    eventually(&format!("{n} to let {conv} lapse"), || async {
        let c = app.conversation(conv).await;
        (c["timed_out"].as_array().unwrap().len() == n && c["assignee"].is_null()).then_some(c)
    })
    .await
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

/// The audit trail as `reason actor from→to` lines (operator ids).
fn trail(c: &Value) -> Vec<String> {
    c["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {}→{}",
                a["reason"].as_str().unwrap(),
                a["actor"].as_str().unwrap(),
                a["from_assignee"],
                a["to_assignee"]
            )
        })
        .collect()
}

on_both_databases! {
    async fn a_conversation_not_accepted_in_time_goes_to_the_next_operator_by_round_robin(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let _cy = app.operator("Cy", "agent").await;
        // Long enough for Bo to accept in his turn however loaded the machine is.
        widget_with_timer(&app, "rr", "round-robin", "2s").await;

        let c = app.handoff("c1", "rr").await;
        assert_eq!(c["assignee"]["name"], "Ada");
        let c = until_assignee(&app, "c1", Some("Bo")).await;
        assert_eq!(c["status"], "handed_off");
        assert_eq!(names(&c["timed_out"]), ["Ada"]);
        assert!(names(&c["declined_by"]).is_empty(), "a lapse is not a Reject: {c}");
        let t = trail(&c);
        let lapse = format!("timeout system {}→null", ada.id);
        let routed = format!("routed routing null→{}", bo.id);
        assert!(t.ends_with(&[lapse, routed]), "{t:?}");

        // Bo accepts in time: it is his, and nothing times out any more.
        let (s, r) = app.post("/v1/conversations/c1/claim", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(app.count("select count(*) from timers").await, 0, "an accepted conversation has no timer");
        let c = app.conversation("c1").await;
        assert_eq!((c["status"].as_str(), c["assignee"]["name"].as_str()), (Some("active"), Some("Bo")));
        assert_eq!(trail(&c).iter().filter(|l| l.starts_with("timeout")).count(), 1);

        // Counted: the lapse, and how long Bo's turn waited to be accepted.
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("handoff_timeouts_total{kind=\"accept\"}"), "{metrics}");
        assert!(metrics.contains("handoff_time_to_accept_seconds_bucket{le=\"1\"}"), "{metrics}");
    }

    async fn lightest_load_skips_the_one_who_let_it_lapse_though_she_is_the_least_loaded(db) {
        let app = TestApp::spawn(&db).await;
        let _ada = app.operator("Ada", "agent").await;
        let _bo = app.operator("Bo", "agent").await;
        widget_with_timer(&app, "ll", "lightest-load", "300ms").await;

        assert_eq!(app.handoff("c1", "ll").await["assignee"]["name"], "Ada");
        // Unassigned by the lapse, Ada has no open chat and was assigned before Bo ever
        // was: lightest-load would pick her, but she timed out on it.
        let c = until_assignee(&app, "c1", Some("Bo")).await;
        assert_eq!(names(&c["timed_out"]), ["Ada"]);

        // Another conversation is hers to take again.
        assert_eq!(app.handoff("c2", "ll").await["assignee"]["name"], "Ada");
    }

    async fn when_everyone_lets_it_lapse_it_waits_unassigned_and_is_not_routed_again(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let _bo = app.operator("Bo", "agent").await;
        widget_with_timer(&app, "rr", "round-robin", "200ms").await;

        app.handoff("c1", "rr").await;
        let c = until_lapsed(&app, "c1", 2).await;
        assert_eq!(c["assignee"], Value::Null);
        assert_eq!(c["status"], "handed_off");
        assert_eq!(names(&c["timed_out"]), ["Ada", "Bo"]);
        let t = trail(&c);
        assert!(t.last().unwrap().starts_with("unrouted routing"), "{t:?}");
        assert_eq!(app.count("select count(*) from timers").await, 0, "nobody left to wait for");

        // Anyone may still accept it by hand, Ada too.
        let (s, r) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["assignee"]["name"], "Ada");
    }

    async fn an_accept_racing_the_timer_has_exactly_one_outcome(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        // Due almost at once: the click and the timer race.
        widget_with_timer(&app, "rr", "round-robin", "1ms").await;
        let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
        for i in 0..12 {
            // Windows around the time a click takes, so either may come first.
            let within = ["1ms", "5ms", "20ms"][i % 3];
            let (s, w) = patch_widget(&app, "rr", json!({"accept_within": within})).await;
            assert_eq!(s, StatusCode::OK, "{w}");
            let conv = format!("race{i}");
            let c = app.handoff(&conv, "rr").await;
            let first = c["assignee"]["name"].as_str().map(str::to_owned);
            // The timer may have fired before the handoff's answer was read.
            let Some(first) = first else { continue };
            let (me, other) = if first == "Ada" { (&ada, &bo) } else { (&bo, &ada) };
            let (s, r) = app.post(&format!("/v1/conversations/{conv}/claim"), &me.token, json!({})).await;
            // Wait for the conversation to come to rest (the other may let it lapse too).
            let c = eventually("the conversation to rest", || async {
                let c = app.conversation(&conv).await;
                let resting = c["status"] == "active" || c["assignee"].is_null();
                (resting && app.count(&format!("select count(*) from timers where conversation_id = '{conv}'")).await == 0)
                    .then_some(c)
            })
            .await;
            let t = trail(&c);
            let accepted = t.iter().filter(|l| l.starts_with(&format!("accept operator {}→", me.id))).count();
            let lapsed = t.iter().filter(|l| **l == format!("timeout system {}→null", me.id)).count();
            assert!(lapsed <= 1, "a timer fires once: {t:?}");
            match s {
                StatusCode::OK if r["outcome"] == "claimed" && accepted == 1 => {
                    // The click won: no lapse was recorded for them.
                    assert_eq!(lapsed, 0, "{t:?}");
                    assert!(!names(&c["timed_out"]).contains(&me.name.as_str()), "{c}");
                    *outcomes.entry("accepted").or_default() += 1;
                }
                StatusCode::OK => {
                    // The timer won and nobody else took it: their click claimed it
                    // back from the queue, after the lapse.
                    assert_eq!((lapsed, accepted), (1, 0), "{t:?}");
                    *outcomes.entry("claimed after the lapse").or_default() += 1;
                }
                StatusCode::CONFLICT => {
                    // The timer won and routed it on: the click is told who has it.
                    assert_eq!((lapsed, accepted), (1, 0), "{t:?}");
                    assert_eq!(r["error"]["code"], "already_assigned", "{r}");
                    assert!(r["error"]["message"].as_str().unwrap().contains(&other.name), "{r}");
                    *outcomes.entry("timed out").or_default() += 1;
                }
                other => panic!("the click got {other}: {r}"),
            }
        }
        eprintln!("outcomes: {outcomes:?}");
        assert!(outcomes.values().sum::<usize>() > 0);
    }

    async fn a_timer_due_while_the_service_was_down_fires_once_after_the_restart(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let _bo = app.operator("Bo", "agent").await;
        widget_with_timer(&app, "rr", "round-robin", "1h").await;
        assert_eq!(app.handoff("c1", "rr").await["assignee"]["name"], "Ada");
        let stopped = app.stop().await;
        // The hour passes while the service is down.
        let pool = db.pool().await;
        sqlx::query("update timers set due_at = 0").execute(&pool).await.unwrap();
        let app = stopped.start(&db).await;

        let c = until_assignee(&app, "c1", Some("Bo")).await;
        assert_eq!(names(&c["timed_out"]), ["Ada"]);
        let t = trail(&c);
        assert_eq!(t.iter().filter(|l| l.starts_with("timeout")).count(), 1, "{t:?}");
        assert!(t.contains(&format!("timeout system {}→null", ada.id)), "{t:?}");
        // Bo has his hour now.
        assert_eq!(app.count("select count(*) from timers where due_at > 0").await, 1);
    }

    async fn malformed_or_out_of_range_timer_settings_are_refused_saying_why(db) {
        let app = TestApp::spawn(&db).await;
        app.widget_with_routing("w", "round-robin").await;
        for (body, says) in [
            (json!({"accept_within": "soon"}), "`accept_within`: `soon` is not a duration"),
            (json!({"accept_within": "25h"}), "`accept_within`: 25h is longer than the longest timer, 24h"),
            (json!({"reply_within": "0s"}), "`reply_within`: a timer must wait longer than 0 s"),
            (json!({"accept_within": 5}), "accept_within"),
        ] {
            let (s, r) = patch_widget(&app, "w", body.clone()).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r}");
            assert!(r["error"]["message"].as_str().unwrap().contains(says), "{body}: {r}");
        }
        let (_, w) = app.get("/v1/widgets/w", ADMIN_TOKEN).await;
        assert_eq!((w["accept_within"].clone(), w["reply_within"].clone()), (Value::Null, Value::Null), "nothing changed: {w}");

        let (s, w) = patch_widget(&app, "w", json!({"accept_within": "90s", "reply_within": "1h 30m"})).await;
        assert_eq!(s, StatusCode::OK, "{w}");
        assert_eq!((w["accept_within"].as_str(), w["reply_within"].as_str()), (Some("90s"), Some("90m")));
        let (s, w) = patch_widget(&app, "w", json!({"accept_within": "off", "reply_within": null})).await;
        assert_eq!(s, StatusCode::OK, "{w}");
        assert_eq!((w["accept_within"].clone(), w["reply_within"].clone()), (Value::Null, Value::Null));
    }
}

/// Two instances on one PostgreSQL: a timer that falls due fires once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(test_database_url), ignore = "PostgreSQL: set TEST_DATABASE_URL")]
async fn with_two_instances_a_timer_fires_once_in_all() {
    let db = Db::postgres().await;
    let a = TestApp::spawn(&db).await;
    let _ada = a.operator("Ada", "agent").await;
    let _bo = a.operator("Bo", "agent").await;
    let _cy = a.operator("Cy", "agent").await;
    widget_with_timer(&a, "rr", "round-robin", "1h").await;
    let b = TestApp::spawn(&db).await;
    for i in 0..10 {
        a.handoff(&format!("c{i}"), "rr").await;
    }
    // Every hour passes at once, with both instances looking.
    a.count("select count(*) from timers").await;
    sqlx::query("update timers set due_at = 0")
        .execute(&db.pool().await)
        .await
        .unwrap();
    eventually("every timer to fire", || async {
        (a.count("select count(*) from timers where due_at = 0").await == 0).then_some(())
    })
    .await;
    let lapses = b
        .count("select count(*) from assignment_events where reason = 'timeout'")
        .await;
    assert_eq!(lapses, 10, "each of the 10 timers fired once");
    for i in 0..10 {
        let c = b.conversation(&format!("c{i}")).await;
        assert_eq!(c["timed_out"].as_array().unwrap().len(), 1, "{c}");
    }
}

on_both_databases! {
    async fn on_slack_and_discord_the_lapses_show_on_the_root_and_one_notice_when_nobody_is_left(db) {
        use crate::both_platforms;
        use crate::discord_helpers::DiscordApp;
        use crate::slack_helpers;
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        s.set_routing("support", "round-robin", None).await;
        let (st, w) = patch_widget(&s.app, "support", json!({"accept_within": "200ms"})).await;
        assert_eq!(st, StatusCode::OK, "{w}");

        s.app.handoff("c1", "support").await;
        let c = until_lapsed(&s.app, "c1", 2).await;
        assert_eq!(c["assignee"], Value::Null);
        s.settle().await;

        // Slack: the root lists both, the thread has the notice once, and each of them
        // got one DM while it was theirs.
        let (ts, root) = both_platforms::slack_root(&b, "c1").await;
        assert!(root.contains("Timed out:* Ada, Bo"), "{root}");
        assert!(root.contains("Unassigned"), "{root}");
        let notices = b
            .slack
            .replies(slack_helpers::CHANNEL, &ts)
            .into_iter()
            .filter(|m| m.text.contains("Nobody accepted this conversation in time"))
            .count();
        assert_eq!(notices, 1);
        for user in [slack_helpers::ADA, slack_helpers::BO] {
            let dm = b.slack.dm_channel(user).expect("a DM to each assignee");
            assert_eq!(b.slack.messages(&dm).len(), 1, "one DM to {user}");
        }
        assert!(b.slack.dm_channel("U0EVE").is_none(), "nobody else is DM'd");

        // Discord: the same on the root's embed and in the thread.
        let root = DiscordApp::text(&s.root("c1").await);
        assert!(root.contains("Timed out") && root.contains("Ada, Bo"), "{root}");
        let thread = s.thread_of("c1").await;
        let notices = s
            .discord
            .messages(thread)
            .into_iter()
            .filter(|m| m.content.contains("Nobody accepted this conversation in time"))
            .count();
        assert_eq!(notices, 1);
        b.slack.take_calls();
        s.discord.take_calls();
    }
}

on_both_databases! {
    async fn managers_set_the_timers_with_handoff_routing_on_slack(db) {
        use crate::slack_commands::say;
        use crate::slack_helpers::{self, SlackApp};
        let s = SlackApp::spawn(&db).await;
        s.handoff("c1").await;
        let set = say(&s, slack_helpers::MAX, "routing support accept-within 5m").await;
        assert!(set.contains("within *5m*"), "{set}");
        let set = say(&s, slack_helpers::MAX, "routing support reply-within 1h 30m").await;
        assert!(set.contains("*90m*"), "{set}");
        let (_, w) = s.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!((w["accept_within"].as_str(), w["reply_within"].as_str()), (Some("5m"), Some("90m")), "{w}");
        let shown = say(&s, slack_helpers::MAX, "routing support").await;
        assert!(shown.contains("accept within 5m, reply within 90m"), "{shown}");
        // Malformed, out of range, or asked by an agent: refused, saying why; nothing changes.
        for (who, text, says) in [
            (slack_helpers::MAX, "routing support accept-within soon", "`soon` is not a duration"),
            (slack_helpers::MAX, "routing support accept-within 25h", "longer than the longest timer, 24h"),
            (slack_helpers::MAX, "routing support reply-within", "`/handoff routing support reply-within <duration|off>`"),
            (slack_helpers::ADA, "routing support accept-within off", "manager"),
        ] {
            let answer = say(&s, who, text).await;
            assert!(answer.contains(says), "{text}: {answer}");
        }
        let (_, w) = s.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!(w["accept_within"], "5m", "{w}");
        let off = say(&s, slack_helpers::MAX, "routing support accept-within off").await;
        assert!(off.contains("waits for its assignee to accept"), "{off}");
        let (_, w) = s.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!(w["accept_within"], Value::Null, "{w}");
        s.settle().await;
        s.slack.take_calls();
    }

    async fn managers_set_the_timers_with_handoff_manage_on_discord(db) {
        use crate::discord_helpers::{DiscordApp, MAX};
        let d = DiscordApp::spawn(&db).await;
        d.handoff("c1").await;
        let sub = |name: &str, options: Value| json!([{"name": name, "type": 1, "options": options}]);
        let word = |name: &str, value: &str| json!({"name": name, "type": 3, "value": value});
        let set = d.command(MAX, "handoff-manage", sub("accept-within", json!([word("widget", "support"), word("within", "2m")]))).await;
        assert!(set.contains("**2m**"), "{set}");
        let bad = d.command(MAX, "handoff-manage", sub("reply-within", json!([word("widget", "support"), word("within", "48h")]))).await;
        assert!(bad.contains("longer than the longest timer"), "{bad}");
        let set = d.command(MAX, "handoff-manage", sub("reply-within", json!([word("widget", "support"), word("within", "10m")]))).await;
        assert!(set.contains("**10m**"), "{set}");
        let (_, w) = d.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!((w["accept_within"].as_str(), w["reply_within"].as_str()), (Some("2m"), Some("10m")), "{w}");
        d.settle().await;
    }
}

/// A token of the seeded operator `name`, from the HTTP API.
async fn token_of(app: &TestApp, name: &str) -> (i64, String) {
    let (_, ops) = app.get("/v1/operators", ADMIN_TOKEN).await;
    let id = ops.as_array().unwrap().iter().find(|o| o["name"] == name).unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, t) = app
        .post(&format!("/v1/operators/{id}/tokens"), ADMIN_TOKEN, json!({}))
        .await;
    assert!(s.is_success(), "{t}");
    (id, t["token"].as_str().unwrap().to_owned())
}

async fn visitor_says(app: &TestApp, conv: &str, text: &str) {
    use handoff_bridge::standins::widget::WidgetClient;
    let res = app
        .client
        .send(&WidgetClient::message_event(conv, "visitor", text))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

on_both_databases! {
    async fn a_visitor_waiting_past_reply_within_nudges_the_assignee_once_then_tells_the_thread_once(db) {
        use crate::both_platforms;
        use crate::slack_helpers;
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        s.app.handoff("c1", "support").await;
        s.settle().await; // the threads are open
        let (_, ada) = token_of(&s.app, "Ada").await;
        let (st, r) = s.post("/v1/conversations/c1/claim", &ada, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        let (st, w) = patch_widget(&s.app, "support", json!({"reply_within": "300ms"})).await;
        assert_eq!(st, StatusCode::OK, "{w}");

        visitor_says(&s.app, "c1", "hello? anyone?").await;
        visitor_says(&s.app, "c1", "still here").await;
        let (ts, _) = both_platforms::slack_root(&b, "c1").await;
        let notice = "The visitor has waited over 600ms for a reply.";
        eventually("the thread to be told", || async {
            let told = b.slack.replies(slack_helpers::CHANNEL, &ts).iter().any(|m| m.text.contains(notice));
            (told && s.count("select count(*) from timers").await == 0).then_some(())
        })
        .await;
        s.settle().await;
        // Slack: one nudge to Ada (she claimed it herself, so no assignment DM before it),
        // one notice in the thread, though two messages waited.
        let dm = b.slack.dm_channel(slack_helpers::ADA).expect("Ada was nudged");
        let dms: Vec<String> = b.slack.messages(&dm).into_iter().map(|m| m.text).collect();
        assert_eq!(dms.len(), 1, "{dms:?}");
        assert!(dms[0].contains("has waited over 300ms for your reply"), "{dms:?}");
        assert!(b.slack.dm_channel(slack_helpers::BO).is_none(), "only the assignee is nudged");
        let notices = b.slack.replies(slack_helpers::CHANNEL, &ts).into_iter().filter(|m| m.text.contains(notice)).count();
        assert_eq!(notices, 1);
        // Discord: the same notice once in the thread.
        let thread = s.thread_of("c1").await;
        let notices = s.discord.messages(thread).into_iter().filter(|m| m.content.contains(notice)).count();
        assert_eq!(notices, 1);
        b.slack.take_calls();
        s.discord.take_calls();
    }

    async fn an_operator_reply_ends_the_wait_and_the_next_visitor_message_starts_a_new_one(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.widget_with_routing("w", "manual").await;
        app.handoff("c1", "w").await;
        let (s, r) = app.post("/v1/conversations/c1/claim", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = patch_widget(&app, "w", json!({"reply_within": "1h"})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let waiting = "select count(*) from timers where conversation_id = 'c1' and kind = 'reply'";

        visitor_says(&app, "c1", "hello?").await;
        assert_eq!(app.count(waiting).await, 1, "the visitor waits");
        let since: i64 = app.count("select created_at from timers where conversation_id = 'c1'").await;
        visitor_says(&app, "c1", "hello??").await;
        assert_eq!(app.count("select created_at from timers where conversation_id = 'c1'").await, since, "the wait runs from the first message");

        let (s, r) = app.post("/v1/conversations/c1/messages", &ada.token, json!({"text": "Hi! Looking now."})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(app.count("select count(*) from timers").await, 0, "a reply ends the wait");

        visitor_says(&app, "c1", "thanks, and one more thing").await;
        assert_eq!(app.count(waiting).await, 1, "a new wait");
        // The hour passes: the first stage fires once and arms the second.
        sqlx::query("update timers set due_at = due_at - 3600000, created_at = created_at - 3600000")
            .execute(&app.pool)
            .await
            .unwrap();
        eventually("the nudge stage to fire", || async {
            (app.count("select count(*) from timers where kind = 'reply_late'").await == 1).then_some(())
        })
        .await;
        assert_eq!(app.count("select count(*) from timers").await, 1);
        let due = app.count("select due_at - created_at from timers").await;
        assert_eq!(due, 2 * 3_600_000, "the thread is told at twice the wait");

        // Resolved: nobody owes a reply any more.
        let (s, r) = app.post("/v1/conversations/c1/resolve", &ada.token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(app.count("select count(*) from timers").await, 0);
    }
}

on_both_databases! {
    async fn the_roots_show_when_it_is_routed_on_as_a_time_until_it_is_accepted(db) {
        use crate::both_platforms;
        use crate::discord_helpers::DiscordApp;
        use crate::slack_helpers::{self, all_text};
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        s.set_routing("support", "round-robin", None).await;
        let (st, w) = patch_widget(&s.app, "support", json!({"accept_within": "1h"})).await;
        assert_eq!(st, StatusCode::OK, "{w}");
        let c = s.app.handoff("c1", "support").await;
        assert_eq!(c["assignee"]["name"], "Ada");
        let by = c["accept_by"].as_str().expect("a deadline in the API");
        let by = time::OffsetDateTime::parse(by, &time::format_description::well_known::Rfc3339).unwrap();
        let ahead = (by - time::OffsetDateTime::now_utc()).whole_minutes();
        assert!((58..=60).contains(&ahead), "{by}");
        s.settle().await;
        let secs = by.unix_timestamp();
        let (ts, root) = both_platforms::slack_root(&b, "c1").await;
        assert!(root.contains(&format!("Routed on at <!date^{secs}^{{time}}|")), "a time in each reader's zone: {root}");
        let root = DiscordApp::text(&s.root("c1").await);
        assert!(root.contains(&format!("Routed on at <t:{secs}:t> if not accepted")), "{root}");

        // Accepted: nothing waits, and the roots say so.
        let (_, ada) = token_of(&s.app, "Ada").await;
        let (st, r) = s.post("/v1/conversations/c1/claim", &ada, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        assert_eq!(r["conversation"]["accept_by"], Value::Null);
        s.settle().await;
        let root = all_text(&b.slack.message_json(slack_helpers::CHANNEL, &ts).unwrap());
        assert!(!root.contains("Routed on at"), "{root}");
        assert!(!DiscordApp::text(&s.root("c1").await).contains("Routed on at"));
        b.slack.take_calls();
        s.discord.take_calls();
    }
}

// One conversation that times out twice and is then accepted, with every call the
// Slack and Discord stand-ins received, in order (`--nocapture` prints them).
on_both_databases! {
    async fn a_conversation_that_times_out_twice_and_is_then_accepted_makes_these_platform_calls(db) {
        use crate::both_platforms;
        use crate::discord_helpers::{self, DiscordApp};
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        s.set_routing("support", "round-robin", None).await;
        s.settle().await;
        b.slack.take_calls();
        s.discord.take_calls();
        let (st, w) = patch_widget(&s.app, "support", json!({"accept_within": "300ms"})).await;
        assert_eq!(st, StatusCode::OK, "{w}");

        s.app.handoff("c1", "support").await;
        until_lapsed(&s.app, "c1", 2).await;
        s.settle().await;
        // Nobody is left: Ada takes it from the queue in Discord.
        let accept = s.click(discord_helpers::ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.settle().await;

        let slack: Vec<String> = b
            .slack
            .take_calls()
            .into_iter()
            .map(|c| {
                let text = c.args["text"].as_str().unwrap_or_default().chars().take(70).collect::<String>();
                let to = match (&c.args["channel"], &c.args["users"]) {
                    (Value::String(ch), _) => ch.clone(),
                    (_, Value::Null) => String::new(),
                    (_, users) => format!("users={users}"),
                };
                format!("{} {to} {text}", c.method)
            })
            .collect();
        let discord: Vec<String> = s
            .discord
            .take_calls()
            .into_iter()
            .map(|c| {
                let text = c.body["content"].as_str().unwrap_or_default().chars().take(70).collect::<String>();
                format!("{} {text}", c.route)
            })
            .collect();
        eprintln!("Slack:\n  {}\nDiscord:\n  {}", slack.join("\n  "), discord.join("\n  "));
        let count = |calls: &[String], what: &str| calls.iter().filter(|c| c.starts_with(what)).count();
        // Slack: the root and the transcript, a DM to each of the two assignees (never to
        // anyone else), the root updated at each change, one notice.
        assert_eq!(count(&slack, "conversations.open"), 2, "{slack:#?}");
        assert!(count(&slack, "chat.update") >= 3, "{slack:#?}");
        assert_eq!(slack.iter().filter(|c| c.contains("Nobody accepted this conversation in time")).count(), 1);
        // Discord: the same on its side.
        assert_eq!(discord.iter().filter(|c| c.contains("Nobody accepted this conversation in time")).count(), 1, "{discord:#?}");
        assert!(count(&discord, "PATCH /channels/{channel_id}/messages/{message_id}") >= 3, "{discord:#?}");
        let c = s.conversation("c1").await;
        let t = trail(&c);
        assert_eq!(t.iter().filter(|l| l.starts_with("timeout system")).count(), 2, "{t:?}");
        assert!(t.last().unwrap().starts_with("claim operator null→"), "{t:?}");
        let root = DiscordApp::text(&s.root("c1").await);
        assert!(root.contains("Timed out") && root.contains("Ada, Bo"), "{root}");
    }
}

on_both_databases! {
    async fn the_escalation_target_is_mentioned_once_for_a_conversation_and_only_it_is_pinged(db) {
        use crate::both_platforms;
        use crate::slack_helpers;
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        s.set_routing("support", "round-robin", None).await;
        let role = "700000000000000555";
        let (st, w) = patch_widget(&s.app, "support", json!({"accept_within": "200ms", "reply_within": "200ms", "slack_escalation": "S0TRIAGE", "discord_escalation": role})).await;
        assert_eq!(st, StatusCode::OK, "{w}");
        assert_eq!((w["slack_escalation"].as_str(), w["discord_escalation"].as_str()), (Some("S0TRIAGE"), Some(role)), "{w}");
        let (st, r) = patch_widget(&s.app, "support", json!({"teams_escalation": "x"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");

        // Everyone lets it lapse: the notice mentions the group and the role.
        s.app.handoff("c1", "support").await;
        until_lapsed(&s.app, "c1", 2).await;
        s.settle().await;
        // Ada takes it; the visitor then waits past reply_within twice over: the second
        // notice mentions nobody, since the team was already called for this conversation.
        let (_, ada) = token_of(&s.app, "Ada").await;
        let (st, r) = s.post("/v1/conversations/c1/claim", &ada, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        visitor_says(&s.app, "c1", "hello?").await;
        let (ts, _) = both_platforms::slack_root(&b, "c1").await;
        eventually("the thread to be told the visitor waits", || async {
            let told = b.slack.replies(slack_helpers::CHANNEL, &ts).iter().any(|m| m.text.contains("The visitor has waited over"));
            (told && s.count("select count(*) from timers").await == 0).then_some(())
        })
        .await;
        s.settle().await;
        let notices: Vec<String> = b
            .slack
            .replies(slack_helpers::CHANNEL, &ts)
            .into_iter()
            .map(|m| m.text)
            .filter(|t| t.contains("Nobody accepted") || t.contains("The visitor has waited"))
            .collect();
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].starts_with("<!subteam^S0TRIAGE> Nobody accepted"), "{notices:?}");
        assert!(!notices[1].contains("subteam"), "nobody is pinged twice: {notices:?}");
        let thread = s.thread_of("c1").await;
        let calls = s.discord.take_calls();
        let posted: Vec<&Value> = calls
            .iter()
            .filter(|c| c.path == format!("/channels/{thread}/messages") && c.method == "POST")
            .map(|c| &c.body)
            .filter(|b| b["content"].as_str().is_some_and(|t| t.contains("Nobody accepted") || t.contains("The visitor has waited")))
            .collect();
        assert_eq!(posted.len(), 2, "{posted:?}");
        assert!(posted[0]["content"].as_str().unwrap().starts_with(&format!("<@&{role}> Nobody accepted")), "{posted:?}");
        assert_eq!(posted[0]["allowed_mentions"]["roles"], json!([role]), "only the role is pinged: {posted:?}");
        assert!(!posted[1]["content"].as_str().unwrap().contains("<@&"), "{posted:?}");
        b.slack.take_calls();
    }
}
