//! `handoff-bridge sandbox` (`docs/sandbox.md`): the service with the stand-ins in-process,
//! driven the way its page drives it. A visitor asks for a human, Ada accepts in Slack,
//! replies, writes a note and resolves in Discord, and each step shows where the page
//! reads it. A restart on the same database keeps the conversation.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::sandbox::{Sandbox, SandboxArgs};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

async fn start(db: &Db) -> Sandbox {
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url.clone()),
        ("HANDOFF_LISTEN", "127.0.0.1:0".to_owned()),
    ]);
    Sandbox::start(None, &|k| env.get(k).cloned(), &SandboxArgs { reset: false })
        .await
        .expect("the sandbox starts")
}

struct Page {
    base: String,
    http: reqwest::Client,
}

impl Page {
    fn of(sandbox: &Sandbox) -> Page {
        Page {
            base: format!("http://{}", sandbox.local_addr()),
            http: reqwest::Client::new(),
        }
    }

    async fn state(&self) -> Value {
        self.http
            .get(format!("{}/sandbox/state", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    /// The page's state once `pick` finds something in it.
    async fn until<T>(&self, what: &str, pick: impl Fn(&Value) -> Option<T>) -> T {
        eventually(what, || async { pick(&self.state().await) }).await
    }

    async fn api(&self, token: &str, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        res.json().await.unwrap()
    }
}

fn operator(state: &Value, name: &str) -> (i64, String) {
    let o = state["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .expect(name);
    (o["id"].as_i64().unwrap(), o["token"].as_str().unwrap().to_owned())
}

fn buttons(message: &Value) -> Vec<String> {
    message["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["label"].as_str().unwrap().to_owned())
        .collect()
}

on_both_databases! {
    async fn a_visitor_ada_and_the_page_go_through_a_whole_conversation_and_a_restart_keeps_it(db) {
        let sandbox = start(&db).await;
        let page = Page::of(&sandbox);
        for (path, what) in [("/sandbox", "handoff-bridge"), ("/sandbox/app.js", "/sandbox/state"), ("/sandbox/app.css", "grid")] {
            let body = page.http.get(format!("{}{path}", page.base)).send().await.unwrap().text().await.unwrap();
            assert!(body.contains(what), "{path}");
        }
        let first = page.state().await;
        let names: Vec<&str> = first["operators"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Ada", "Bo", "Max"]);
        let (ada, ada_token) = operator(&first, "Ada");

        // The visitor asks the manual widget for a human: a thread on both platforms.
        let res = page.http.post(format!("{}/sandbox/visitor", page.base))
            .json(&json!({"widget": "docs", "text": "The install guide fails at step 3", "handoff": true}))
            .send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let c = res.headers()["x-sandbox-conversation"].to_str().unwrap().to_owned();
        let root = page.until("a Slack thread with Accept", |s| {
            let t = s["slack"]["threads"].as_array()?.first()?.clone();
            (buttons(&t["root"]).contains(&"Accept".to_owned())).then_some(t["root"].clone())
        }).await;
        assert!(root["text"].as_str().unwrap().contains("The install guide fails at step 3"), "{root}");
        page.until("a Discord thread", |s| s["discord"]["threads"].as_array()?.first()?["thread"].as_str().map(str::to_owned)).await;

        // Ada accepts in Slack: the root shows her, the visitor's panel says so.
        let accept = root["buttons"].as_array().unwrap().iter().find(|b| b["label"] == "Accept").unwrap();
        let (st, _) = page.post("/sandbox/slack/click", json!({
            "operator": ada, "ts": root["ts"], "action_id": accept["action_id"], "value": accept["value"],
        })).await;
        assert_eq!(st, StatusCode::OK);
        page.until("the root to show Ada", |s| {
            let r = &s["slack"]["threads"][0]["root"];
            (r["text"].as_str()?.contains("Ada") && !buttons(r).contains(&"Accept".to_owned())).then_some(())
        }).await;
        let view = page.api(&ada_token, &format!("/v1/conversations/{c}")).await;
        assert_eq!((view["status"].as_str(), view["assignee"]["name"].as_str()), (Some("active"), Some("Ada")));

        // A reply reaches the visitor; a note stays in the team.
        let ts = root["ts"].as_str().unwrap();
        for text in ["Hi, Ada here: which version?", "// probably the old installer"] {
            let (st, _) = page.post("/sandbox/slack/say", json!({"operator": ada, "thread_ts": ts, "text": text})).await;
            assert_eq!(st, StatusCode::OK);
        }
        page.until("the reply in the visitor's panel", |s| {
            let chat = s["chats"].as_array()?.iter().find(|ch| ch["conversation"] == c.as_str())?.clone();
            chat["lines"].as_array()?.iter().any(|l| l["from"] == "operator" && l["text"] == "Hi, Ada here: which version?").then_some(())
        }).await;
        let note_in_thread = page.until("the note in the thread", |s| {
            s["slack"]["threads"][0]["replies"].as_array()?.iter().any(|r| r["text"] == "// probably the old installer").then_some(())
        }).await;
        let () = note_in_thread;
        let lines = page.state().await["chats"][0]["lines"].to_string();
        assert!(!lines.contains("old installer"), "the visitor never sees a note: {lines}");
        // Her inbox has it, and a command answers privately.
        let mine = page.api(&ada_token, "/v1/conversations?filter=mine").await;
        assert!(mine.as_array().unwrap().iter().any(|v| v["id"] == c.as_str()));
        let (st, said) = page.post("/sandbox/slack/command", json!({"operator": ada, "text": "status"})).await;
        assert_eq!(st, StatusCode::OK);
        assert!(said["answer"]["text"].as_str().unwrap_or_default().contains(&c), "{said}");

        // Resolved in Discord: both roots lose their buttons, and the trail shows it all.
        let (channel, message, resolve) = page.until("Resolve on the Discord root", |s| {
            let r = s["discord"]["threads"][0]["root"].clone();
            let b = r["buttons"].as_array()?.iter().find(|b| b["label"] == "Resolve")?.clone();
            Some((r["channel"].clone(), r["id"].clone(), b["custom_id"].clone()))
        }).await;
        let (st, _) = page.post("/sandbox/discord/click", json!({"operator": ada, "channel": channel, "message": message, "custom_id": resolve})).await;
        assert_eq!(st, StatusCode::OK);
        // Discord opens the Resolve modal; the page shows it as a form and submits it.
        let modal = page.until("the Resolve modal", |s| {
            let o = s["operators"].as_array()?.iter().find(|o| o["name"] == "Ada")?.clone();
            o["modals"].as_array()?.iter().find(|m| m["platform"] == "discord").cloned()
        }).await;
        let fields: Vec<&str> = modal["fields"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert!(fields.contains(&"outcome"), "{modal}");
        let values: serde_json::Map<String, Value> = fields.iter().map(|f| ((*f).to_owned(), json!(format!("sandbox {f}")))).collect();
        let (st, _) = page.post("/sandbox/modal", json!({
            "operator": ada, "platform": "discord", "id": modal["id"], "values": values,
            "channel": modal["channel"], "message": modal["message"],
        })).await;
        assert_eq!(st, StatusCode::OK);
        page.until("both roots without buttons", |s| {
            let slack = buttons(&s["slack"]["threads"][0]["root"]);
            let discord = buttons(&s["discord"]["threads"][0]["root"]);
            (slack.is_empty() && discord.is_empty()).then_some(())
        }).await;
        let detail = page.api(&ada_token, &format!("/v1/conversations/{c}")).await;
        assert_eq!(detail["status"], "resolved");
        let trail: Vec<&str> = detail["audit"].as_array().unwrap().iter().map(|a| a["to_status"].as_str().unwrap()).collect();
        assert_eq!(trail, ["handed_off", "active", "resolved"]);

        // Slack's Transfer modal, as the page gets it: a select of operators, a box for
        // "Back to the bot". Two destinations are refused under the field and the modal
        // stays; one goes through and closes it.
        let res = page.http.post(format!("{}/sandbox/visitor", page.base))
            .json(&json!({"widget": "docs", "text": "Can someone check my invoice?", "handoff": true}))
            .send().await.unwrap();
        let second = res.headers()["x-sandbox-conversation"].to_str().unwrap().to_owned();
        let root = page.until("the second Slack thread", |s| {
            s["slack"]["threads"].as_array()?.iter()
                .find(|t| t["root"]["text"].as_str().is_some_and(|x| x.contains("check my invoice")) && !t["root"]["buttons"].as_array().is_some_and(|b| b.is_empty()))
                .map(|t| t["root"].clone())
        }).await;
        let transfer = root["buttons"].as_array().unwrap().iter().find(|b| b["label"] == "Transfer").unwrap();
        let (st, _) = page.post("/sandbox/slack/click", json!({
            "operator": ada, "ts": root["ts"], "action_id": transfer["action_id"], "value": transfer["value"],
        })).await;
        assert_eq!(st, StatusCode::OK);
        let slack_modal = |s: &Value| {
            let o = s["operators"].as_array()?.iter().find(|o| o["name"] == "Ada")?.clone();
            o["modals"].as_array()?.iter().find(|m| m["platform"] == "slack").cloned()
        };
        let modal = page.until("the Slack Transfer modal", slack_modal).await;
        let field = |id: &str| modal["fields"].as_array().unwrap().iter().find(|f| f["id"] == id).cloned().unwrap_or_else(|| panic!("{id}: {modal}"));
        assert_eq!(field("operator")["kind"], "select");
        assert_eq!(field("bot")["kind"], "checkboxes");
        let bo = field("operator")["options"].as_array().unwrap().iter()
            .find(|o| o["text"].as_str().is_some_and(|t| t.starts_with("Bo"))).unwrap()["value"].clone();
        let (st, said) = page.post("/sandbox/modal", json!({
            "operator": ada, "platform": "slack", "id": modal["id"], "values": {"operator": bo, "bot": "bot"},
        })).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(said["answer"]["response_action"], "errors", "{said}");
        let refused = page.until("the refusal under the field", |s| {
            let m = slack_modal(s)?;
            m["errors"]["bot"].as_str().map(str::to_owned)
        }).await;
        assert!(refused.contains("exactly one destination"), "{refused}");
        let (st, _) = page.post("/sandbox/modal", json!({
            "operator": ada, "platform": "slack", "id": modal["id"], "values": {"operator": bo, "bot": ""},
        })).await;
        assert_eq!(st, StatusCode::OK);
        page.until("the Transfer modal closed", |s| slack_modal(s).is_none().then_some(())).await;
        let moved = page.api(&ada_token, &format!("/v1/conversations/{second}")).await;
        assert_eq!(moved["assignee"]["name"], "Bo", "{moved}");

        // Bad input from the page gets a clear refusal.
        let (st, body) = page.post("/sandbox/visitor", json!({"widget": "nope", "text": "x"})).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(body["error"]["message"].as_str().unwrap().contains("nope"));

        // Stopped and started again on the same database: the conversation is still there,
        // and the demo operators are the same people.
        sandbox.stop().await.unwrap();
        let again = start(&db).await;
        let page = Page::of(&again);
        let state = page.state().await;
        let (ada_again, token) = operator(&state, "Ada");
        assert_eq!(ada_again, ada);
        let all = page.api(&token, "/v1/conversations?filter=all").await;
        assert!(all.as_array().unwrap().iter().any(|v| v["id"] == c.as_str() && v["status"] == "resolved"), "{all}");
        again.stop().await.unwrap();
    }
}
