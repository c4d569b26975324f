//! Slack in Socket Mode (`HANDOFF_SLACK_APP_TOKEN`): the bridge opens WebSockets to the
//! Slack stand-in and takes events, clicks and commands from envelopes, by the same path
//! as the webhooks. Each envelope is acked only after what it carries is recorded; one
//! delivered twice acts once; `disconnect` and dropped sockets are reconnected with
//! nothing lost.

use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::*;
use handoff_bridge::standins::slack::{SlackCall, SlackSender};
use serde_json::Value;
use std::time::Duration;

/// Sends an envelope and waits for its (first) ack: its payload.
async fn send(s: &SlackApp, kind: &str, payload: Value) -> (String, Value) {
    let id = s.slack.send_envelope(kind, payload).expect("an open connection");
    let ack = eventually("the envelope's ack", || async {
        s.slack.envelope_acks(&id).first().cloned()
    })
    .await;
    assert!(
        ack.after < Duration::from_secs(3),
        "acked within Slack's 3 seconds: {:?}",
        ack.after
    );
    (id, ack.payload)
}

/// A click on the root's `action`, as an `interactive` envelope.
async fn click(s: &SlackApp, user: &str, conversation: &str, action: &str) -> (String, Value) {
    let payload = s.click_payload(user, conversation, action).await;
    send(s, "interactive", payload).await
}

/// The calls since the last take, without Socket Mode's own.
async fn web_calls(s: &SlackApp) -> Vec<SlackCall> {
    s.calls()
        .await
        .into_iter()
        .filter(|c| c.method != "apps.connections.open")
        .collect()
}

on_both_databases! {
    async fn over_socket_mode_accept_a_reply_a_note_and_a_command_work_as_over_webhooks(db) {
        let s = SlackApp::spawn_socket_mode(&db).await;
        let root = s.handoff("c1").await;

        // Accept, as an `interactive` envelope: acked bare, the root updated.
        let (_, ack) = click(&s, ADA, "c1", "hb_accept").await;
        assert!(ack.is_null() || ack == serde_json::json!({}), "{ack}");
        let calls = s.expect(&["chat.update"]).await;
        assert!(all_text(&calls[0].args).contains("Assigned to <@U0ADA>"));
        assert_eq!(s.conversation("c1").await["assignee"]["name"], "Ada");

        // A reply and a `//` note, as `events_api` envelopes: the reply reaches the
        // visitor with its ✅; the note stays in the team.
        let reply = s.slack.user_reply(CHANNEL, ADA, "Hi, Ada here", &root);
        send(&s, "events_api", SlackSender::event_envelope("EvS1", reply.clone())).await;
        let note = s.slack.user_reply(CHANNEL, ADA, "// check the invoice first", &root);
        send(&s, "events_api", SlackSender::event_envelope("EvS2", note)).await;
        let calls = web_calls(&s).await;
        let react = calls.iter().find(|c| c.method == "reactions.add").expect("a receipt");
        assert_eq!((react.args["name"].as_str(), &react.args["timestamp"]), (Some("white_check_mark"), &reply["ts"]));
        assert_eq!(s.visitor_replies(), ["Hi, Ada here"]);
        let transcript = s.conversation("c1").await["transcript"].to_string();
        assert!(transcript.contains("check the invoice first"), "the note is kept: {transcript}");

        // `/handoff away`, as a `slash_commands` envelope: the answer is in the ack.
        let (_, ack) = send(&s, "slash_commands", s.sender.command_payload(ADA, CHANNEL, "away")).await;
        let text = ack["text"].as_str().unwrap_or_default();
        assert!(text.contains("*away*"), "{ack}");
        assert_eq!(ack["response_type"], "ephemeral", "{ack}");
        assert!(web_calls(&s).await.is_empty());
        s.finish().await;
    }

    async fn an_envelope_delivered_twice_acts_once(db) {
        let s = SlackApp::spawn_socket_mode(&db).await;
        let root = s.handoff("c1").await;
        click(&s, ADA, "c1", "hb_accept").await;
        s.expect(&["chat.update"]).await;
        let (unassign, _) = click(&s, ADA, "c1", "hb_unassign").await;
        s.expect(&["chat.update"]).await;
        let reply = s.slack.user_reply(CHANNEL, ADA, "Only once, please", &root);
        let (event, _) = send(&s, "events_api", SlackSender::event_envelope("EvTwice", reply)).await;
        let (away, first) = send(&s, "slash_commands", s.sender.command_payload(BO, CHANNEL, "away")).await;
        assert!(first["text"].as_str().is_some_and(|t| t.contains("away")), "{first}");
        let _ = web_calls(&s).await;
        let before = s.conversation("c1").await["audit"].clone();

        // Slack delivers each again (its ack was late, or lost): each is acked, and none
        // acts again: no second reply, no refusal of a second Unassign, no audit row.
        for id in [&unassign, &event, &away] {
            s.slack.redeliver_envelope(id).expect("an open connection");
            eventually("the repeat's ack", || async { (s.slack.envelope_acks(id).len() == 2).then_some(()) }).await;
        }
        s.settle().await;
        assert!(web_calls(&s).await.is_empty(), "a repeat made Slack calls");
        assert_eq!(s.visitor_replies(), ["Only once, please"]);
        assert_eq!(s.conversation("c1").await["audit"], before);
        let repeat = &s.slack.envelope_acks(&away)[1];
        assert!(repeat.payload["text"].is_null(), "the repeat of a command says nothing again: {:?}", repeat.payload);
        s.finish().await;
    }

    async fn a_disconnect_and_dropped_sockets_are_reconnected_and_nothing_is_lost(db) {
        let s = SlackApp::spawn_socket_mode(&db).await;
        let root = s.handoff("c1").await;
        let greeted = s.slack.socket_connections_greeted();

        // Slack asks for a refresh: new connections, and the next envelope is acted on.
        s.slack.socket_disconnect("refresh_requested");
        eventually("new connections", || async {
            (s.slack.socket_connections_greeted() >= greeted + 2 && s.slack.socket_connections() == 2).then_some(())
        }).await;
        let reply = s.slack.user_reply(CHANNEL, ADA, "after the refresh", &root);
        send(&s, "events_api", SlackSender::event_envelope("EvR1", reply)).await;

        // A burst with the sockets dropped in the middle: what was not acked is
        // delivered again once the bridge is back, and each acts once.
        let mut ids = Vec::new();
        for i in 0..10 {
            let reply = s.slack.user_reply(CHANNEL, ADA, &format!("burst {i}"), &root);
            ids.push(s.slack.send_envelope("events_api", SlackSender::event_envelope(&format!("EvB{i}"), reply)));
            if i == 4 {
                s.slack.drop_sockets();
            }
        }
        eventually("connections again", || async {
            (s.slack.socket_connections_greeted() >= greeted + 4 && s.slack.socket_connections() == 2).then_some(())
        }).await;
        for (i, id) in ids.iter().enumerate() {
            let id = match id {
                Some(id) if !s.slack.envelope_acks(id).is_empty() => continue,
                // Sent on a dropped socket (or none was open): Slack delivers it again.
                Some(id) => s.slack.redeliver_envelope(id).map(|_| id.clone()),
                None => {
                    let reply = s.slack.user_reply(CHANNEL, ADA, &format!("burst {i}"), &root);
                    s.slack.send_envelope("events_api", SlackSender::event_envelope(&format!("EvB{i}"), reply))
                }
            }
            .expect("an open connection");
            eventually("the ack", || async { (!s.slack.envelope_acks(&id).is_empty()).then_some(()) }).await;
        }
        s.settle().await;
        let mut expected = vec!["after the refresh".to_owned()];
        expected.extend((0..10).map(|i| format!("burst {i}")));
        let mut got = s.visitor_replies();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
        let _ = web_calls(&s).await;
        s.finish().await;
    }
}

/// Two instances on one PostgreSQL, each with its Socket Mode connections: an envelope
/// delivered on every connection at once acts once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(test_database_url), ignore = "PostgreSQL: set TEST_DATABASE_URL")]
async fn an_envelope_delivered_to_two_instances_at_once_acts_once() {
    let db = Db::postgres().await;
    let s = SlackApp::spawn_socket_mode(&db).await;
    let b = s
        .another_instance(&db, &[("HANDOFF_SLACK_APP_TOKEN", SLACK_APP_TOKEN)])
        .await;
    eventually("both instances' connections", || async {
        (s.slack.socket_connections() == 4).then_some(())
    })
    .await;
    let root = s.handoff("c1").await;
    click(&s, ADA, "c1", "hb_accept").await;
    s.settle().await;

    // An Unassign click, a reply and a command, each sent to all four connections.
    let (unassign, _) = click(&s, ADA, "c1", "hb_unassign").await;
    let reply = s.slack.user_reply(CHANNEL, ADA, "Once across instances", &root);
    let (event, _) = send(&s, "events_api", SlackSender::event_envelope("EvBoth", reply)).await;
    let (away, _) = send(&s, "slash_commands", s.sender.command_payload(BO, CHANNEL, "away")).await;
    for id in [&unassign, &event, &away] {
        assert_eq!(s.slack.redeliver_everywhere(id), 4);
        eventually("every connection's ack", || async {
            (s.slack.envelope_acks(id).len() == 5).then_some(())
        })
        .await;
    }
    s.settle().await;
    b.settle().await;
    // Each instance has a widget platform stand-in of its own: the reply reached one.
    let replies = [s.visitor_replies(), b.visitor_replies()].concat();
    assert_eq!(replies, ["Once across instances"]);
    let reasons: Vec<String> = s.conversation("c1").await["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["handoff", "claim", "unassign", "reply"]);
    let ephemerals = web_calls(&s)
        .await
        .into_iter()
        .filter(|c| c.method == "chat.postEphemeral")
        .count();
    assert_eq!(ephemerals, 0, "no repeat was refused aloud");
    s.finish().await;
}
