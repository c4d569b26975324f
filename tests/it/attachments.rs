//! Attachments and edits (`docs/widget-api.md#attachments`): what a visitor attaches is
//! shown in the threads (images drawn, other files linked by name), in the transcript
//! posted at handoff as well as later.

use crate::both_platforms::{self, slack_root};
use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers;
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
        s.discord.take_calls();
        b.slack.take_calls();
        s.finish().await;
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
