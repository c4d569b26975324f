//! Edits and deletions (`docs/behaviour.md#edits-and-deletions`): an operator's edit or
//! deletion of a reply reaches the visitor once, after the reply; the other platform's
//! copy is redrawn and marked; notes stay notes; a visitor's edit updates the threads.

use crate::both_platforms::{self, Both};
use crate::discord_helpers::{self, DiscordApp};
use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::{ADA, CHANNEL};
use handoff_bridge::standins::widget::{RecordedCall, WidgetClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The widget platform's calls about messages, as (kind, message id, text), in order.
fn message_calls(calls: &[RecordedCall]) -> Vec<(String, Option<String>, Option<String>)> {
    calls
        .iter()
        .filter(|c| {
            matches!(
                c.kind.as_deref(),
                Some("messages" | "message_updated" | "message_deleted")
            )
        })
        .map(|c| {
            (
                c.kind.clone().unwrap_or_default(),
                c.message_id.clone(),
                c.body["text"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Sends a Slack event and waits until the bridge has acted on it.
async fn slack_event(b: &Both, id: &str, event: Value) {
    let res = b.sender.event(id, event).await;
    assert_eq!(res.status(), StatusCode::OK);
    b.d.settle().await;
}

/// Waits until the bridge has taken in a Discord edit or deletion of `message`.
async fn discord_change_taken(d: &DiscordApp, prefix: &str, message: u64) {
    let sql =
        format!("select count(*) from inbound_events where source = 'discord' and event_id like '{prefix}:{message}%'");
    eventually("the change to be taken in", || async {
        (d.count(&sql).await >= 1).then_some(())
    })
    .await;
    d.settle().await;
}

/// The Discord copy of the line whose text contains `words`.
fn discord_line(b: &Both, thread: u64, words: &str) -> handoff_bridge::standins::discord::DiscordMessage {
    b.d.discord
        .messages(thread)
        .into_iter()
        .find(|m| m.content.contains(words))
        .unwrap_or_else(|| panic!("no Discord line with {words:?}"))
}

on_both_databases! {
    async fn a_slack_reply_edited_then_deleted_reaches_the_widget_once_each_in_order(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;

        let reply = b.slack.user_reply(CHANNEL, ADA, "Your refund is on its way", &root);
        let ts = reply["ts"].as_str().unwrap().to_owned();
        slack_event(&b, "EvReply", reply).await;
        assert_eq!(b.d.visitor_replies(), ["Your refund is on its way"]);

        // Edited: the widget gets the PATCH; Ada's message gets ✏️; Discord's copy is redrawn.
        let edit = b.slack.user_edit(CHANNEL, &ts, "Your refund of $12 is on its way");
        slack_event(&b, "EvEdit", edit.clone()).await;
        // Slack retries the event: nothing happens twice.
        assert_eq!(b.sender.event_retry("EvEdit", edit, 1).await.status(), StatusCode::OK);
        b.d.settle().await;
        let mine = b.slack.message(CHANNEL, &ts).unwrap();
        assert_eq!(mine.reactions, ["white_check_mark", "pencil2"]);
        let copy = discord_line(&b, thread, "refund");
        assert_eq!(copy.content, "**Ada (to the visitor):** Your refund of $12 is on its way *(edited)*");

        // Deleted: the widget gets the DELETE; Slack's thread says so; Discord's copy is marked.
        let delete = b.slack.user_delete(CHANNEL, &ts);
        slack_event(&b, "EvDelete", delete).await;
        let calls = message_calls(&b.d.widget.delivered());
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(calls[0].0, "messages");
        let id = calls[1].1.clone().expect("the PATCH names the message");
        assert_eq!(calls[1], ("message_updated".into(), Some(id.clone()), Some("Your refund of $12 is on its way".into())));
        assert_eq!(calls[2], ("message_deleted".into(), Some(id), None));
        let notes: Vec<String> = b.slack.replies(CHANNEL, &root).into_iter().map(|m| m.text).filter(|t| t.contains("deleted for the visitor")).collect();
        assert_eq!(notes, ["🗑️ A reply was deleted for the visitor too."]);
        let copy = discord_line(&b, thread, "refund");
        assert_eq!(copy.content, "**Ada (to the visitor):** Your refund of $12 is on its way *(deleted for the visitor)*");
        b.done().await;
    }

    async fn a_discord_reply_edited_then_deleted_reaches_the_widget_and_the_slack_copy(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let id = d.say(thread, discord_helpers::ADA, "Refund sent").await;
        d.settle().await;
        assert_eq!(d.visitor_replies(), ["Refund sent"]);

        d.discord.user_edit(thread, id, "Refund sent today");
        discord_change_taken(d, "update", id).await;
        let mine = d.discord.message(thread, id).unwrap();
        assert_eq!(mine.reactions, ["✅", "✏️"]);
        let copy = b.slack.replies(CHANNEL, &root).into_iter().find(|m| m.text.contains("Refund sent")).unwrap();
        assert_eq!(copy.text, "*Ada (to the visitor):* Refund sent today _(edited)_");

        d.discord.user_delete(thread, id);
        discord_change_taken(d, "delete", id).await;
        let calls: Vec<String> = message_calls(&d.widget.delivered()).into_iter().map(|c| c.0).collect();
        assert_eq!(calls, ["messages", "message_updated", "message_deleted"]);
        let copy = b.slack.replies(CHANNEL, &root).into_iter().find(|m| m.text.contains("Refund sent")).unwrap();
        assert_eq!(copy.text, "*Ada (to the visitor):* Refund sent today _(deleted for the visitor)_");
        assert!(d.discord.messages(thread).iter().any(|m| m.content == "🗑️ A reply was deleted for the visitor too."));
        b.done().await;
    }

    async fn deleting_the_bridges_copy_of_a_reply_takes_nothing_back_from_the_visitor(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let reply = b.slack.user_reply(CHANNEL, ADA, "Refund approved", &root);
        slack_event(&b, "EvReply", reply).await;
        // A moderator deletes the bridge's copy in Discord.
        let copy = discord_line(&b, thread, "Refund approved");
        d.discord.user_delete(thread, copy.id);
        discord_change_taken(d, "delete", copy.id).await;
        let calls: Vec<String> = message_calls(&d.widget.delivered()).into_iter().map(|c| c.0).collect();
        assert_eq!(calls, ["messages"]);
        let c = d.conversation("c1").await;
        let line = c["transcript"].as_array().unwrap().iter().find(|l| l["text"] == "Refund approved").unwrap().clone();
        assert!(line.get("deleted_at").is_none(), "{line}");
        b.done().await;
    }

    async fn a_transcript_line_with_an_id_can_be_edited_later(db) {
        let b = both_platforms::spawn(&db).await;
        let d = &b.d;
        let mut handoff = WidgetClient::handoff_event("c1", "support");
        handoff["conversation"]["transcript"][0]["id"] = json!("t-1");
        assert_eq!(d.client.send(&handoff).await.status(), StatusCode::OK);
        d.settle().await;
        let edit = json!({
            "id": "evt-edit-t1", "type": "conversation.message_updated",
            "conversation": {"id": "c1"},
            "message": {"id": "t-1", "author": "visitor", "text": "Hi there"}
        });
        assert_eq!(d.client.send(&edit).await.status(), StatusCode::OK);
        d.settle().await;
        let thread = d.thread_of("c1").await;
        assert_eq!(discord_line(&b, thread, "Visitor:").content, "**Visitor:** Hi there *(edited)*");
        b.done().await;
    }

    async fn a_reply_deleted_before_it_was_taken_in_never_reaches_the_visitor(db) {
        let (b, root, _thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let reply = b.slack.user_reply(CHANNEL, ADA, "sent to the wrong chat", &root);
        let ts = reply["ts"].as_str().unwrap().to_owned();
        let delete = b.slack.user_delete(CHANNEL, &ts);
        // The deletion overtakes the message.
        slack_event(&b, "EvDeleteFirst", delete).await;
        slack_event(&b, "EvReplyLate", reply).await;
        assert!(message_calls(&d.widget.delivered()).is_empty(), "nothing reached the visitor");
        let c = d.conversation("c1").await;
        assert!(!c["transcript"].as_array().unwrap().iter().any(|l| l["text"] == "sent to the wrong chat"));
        b.done().await;
    }

    async fn a_held_reply_keeps_its_files_until_it_is_sent(db) {
        let (b, root, _thread) = both_platforms::opened(&db, &[("HANDOFF_TAKEOVER", "everyone")]).await;
        let d = &b.d;
        // Bo has the conversation; Ada shares a file in the thread: it is held.
        let accept = d.click(discord_helpers::BO, "c1", "Accept").await;
        d.answered(&accept, 1).await;
        d.until("c1", "Bo to have it", |c| c["status"] == "active").await;
        d.settle().await;
        b.slack.take_calls();
        let file = b.slack.add_file(ADA, "label.pdf", "application/pdf", b"%PDF".to_vec());
        let share = b.slack.user_file_share(CHANNEL, ADA, "", &root, &[file]);
        slack_event(&b, "EvHeld", share).await;
        let notice = b.slack.take_calls().into_iter().find(|c| c.method == "chat.postEphemeral").expect("Ada is told");
        let (_, _, value) = crate::slack_helpers::buttons_of(&notice.args["blocks"]).remove(0);
        assert!(message_calls(&d.widget.delivered()).is_empty());
        // Take over & send: the file goes with it.
        let message_ts = notice.response["message_ts"].as_str().unwrap_or("1.1").to_owned();
        let message = json!({"type": "message", "ts": message_ts, "text": ""});
        let res = b.sender.block_action(ADA, CHANNEL, &message_ts, message, "hb_takeover_send", &value).await;
        assert_eq!(res.status(), StatusCode::OK);
        d.settle().await;
        let sent: Vec<RecordedCall> = d.widget.delivered().into_iter().filter(|c| c.kind.as_deref() == Some("messages")).collect();
        assert_eq!(sent.len(), 1);
        let links = sent[0].body["attachments"].as_array().unwrap().clone();
        assert_eq!(links.len(), 1, "{}", sent[0].body);
        let res = reqwest::get(links[0].as_str().unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap().to_vec(), b"%PDF");
        b.done().await;
    }

    async fn an_edit_across_the_note_line_is_refused_privately_and_changes_nothing(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;

        // Slack: a note edited into a reply, and a reply edited into a note.
        let note = b.slack.user_reply(CHANNEL, ADA, "// they were rude", &root);
        let note_ts = note["ts"].as_str().unwrap().to_owned();
        slack_event(&b, "EvNote", note).await;
        let reply = b.slack.user_reply(CHANNEL, ADA, "Happy to help", &root);
        let reply_ts = reply["ts"].as_str().unwrap().to_owned();
        slack_event(&b, "EvReply", reply).await;
        b.slack.take_calls();
        let e1 = b.slack.user_edit(CHANNEL, &note_ts, "they were rude");
        slack_event(&b, "EvE1", e1).await;
        let e2 = b.slack.user_edit(CHANNEL, &reply_ts, "// happy to help");
        slack_event(&b, "EvE2", e2).await;
        let told: Vec<String> = b.slack.ephemerals().into_iter().filter(|e| e.user == ADA).map(|e| e.text).collect();
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(told[0].contains("internal note, and an edit keeps it one"), "{told:?}");
        assert!(told[1].contains("already sent to the visitor"), "{told:?}");
        let calls: Vec<String> = message_calls(&d.widget.delivered()).into_iter().map(|c| c.0).collect();
        assert_eq!(calls, ["messages"], "nothing more reached the visitor");
        let c = d.conversation("c1").await;
        let texts: Vec<&str> = c["transcript"].as_array().unwrap().iter().filter_map(|l| l["text"].as_str()).collect();
        assert!(texts.contains(&"// they were rude") && texts.contains(&"Happy to help"), "{texts:?}");

        // A note's edit that keeps it a note: the Discord copy follows; nothing to the visitor.
        let e3 = b.slack.user_edit(CHANNEL, &note_ts, "// they were very rude");
        slack_event(&b, "EvE3", e3).await;
        assert_eq!(discord_line(&b, thread, "rude").content, "**Internal note by Ada:** // they were very rude *(edited)*");

        // Discord: a note edited into a reply is refused by DM.
        let id = d.say(thread, discord_helpers::ADA, "// checking the order").await;
        d.settle().await;
        d.discord.user_edit(thread, id, "checking the order");
        discord_change_taken(d, "update", id).await;
        let dm = d.discord.dm_channel(discord_helpers::ADA).expect("Ada was told by DM");
        let told: Vec<String> = d.discord.messages(dm).into_iter().map(|m| m.content).collect();
        assert!(told.iter().any(|t| t.contains("internal note, and an edit keeps it one")), "{told:?}");
        let calls: Vec<String> = message_calls(&d.widget.delivered()).into_iter().map(|c| c.0).collect();
        assert_eq!(calls, ["messages"]);
        b.done().await;
    }

    async fn a_visitor_edit_updates_both_thread_copies(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let mut message = WidgetClient::message_event("c1", "visitor", "my order is 1243");
        message["message"]["id"] = json!("m-7");
        assert_eq!(d.client.send(&message).await.status(), StatusCode::OK);
        d.settle().await;

        let mut edit = message.clone();
        edit["id"] = json!("evt-edit-1");
        edit["type"] = json!("conversation.message_updated");
        edit["message"]["text"] = json!("my order is 1234");
        let res = d.client.send(&edit).await;
        assert_eq!(res.status(), StatusCode::OK);
        d.settle().await;
        let copy = b.slack.replies(CHANNEL, &root).into_iter().find(|m| m.text.contains("my order")).unwrap();
        assert_eq!(copy.text, "*Visitor:* my order is 1234 _(edited)_");
        assert_eq!(discord_line(&b, thread, "my order").content, "**Visitor:** my order is 1234 *(edited)*");
        let c = d.conversation("c1").await;
        assert!(c["transcript"].as_array().unwrap().iter().any(|l| l["text"] == "my order is 1234"));

        // An unknown message is 404; an update without a message id is 422; neither changes anything.
        let mut unknown = edit.clone();
        unknown["id"] = json!("evt-edit-2");
        unknown["message"]["id"] = json!("m-nope");
        let res = d.client.send(&unknown).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("no message `m-nope`"), "{body}");
        let mut no_id = edit.clone();
        no_id["id"] = json!("evt-edit-3");
        no_id["message"].as_object_mut().unwrap().remove("id");
        let res = d.client.send(&no_id).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        b.done().await;
    }
}
