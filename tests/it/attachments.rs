//! Attachments (`docs/widget-api.md#attachments`, `docs/widget-api.md#files`): what a
//! visitor attaches is shown in the threads (images drawn, other files linked by name),
//! in the transcript posted at handoff as well as later; what an operator shares reaches
//! the widget platform as a signed link that works without Slack or Discord credentials,
//! until it expires; files past the size and type limits are refused in the thread.

use crate::both_platforms::{self, Both, slack_root};
use crate::discord_helpers;
use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers;
use crate::slack_helpers::{ADA, CHANNEL};
use handoff_bridge::standins::widget::WidgetClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

const IMAGE: &str = "https://files.example.com/u/receipt%20photo.png?sig=abc";
const PDF: &str = "https://files.example.com/receipt-123.pdf";

/// The blocks of a Slack message of this type.
fn blocks_of<'a>(blocks: &'a Value, kind: &str) -> Vec<&'a Value> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == kind)
        .collect()
}

on_both_databases! {
    async fn a_visitor_image_and_pdf_show_in_both_threads_as_an_image_and_a_link(db) {
        let b = both_platforms::spawn(&db).await;
        let s = &b.d;
        // The handoff's transcript carries one image.
        let mut handoff = WidgetClient::handoff_event("c1", "support");
        handoff["conversation"]["transcript"][0]["attachments"] = json!([IMAGE]);
        assert_eq!(s.client.send(&handoff).await.status(), StatusCode::OK);
        s.settle().await;
        let (ts, _) = slack_root(&b, "c1").await;
        let first = b.slack.replies(slack_helpers::CHANNEL, &ts).into_iter().find(|m| m.text.starts_with("*Visitor:* Hi")).expect("the visitor's first line");
        let images = blocks_of(&first.blocks, "image");
        assert_eq!(images.len(), 1, "{:#}", first.blocks);
        assert_eq!(images[0]["image_url"], "https://files.example.com/u/receipt%20photo.png?sig=abc");
        assert_eq!(images[0]["alt_text"], "receipt photo.png");

        // A message with an image and a PDF.
        b.slack.take_calls();
        let mut message = WidgetClient::message_event("c1", "visitor", "here is my receipt <!channel>");
        message["message"]["attachments"] = json!([IMAGE, PDF]);
        assert_eq!(s.client.send(&message).await.status(), StatusCode::OK);
        s.settle().await;

        // Slack: the text, the image drawn, the PDF a link with its name; nothing unfurled,
        // nobody pinged.
        let line = b.slack.replies(slack_helpers::CHANNEL, &ts).into_iter().find(|m| m.text.contains("here is my receipt")).expect("the line in the Slack thread");
        let images = blocks_of(&line.blocks, "image");
        assert_eq!(images.len(), 1, "{:#}", line.blocks);
        assert_eq!(images[0]["title"]["text"], "receipt photo.png");
        let sections: Vec<String> = blocks_of(&line.blocks, "section").iter().map(|b| b["text"]["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(sections.len(), 2, "{sections:?}");
        assert!(sections[0].starts_with("*Visitor:* here is my receipt &lt;!channel&gt;"), "{sections:?}");
        assert_eq!(sections[1], format!("📎 <{PDF}|receipt-123.pdf>"));
        assert!(line.pings().is_empty(), "{:?}", line.pings());
        let post = b.slack.take_calls().into_iter().find(|c| c.method == "chat.postMessage").unwrap();
        assert_eq!(post.args["unfurl_links"], json!(false), "{:#}", post.args);
        assert_eq!(post.args["unfurl_media"], json!(false), "{:#}", post.args);

        // Discord: an embed drawing the image, an embed linking the PDF by name.
        let thread = s.thread_of("c1").await;
        let messages = s.discord.messages(thread);
        let first = messages.iter().find(|m| m.content.starts_with("**Visitor:** Hi")).expect("the visitor's first line");
        assert_eq!(first.embeds.len(), 1);
        assert_eq!(first.embeds[0]["image"]["url"], IMAGE);
        let line = messages.iter().find(|m| m.content.contains("here is my receipt")).expect("the line in the Discord thread");
        assert_eq!(line.embeds.len(), 2, "{:#?}", line.embeds);
        assert_eq!(line.embeds[0]["image"]["url"], IMAGE);
        assert_eq!(line.embeds[0]["title"], "receipt photo.png");
        assert_eq!(line.embeds[1]["title"], "📎 receipt-123.pdf");
        assert_eq!(line.embeds[1]["url"], PDF);
        assert!(line.embeds[1].get("image").is_none_or(Value::is_null));
        assert!(line.pings.is_empty(), "{:?}", line.pings);

        // The API lists them with the message.
        let c = s.conversation("c1").await;
        let listed = c["transcript"].as_array().unwrap().iter().find(|l| l["text"].as_str().unwrap().contains("receipt")).unwrap().clone();
        assert_eq!(listed["attachments"], json!([IMAGE, PDF]));
        b.done().await;
    }

    async fn an_image_slack_cannot_fetch_is_posted_as_a_link(db) {
        let (b, root, _thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        // Slack refuses a message whose image it cannot download.
        b.slack.error_next("chat.postMessage", 1, "invalid_blocks");
        let mut message = WidgetClient::message_event("c1", "visitor", "my parcel");
        message["message"]["attachments"] = json!([IMAGE]);
        assert_eq!(d.client.send(&message).await.status(), StatusCode::OK);
        d.settle().await;
        let line = b.slack.replies(CHANNEL, &root).into_iter().find(|m| m.text.contains("my parcel")).expect("the line is there");
        assert!(blocks_of(&line.blocks, "image").is_empty(), "{:#}", line.blocks);
        let sections: Vec<String> = blocks_of(&line.blocks, "section").iter().map(|b| b["text"]["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(sections[1], format!("🖼️ <{IMAGE}|receipt photo.png>"));
        assert_eq!(d.count("select count(*) from outbox where status = 'dead'").await, 0);
        b.done().await;
    }

    async fn a_transcript_attachment_that_is_not_a_web_address_refuses_the_handoff(db) {
        let app = TestApp::spawn(&db).await;
        let mut handoff = WidgetClient::handoff_event("c1", "support");
        handoff["conversation"]["transcript"][1]["attachments"] = json!([PDF, "javascript:alert(1)"]);
        let res = app.client.send(&handoff).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = res.json().await.unwrap();
        let error = body["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains("conversation.transcript[1].attachments[1]"), "{body}");
        assert_eq!(app.count("select count(*) from conversations").await, 0);
        assert_eq!(app.count("select count(*) from messages").await, 0);
    }
}

/// The attachments of the operator replies the widget platform got, in order.
fn sent_files(b: &Both) -> Vec<Vec<String>> {
    b.d.widget
        .delivered()
        .iter()
        .filter(|c| c.kind.as_deref() == Some("messages"))
        .map(|c| {
            c.body["attachments"]
                .as_array()
                .map(|a| a.iter().map(|u| u.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// Fetches a link as the widget platform would: no credentials of any kind.
async fn fetch(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

on_both_databases! {
    async fn a_file_shared_in_slack_reaches_the_widget_as_a_link_that_works_without_credentials(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let file = b.slack.add_file(ADA, "refund form.pdf", "application/pdf", bytes.clone());
        let event = b.slack.user_file_share(CHANNEL, ADA, "Please fill this in", &root, &[file]);
        let share_ts = event["ts"].as_str().unwrap().to_owned();
        assert_eq!(b.sender.event("EvFile", event).await.status(), StatusCode::OK);
        d.settle().await;

        assert_eq!(d.visitor_replies(), ["Please fill this in"]);
        let files = sent_files(&b);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].len(), 1, "{files:?}");
        let link = files[0][0].clone();
        assert!(link.starts_with(&format!("{}/v1/files/", d.base)), "{link}");
        assert!(link.contains("/refund%20form.pdf?expires="), "{link}");

        // The link works with no credentials: the bytes, as a download.
        let res = fetch(&link).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
        // The bridge fetched it from Slack with its token, after asking files.info where.
        let methods: Vec<String> = b.slack.take_calls().into_iter().map(|c| c.method).collect();
        assert!(methods.contains(&"files.info".to_owned()), "{methods:?}");

        // A changed signature, a changed expiry, no signature, an expired link: 401; an unknown file: 404.
        let (path, _) = link.split_once('?').unwrap();
        let id = path.rsplit('/').nth(1).unwrap().to_owned();
        let url = url::Url::parse(&link).unwrap();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let expires: i64 = q["expires"].parse().unwrap();
        let bad_sig = format!("{path}?expires={expires}&sig={}", "0".repeat(64));
        let later = format!("{path}?expires={}&sig={}", expires + 3600, q["sig"]);
        let key = handoff_bridge::service::link_key(WIDGET_SECRET.as_bytes());
        let past = time::OffsetDateTime::now_utc().unix_timestamp() - 10;
        let expired = format!("{path}?expires={past}&sig={}", handoff_bridge::service::link_signature(&key, &id, past));
        for (bad, says) in [
            (bad_sig, "does not match"),
            (later, "does not match"),
            (path.to_owned(), "not signed"),
            (expired, "expired"),
        ] {
            let res = fetch(&bad).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
            let body: Value = res.json().await.unwrap();
            assert!(body["error"]["message"].as_str().unwrap().contains(says), "{bad}: {body}");
        }
        let other = format!("{}/v1/files/{}/x.pdf?expires={expires}&sig={}", d.base, "ab".repeat(16), handoff_bridge::service::link_signature(&key, &"ab".repeat(16), expires));
        assert_eq!(fetch(&other).await.status(), StatusCode::NOT_FOUND);
        let metrics = fetch(&d.url("/metrics")).await.text().await.unwrap();
        for result in ["served", "refused"] {
            assert!(metrics.contains(&format!("handoff_files_served_total{{result=\"{result}\"}}")), "{result}");
        }

        // Discord's copy of the reply links the file by its name.
        let copy = d.discord.messages(thread).into_iter().find(|m| m.content.contains("Please fill this in")).unwrap();
        assert_eq!(copy.embeds.len(), 1, "{:#?}", copy.embeds);
        assert_eq!(copy.embeds[0]["title"], "📎 refund form.pdf");

        // Ada deletes the reply: its file goes with it.
        let delete = b.slack.user_delete(CHANNEL, &share_ts);
        assert_eq!(b.sender.event("EvFileGone", delete).await.status(), StatusCode::OK);
        d.settle().await;
        let res = fetch(&link).await;
        assert_eq!(res.status(), StatusCode::GONE);
        b.done().await;
    }

    async fn a_file_attached_in_discord_reaches_the_widget_and_the_slack_copy(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3, 4];
        let files = [("label.png", "image/png", png.clone()), ("notes.txt", "text/plain; charset=utf-8", b"hi".to_vec())];
        let id = d.discord.user_message_with_files(thread, discord_helpers::ADA, "", &files);
        d.taken_in(id).await;
        d.settle().await;
        let files = sent_files(&b);
        assert_eq!(files.len(), 1, "files alone are a reply");
        assert_eq!(files[0].len(), 2, "a type with parameters is its type: {files:?}");
        let text = fetch(&files[0][1]).await;
        assert_eq!(text.headers()["content-type"], "text/plain");
        assert_eq!(text.bytes().await.unwrap().to_vec(), b"hi");
        let res = fetch(&files[0][0]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/png");
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("inline;"));
        assert_eq!(res.bytes().await.unwrap().to_vec(), png);
        assert_eq!(d.discord.cdn_fetches().len(), 2, "read from Discord's CDN, once per fetch");
        // Slack's copy draws it.
        let copy = b.slack.replies(CHANNEL, &root).into_iter().find(|m| m.text.contains("(to the visitor)")).unwrap();
        let images: Vec<&Value> = copy.blocks.as_array().unwrap().iter().filter(|b| b["type"] == "image").collect();
        assert_eq!(images.len(), 1, "{:#}", copy.blocks);
        assert!(images[0]["image_url"].as_str().unwrap().contains("/label.png?expires="));

        // Deleted in Discord: Slack's copy is redrawn without the image (its old blocks do
        // not stay), marked.
        d.discord.user_delete(thread, id);
        let sql = format!("select count(*) from inbound_events where event_id = 'delete:{id}'");
        eventually("the deletion to be taken in", || async { (d.count(&sql).await == 1).then_some(()) }).await;
        d.settle().await;
        let copy = b.slack.message(CHANNEL, &copy.ts).unwrap();
        assert!(copy.text.ends_with("_(deleted for the visitor)_"), "{}", copy.text);
        assert!(copy.blocks.is_null() || copy.blocks.as_array().is_some_and(|b| b.is_empty()), "{:#}", copy.blocks);
        b.done().await;
    }

    async fn a_discord_attachment_whose_link_expired_is_read_through_a_fresh_one(db) {
        let (b, _root, thread) = both_platforms::opened(&db, &[]).await;
        let d = &b.d;
        // The link the gateway gives has expired by the time the widget fetches the file.
        d.discord.set_attachment_link_lifetime(std::time::Duration::ZERO);
        let id = d.discord.user_message_with_files(thread, discord_helpers::ADA, "the label", &[("label.pdf", "application/pdf", b"%PDF-1.7".to_vec())]);
        d.taken_in(id).await;
        d.settle().await;
        d.discord.set_attachment_link_lifetime(std::time::Duration::from_secs(3600));
        let res = fetch(&sent_files(&b)[0][0]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap().to_vec(), b"%PDF-1.7");
        let statuses: Vec<u16> = d.discord.cdn_requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [404, 200], "the expired link, then the fresh one");
        let routes: Vec<String> = d.discord.take_calls().into_iter().map(|c| c.route).collect();
        assert!(routes.contains(&"GET /channels/{channel_id}/messages/{message_id}".to_owned()), "{routes:?}");
        b.slack.take_calls();
        d.finish().await;
    }

    async fn oversized_and_forbidden_files_are_refused_with_a_warning_in_the_thread(db) {
        let (b, root, thread) = both_platforms::opened(&db, &[("HANDOFF_FILES_MAX_BYTES", "1000")]).await;
        let d = &b.d;
        let big = b.slack.add_file(ADA, "scan.pdf", "application/pdf", vec![7; 2000]);
        let exe = b.slack.add_file(ADA, "tool.exe", "application/x-msdownload", vec![1; 10]);
        let event = b.slack.user_file_share(CHANNEL, ADA, "", &root, &[big, exe]);
        let ts = event["ts"].as_str().unwrap().to_owned();
        assert_eq!(b.sender.event("EvFiles", event).await.status(), StatusCode::OK);
        d.settle().await;
        assert!(sent_files(&b).is_empty(), "nothing reached the visitor");
        assert_eq!(b.slack.message(CHANNEL, &ts).unwrap().reactions, ["warning"]);
        let note = b.slack.replies(CHANNEL, &root).into_iter().map(|m| m.text).find(|t| t.contains("was not sent")).expect("a thread note");
        assert!(note.contains("`scan.pdf` was not sent to the visitor: it is 2 KB, and files up to 1 KB are sent"), "{note}");
        assert!(note.contains("`tool.exe` was not sent to the visitor: files of type `application/x-msdownload` are not sent"), "{note}");

        // Discord: the same, and the text still goes.
        let id = d.discord.user_message_with_files(thread, discord_helpers::ADA, "see attached", &[("big.png", "image/png", vec![0; 2000])]);
        d.taken_in(id).await;
        d.settle().await;
        assert_eq!(d.visitor_replies(), ["see attached"]);
        assert_eq!(sent_files(&b), [Vec::<String>::new()]);
        assert_eq!(d.discord.message(thread, id).unwrap().reactions, ["⚠️", "✅"]);
        assert!(d.discord.messages(thread).iter().any(|m| m.content.contains("`big.png` was not sent to the visitor: it is 2 KB")));
        b.done().await;
    }
}
