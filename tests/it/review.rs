//! Rules a review found bent, each reproduced from outside the process: who may take a
//! conversation, who may say which platform account is whose, and what bad input does.
//! `RELIABILITY.md` lists each with the test here that covers it.

use crate::helpers::*;
use crate::on_both_databases;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_databases! {
    async fn a_transfer_to_oneself_passes_the_same_checks_as_a_claim(db) {
        let app = TestApp::spawn_with(&db, &[("HANDOFF_TAKEOVER", "never")]).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let max = app.operator("Max", "manager").await;
        app.handoff("c1", "pinned").await;
        app.set_routing("pinned", "manual", Some(&[bo.id])).await;
        // Ada may not pick up `pinned` conversations: a transfer to herself is refused too.
        let (s, body) = app.post("/v1/conversations/c1/transfer", &ada.token, json!({"operator_id": ada.id})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert!(app.conversation("c1").await["assignee"].is_null());
        // Bo claims it; with takeover `never`, Max cannot take it by transferring it to himself.
        let (s, _) = app.post("/v1/conversations/c1/claim", &bo.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, body) = app.post("/v1/conversations/c1/transfer", &max.token, json!({"operator_id": max.id})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{body}");
        let c = app.conversation("c1").await;
        assert_eq!(c["assignee"]["name"], "Bo", "{c}");
        // A manager may still hand it to someone else.
        let (s, _) = app.post("/v1/conversations/c1/transfer", &max.token, json!({"operator_id": ada.id})).await;
        assert_eq!(s, StatusCode::OK);
    }

    async fn only_admins_set_platform_ids(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let max = app.operator("Max", "manager").await;
        let boss = app.operator("Boss", "admin").await;
        let app = &app;
        let patch = |id: i64, token: &str, body: serde_json::Value| {
            let path = format!("/v1/operators/{id}");
            let token = token.to_owned();
            async move { app.call(Method::PATCH, &path, &token, Some(body)).await }
        };
        let (s, _) = patch(boss.id, ADMIN_TOKEN, json!({"slack_user_id": "U0BOSS"})).await;
        assert_eq!(s, StatusCode::OK);
        // Ada cannot point her own account at the admin's Slack id, nor at any other.
        let (s, body) = patch(ada.id, &ada.token, json!({"slack_user_id": "U0BOSS"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert!(body.to_string().contains("/handoff link"), "{body}");
        let (s, _) = patch(ada.id, &ada.token, json!({"discord_user_id": "700000000000000999"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Nor can a manager, for anyone; nor create an operator with one.
        let (s, _) = patch(ada.id, &max.token, json!({"slack_user_id": "U0ADA"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.post("/v1/operators", &max.token, json!({"name": "Eve", "slack_user_id": "U0EVE"})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Nothing changed; Ada may still rename herself, and an admin may set her id.
        assert_eq!(app.count("select count(*) from operator_identities").await, 1);
        let (s, _) = patch(ada.id, &ada.token, json!({"name": "Ada L."})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, o) = patch(ada.id, &boss.token, json!({"slack_user_id": "U0ADA"})).await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(o["slack_user_id"], "U0ADA");
        // Sending back the id she already has is no change, and allowed.
        let (s, _) = patch(ada.id, &ada.token, json!({"slack_user_id": "U0ADA", "name": "Ada"})).await;
        assert_eq!(s, StatusCode::OK);
    }

    async fn renaming_oneself_to_a_seeded_admins_name_gives_nothing_at_the_next_start(db) {
        let seed = "[[operators]]\nname = \"Boss\"\nrole = \"admin\"\n\n[[operators]]\nkey = \"max\"\nname = \"Max\"\nrole = \"manager\"\n";
        let app = TestApp::launch(&db, &[], Some(seed)).await;
        let eve = app.operator("Eve", "agent").await;
        let (s, _) = app.call(Method::PATCH, &format!("/v1/operators/{}", eve.id), &eve.token, Some(json!({"name": "Boss"}))).await;
        assert_eq!(s, StatusCode::OK);
        let app = app.restart(&db).await;
        let (_, ops) = app.get("/v1/operators", ADMIN_TOKEN).await;
        let ops = ops.as_array().unwrap().clone();
        let by_id = |id: i64| ops.iter().find(|o| o["id"] == id).cloned().unwrap();
        assert_eq!(by_id(eve.id)["role"], "agent", "{ops:?}");
        let admins: Vec<_> = ops.iter().filter(|o| o["role"] == "admin").collect();
        assert_eq!(admins.len(), 1, "{ops:?}");
        assert_ne!(admins[0]["id"], eve.id);
        // A keyed operator keeps its key when its display name changes in the API.
        let max_id = ops.iter().find(|o| o["name"] == "Max").unwrap()["id"].as_i64().unwrap();
        let (s, _) = app.call(Method::PATCH, &format!("/v1/operators/{max_id}"), ADMIN_TOKEN, Some(json!({"name": "Maximilian"}))).await;
        assert_eq!(s, StatusCode::OK);
        let app = app.restart(&db).await;
        assert_eq!(app.count("select count(*) from operators").await, 3, "nobody was created twice");
        assert_eq!(app.count(&format!("select count(*) from operators where id = {max_id} and role = 'manager'")).await, 1);
    }

    async fn a_nul_character_is_dropped_at_the_door_on_both_databases(db) {
        use handoff_bridge::standins::widget::WidgetClient;
        let d = crate::discord_helpers::DiscordApp::spawn(&db).await;
        let mut event = WidgetClient::handoff_event("c\u{0}1", "support");
        event["conversation"]["visitor"]["name"] = json!("A\u{0}da");
        event["conversation"]["transcript"][0]["text"] = json!("Hi\u{0} there");
        let res = d.client.send(&event).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap_or_default());
        let c = d.conversation("c1").await;
        assert_eq!(c["visitor"]["name"], "Ada", "{c}");
        assert_eq!(c["transcript"][0]["text"], "Hi there");
        // The HTTP API, too.
        let (s, o) = d.post("/v1/operators", ADMIN_TOKEN, json!({"name": "E\u{0}ve"})).await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(o["name"], "Eve");
        // And a Discord reply.
        d.calls().await;
        let thread = d.thread_of("c1").await;
        d.say(thread, crate::discord_helpers::ADA, "on\u{0} it").await;
        d.settle().await;
        let sent: Vec<String> = d.widget.delivered().iter()
            .filter(|c| c.kind.as_deref() == Some("messages"))
            .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(sent, ["on it"]);
        d.discord.take_calls();
    }

    async fn an_inbound_reply_acted_on_again_after_a_crash_reaches_the_visitor_once(db) {
        use crate::slack_helpers::{SlackApp, CHANNEL, ADA};
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        s.sender.event("Ev001", s.slack.user_reply(CHANNEL, ADA, "Hi, on it", &root)).await;
        s.calls().await;
        // The process died after acting on the event but before marking its row done:
        // the row is claimed and worked again.
        let redo = "update outbox set status = 'pending', next_attempt_at = 0, locked_until = null, claim_token = null \
                    where target = 'slack_in'";
        sqlx::query(redo).execute(&s.pool).await.unwrap();
        eventually("the event to be worked again", || async {
            (s.count("select count(*) from outbox where target = 'slack_in' and status = 'pending'").await == 0).then_some(())
        }).await;
        s.settle().await;
        let sent = s.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages")).count();
        assert_eq!(sent, 1, "relayed once");
        let c = s.conversation("c1").await;
        assert_eq!(c["transcript"].as_array().unwrap().iter().filter(|l| l["author"] == "operator").count(), 1, "{c}");
        s.finish().await;
    }

    async fn a_discord_reply_acted_on_again_after_a_crash_reaches_the_visitor_once(db) {
        let d = crate::discord_helpers::DiscordApp::spawn(&db).await;
        let thread = d.handoff("d1").await;
        d.say(thread, crate::discord_helpers::ADA, "Discord here").await;
        d.calls().await;
        let redo = "update outbox set status = 'pending', next_attempt_at = 0, locked_until = null, claim_token = null \
                    where target = 'discord_in'";
        sqlx::query(redo).execute(&d.pool).await.unwrap();
        eventually("the message to be worked again", || async {
            (d.count("select count(*) from outbox where target = 'discord_in' and status = 'pending'").await == 0).then_some(())
        }).await;
        d.settle().await;
        let texts: Vec<String> = d.widget.delivered().iter().filter(|c| c.kind.as_deref() == Some("messages"))
            .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(texts.iter().filter(|t| *t == "Discord here").count(), 1, "{texts:?}");
        d.finish().await;
    }

    async fn refusals_axum_makes_itself_speak_the_api_error_shape(db) {
        let app = TestApp::spawn(&db).await;
        let res = app.http.delete(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(res.headers().get("allow").is_some());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
        // A path segment that is not UTF-8 cannot be read.
        let (s, body) = app.get("/v1/conversations/%FF", ADMIN_TOKEN).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "bad_request", "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{body}");
    }

    async fn one_visitor_message_cannot_become_hundreds_of_posts(db) {
        use handoff_bridge::standins::widget::WidgetClient;
        let d = crate::discord_helpers::DiscordApp::spawn(&db).await;
        let thread = d.handoff("c1").await;
        let before = d.discord.messages(thread).len();
        let huge = "x".repeat(60_000);
        let res = d.client.send(&WidgetClient::message_event("c1", "visitor", &huge)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let c = d.conversation("c1").await;
        let stored = c["transcript"].as_array().unwrap().last().unwrap()["text"].as_str().unwrap().to_owned();
        assert!(stored.starts_with(&"x".repeat(40_000)), "kept up to the cap");
        assert!(stored.ends_with("… [20000 more characters cut]"), "{}", &stored[stored.len() - 60..]);
        let posts = d.calls().await.len();
        assert!(posts <= 21, "{posts} posts for one message");
        assert_eq!(d.discord.messages(thread).len(), before + posts);
        // A transcript past the hard limits is refused, and nothing is stored.
        let mut event = WidgetClient::handoff_event("c2", "support");
        event["conversation"]["transcript"] = json!(vec![json!({"author": "visitor", "text": "a"}); 1001]);
        let res = d.client.send(&event).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("at most 1000"), "{body}");
        assert_eq!(d.count("select count(*) from conversations where id = 'c2'").await, 0);
        d.finish().await;
    }

    async fn a_stop_ends_within_seconds_and_gives_unfinished_rows_back(db) {
        use crate::slack_helpers::{SlackApp, CHANNEL};
        // A long lease and timeout, as in production: a paced delivery could wait a while.
        let s = SlackApp::spawn_with(&db, &[("HANDOFF_OUTBOX_LEASE_MS", "60000"), ("HANDOFF_OUTBOX_TIMEOUT_MS", "30000")]).await;
        for i in 0..12 {
            s.app.handoff(&format!("c{i}"), "support").await;
        }
        // Slack's pace lets 20 posts through at once, then one a second: the rest wait.
        eventually("posts to be waiting on Slack's pace", || async {
            (s.slack.messages(CHANNEL).len() >= 20
                && s.count("select count(*) from outbox where status = 'inflight'").await > 0).then_some(())
        }).await;
        let SlackApp { app, slack, .. } = s;
        let started = std::time::Instant::now();
        let stopped = app.stop().await;
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(8), "stopping took {took:?}");
        // What was left is due at once for the next start, not held by a lease.
        let pool = db.pool().await;
        let inflight: i64 = sqlx::query_scalar("select count(*) from outbox where status = 'inflight'").fetch_one(&pool).await.unwrap();
        assert_eq!(inflight, 0);
        let app = stopped.start(&db).await;
        eventually("every root and line to be posted once", || async {
            (slack.messages(CHANNEL).len() == 36).then_some(())
        }).await;
        app.settle().await;
        assert_eq!(slack.messages(CHANNEL).len(), 36, "nothing twice");
    }

    async fn guests_strangers_and_other_teams_do_not_become_operators_by_default(db) {
        use crate::slack_helpers::{SlackApp, CHANNEL, all_text};
        use crate::slack_commands::say;
        use handoff_bridge::standins::slack::UserKind;
        let s = SlackApp::spawn(&db).await;
        s.slack.add_outsider("U0GUEST", "guest", UserKind::Guest);
        s.slack.add_outsider("U0SOLO", "solo", UserKind::SingleChannelGuest);
        s.slack.add_outsider("U0STRANGE", "strange", UserKind::Stranger);
        s.slack.add_outsider("U0OTHER", "other", UserKind::OtherTeam("T0OTHER".into()));
        let before = s.count("select count(*) from operators").await;
        for user in ["U0GUEST", "U0SOLO", "U0STRANGE", "U0OTHER"] {
            let answer = say(&s, user, "status").await;
            assert!(answer.contains("do not become operators here"), "{user}: {answer}");
        }
        // A guest's reply in a thread reaches nobody; they are told privately.
        let root = s.handoff("c1").await;
        s.sender.event("EvG1", s.slack.user_reply(CHANNEL, "U0GUEST", "I'm a guest", &root)).await;
        let calls = s.calls().await;
        let told = calls.iter().find(|c| c.method == "chat.postEphemeral").expect("told privately");
        assert_eq!(told.args["user"], "U0GUEST");
        assert!(all_text(&told.args).contains("do not become operators"), "{}", all_text(&told.args));
        assert!(s.widget.delivered().iter().all(|c| c.kind.as_deref() != Some("messages")));
        assert_eq!(s.count("select count(*) from operators").await, before, "nobody was created");
        s.finish().await;
    }

    async fn provisioning_open_lets_guests_in(db) {
        use crate::slack_helpers::SlackApp;
        use crate::slack_commands::say;
        use handoff_bridge::standins::slack::UserKind;
        let s = SlackApp::spawn_with(&db, &[("HANDOFF_PROVISIONING", "open")]).await;
        s.slack.add_outsider("U0GUEST", "guest", UserKind::Guest);
        assert!(say(&s, "U0GUEST", "status").await.contains("role *agent*"));
        s.calls().await;
    }

    async fn provisioning_invite_lets_in_only_operators_an_admin_added(db) {
        use crate::slack_helpers::SlackApp;
        use crate::slack_commands::say;
        let s = SlackApp::spawn_with(&db, &[("HANDOFF_PROVISIONING", "invite")]).await;
        s.slack.add_user("U0NEW", "new", "New Person", false, false);
        assert!(say(&s, "U0NEW", "status").await.contains("only operators an admin created or linked"));
        assert!(say(&s, crate::slack_helpers::ADA, "status").await.contains("role *agent*"), "a declared operator acts");
        s.calls().await;
    }

    async fn on_discord_invite_provisioning_refuses_a_new_member_privately(db) {
        use crate::discord_helpers::{DiscordApp, EVE, ADA};
        let d = DiscordApp::spawn_with(&db, &[("HANDOFF_PROVISIONING", "invite")]).await;
        let status = json!([{"name": "status", "type": 1, "options": []}]);
        let answer = d.command(EVE, "handoff", status.clone()).await;
        assert!(answer.contains("only operators an admin created or linked"), "{answer}");
        assert!(d.command(ADA, "handoff", status).await.contains("role **agent**"));
        // A click by her is refused privately, and changes nothing.
        let thread = d.handoff("c1").await;
        let click = d.click(EVE, "c1", "Accept").await;
        let r = d.answered(&click, 2).await;
        assert!(r[1]["body"]["content"].as_str().unwrap().contains("only operators"), "{r:?}");
        assert!(d.conversation("c1").await["assignee"].is_null());
        let _ = thread;
        d.settle().await;
        d.discord.take_calls();
    }

    async fn delivered_rows_and_old_inbound_ids_are_pruned_after_the_retention(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        for c in ["c1", "c2"] {
            app.handoff(c, "support").await;
            let (s, _) = app.post(&format!("/v1/conversations/{c}/claim"), &ada.token, json!({})).await;
            assert_eq!(s, StatusCode::OK);
        }
        app.settle().await;
        assert!(app.count("select count(*) from outbox where status = 'done'").await >= 2);
        // Age everything but c2's rows past the 30-day retention; keep one old dead letter.
        let old = handoff_bridge::store::now_ms() - 31 * 24 * 3600 * 1000;
        for sql in [
            format!("update outbox set delivered_at = {old} where status = 'done' and ordering_key not like '%c2%'"),
            format!("update inbound_events set received_at = {old}"),
            format!("update outbox set status = 'dead', delivered_at = null, created_at = {old} where id = (select min(id) from outbox where ordering_key like '%c2%')"),
        ] {
            sqlx::query(&sql).execute(&app.pool).await.unwrap();
        }
        let kept = app.count("select count(*) from outbox where ordering_key like '%c2%'").await;
        let app = app.restart(&db).await;
        eventually("old rows to be pruned at start", || async {
            (app.count("select count(*) from inbound_events").await == 0).then_some(())
        }).await;
        assert_eq!(app.count("select count(*) from outbox").await, kept, "recent rows and dead letters stay");
    }

    async fn tokens_can_be_listed_and_revoked(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        let bo = app.operator("Bo", "agent").await;
        let (s, second) = app.post(&format!("/v1/operators/{}/tokens", ada.id), &ada.token, json!({"label": "laptop"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, list) = app.get(&format!("/v1/operators/{}/tokens", ada.id), &ada.token).await;
        assert_eq!(s, StatusCode::OK);
        let list = list.as_array().unwrap().clone();
        assert_eq!(list.len(), 2);
        assert!(list.iter().any(|t| t["label"] == "laptop"));
        assert!(!serde_json::to_string(&list).unwrap().contains("hbt_"), "no secrets listed");
        // Bo may neither list nor revoke Ada's.
        let (s, _) = app.get(&format!("/v1/operators/{}/tokens", ada.id), &bo.token).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let path = format!("/v1/operators/{}/tokens/{}", ada.id, second["id"]);
        let (s, _) = app.call(Method::DELETE, &path, &bo.token, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Ada revokes it: it stops working at once; the other still works.
        let (s, _) = app.call(Method::DELETE, &path, &ada.token, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, body) = app.get("/v1/operators", second["token"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
        let (s, _) = app.get("/v1/operators", &ada.token).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = app.call(Method::DELETE, &path, &ada.token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    async fn event_streams_are_capped(db) {
        let app = TestApp::spawn_with(&db, &[("HANDOFF_MAX_STREAMS", "1")]).await;
        let first = EventStream::open(&app, ADMIN_TOKEN).await;
        let (s, body) = app.get("/v1/events", ADMIN_TOKEN).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "too_many_streams");
        // Once the first client goes, a new stream may open.
        drop(first);
        eventually("the closed stream's place to be free", || async {
            let res = app.http.get(app.url("/v1/events")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
            (res.status() == StatusCode::OK).then_some(())
        }).await;
    }

    async fn a_slow_slack_command_is_answered_at_once_and_its_answer_follows(db) {
        use crate::slack_helpers::SlackApp;
        use crate::slack_commands::say;
        let s = SlackApp::spawn(&db).await;
        s.slack.add_user("U0NEW", "new", "New Person", false, false);
        // Finding out who a new user is takes longer than Slack's 3 seconds.
        s.slack.delay_next("auth.test", 1, std::time::Duration::from_secs(4));
        // Slack is answered at once (the work's budget is 2.5 s), not when the work ends.
        let first = say(&s, "U0NEW", "status").await;
        assert!(first.contains("Working on it"), "{first}");
        let late = eventually("the answer through the response_url", || async {
            s.slack.ephemerals().into_iter().find(|e| e.user == "U0NEW" && e.text.contains("role *agent*"))
        }).await;
        assert!(late.text.starts_with("You are"), "{}", late.text);
        let calls = s.expect(&["auth.test", "users.info", "response_url"]).await;
        assert_eq!(calls[2].status, 200);
        s.finish().await;
    }

    async fn a_second_instance_on_one_sqlite_file_is_refused(db) {
        use handoff_bridge::config::Settings;
        use handoff_bridge::startup::Application;
        let first = TestApp::spawn(&db).await;
        let settings = Settings::load_with(None, &|k| first.env.get(k).cloned()).unwrap();
        let second = Application::build(settings).await;
        if db.url.starts_with("sqlite") {
            let err = second.err().expect("a second instance on one SQLite file is refused").to_string();
            assert!(err.contains("already serving") && err.contains("PostgreSQL"), "{err}");
            // Once the first has stopped, the file is free again.
            let again = first.restart(&db).await;
            assert_eq!(again.get("/healthz", ADMIN_TOKEN).await.0, StatusCode::OK);
        } else {
            assert!(second.is_ok(), "several instances share PostgreSQL");
        }
    }

    async fn concurrent_routing_on_every_instance_never_exceeds_capacity(db) {
        let a = TestApp::spawn(&db).await;
        // On PostgreSQL a second instance routes too; SQLite has one instance.
        let b = if db.url.starts_with("postgres") { Some(TestApp::spawn(&db).await) } else { None };
        let mut ops = Vec::new();
        for name in ["Ada", "Bo", "Cy"] {
            let o = a.operator(name, "agent").await;
            let (s, _) = a.call(Method::PATCH, &format!("/v1/operators/{}", o.id), ADMIN_TOKEN, Some(json!({"capacity": 1}))).await;
            assert_eq!(s, StatusCode::OK);
            ops.push(o);
        }
        a.widget_with_routing("support", "round-robin").await;
        let sends: Vec<_> = (0..12)
            .map(|i| {
                let app = match (&b, i % 2) {
                    (Some(b), 1) => b,
                    _ => &a,
                };
                let event = handoff_bridge::standins::widget::WidgetClient::handoff_event(&format!("c{i}"), "support");
                async move { app.client.send(&event).await.status() }
            })
            .collect();
        for status in futures_util::future::join_all(sends).await {
            assert_eq!(status, StatusCode::OK);
        }
        let (_, list) = a.get("/v1/operators", ADMIN_TOKEN).await;
        for o in list.as_array().unwrap() {
            assert!(o["open_chats"].as_i64().unwrap() <= 1, "over capacity: {o}");
        }
        let assigned = a.count("select count(*) from conversations where assignee_id is not null").await;
        assert_eq!(assigned, 3, "each of the three got exactly one");
    }
}
