//! The platform seam and its registry. A chat platform is an adapter: it gives the
//! service a [`Mirror`] (which outbox rows a change's effects become on it), and once
//! started, the outbox [`Target`]s that deliver those rows and act on its inbound
//! events, and its own routes. The core holds a list of adapters and never names one;
//! adding a platform means a folder of its own and one line in the registry
//! (`crate::startup::adapters`, see `docs/architecture.md#adding-a-platform`).
//!
//! [`handoff`] is what the `/handoff` command means on every platform; each platform
//! only parses its own text form of it and renders the answers.

pub mod attachments;
pub mod downloads;
pub mod handoff;
pub mod root;

use crate::engine::SharedFile;
use crate::engine::effects::{Effect, Notice};
use crate::outbox::Target;
use crate::service::{Mirror, Receipt, Service};
use axum::Router;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A chat platform behind the seam.
pub trait Adapter: Send + Sync {
    /// Its name: the key of its references and of its mirror's outbox rows.
    fn name(&self) -> &'static str;

    /// What a change's effects become on this platform. Asked for before the service
    /// exists, because the service writes those rows in its own transactions.
    fn mirror(&self) -> Arc<dyn Mirror>;

    /// Starts the adapter on the service; from here on it acts through service methods
    /// only.
    fn start(self: Box<Self>, service: &Service) -> anyhow::Result<Started>;
}

/// What a started adapter brings to the application.
pub struct Started {
    /// Its HTTP routes (with its own state), merged into the application's router.
    pub routes: Router,
    /// The outbox targets it delivers, by name.
    pub targets: Vec<(&'static str, Arc<dyn Target>)>,
    /// What it runs for as long as the application serves (a gateway connection): each
    /// is started with the application and must end soon after its token is cancelled.
    pub background: Vec<Background>,
    /// Where it reads the files its people share, for the bridge to serve them.
    pub files: Option<Arc<dyn FileSource>>,
}

/// Reads, for the bridge's file links, the files people shared on one platform.
#[async_trait::async_trait]
pub trait FileSource: Send + Sync {
    /// The file the adapter stored as `source`, as the platform's HTTP answer whose body
    /// is the file; `Err` says why it cannot be had.
    async fn open(&self, source: &str) -> Result<reqwest::Response, String>;
}

/// A long-running task of an adapter, started once the application serves.
pub type Background = Box<dyn FnOnce(CancellationToken) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The private answer to a button an adapter cannot read: one from a message an
/// older version rendered, or forged.
pub const UNKNOWN_BUTTON: &str =
    "That button is not one this bridge knows (it may be from an older message), so nothing was done.";

/// The row a chat platform's mirror writes for one of the engine's effects — the same
/// kind and payload on every platform, each delivering it its own way — or `None` for
/// effects that are the widget platform's. Rows carry ids, so the delivery renders the
/// latest state.
pub fn mirror_row(conversation: &str, effect: &Effect) -> Option<(&'static str, serde_json::Value)> {
    use serde_json::json;
    Some(match effect {
        Effect::OpenThreads => ("open_thread", json!({"conversation": conversation})),
        Effect::RenderThreads => ("render", json!({"conversation": conversation})),
        Effect::NotifyAssignee(op) => ("dm", json!({"conversation": conversation, "operator": op.0})),
        Effect::MirrorMessage { message_id } => {
            ("mirror", json!({"conversation": conversation, "message": message_id}))
        }
        Effect::MirrorEdit { message_id } => (
            "redraw_line",
            json!({"conversation": conversation, "message": message_id}),
        ),
        Effect::Notice(notice) => (
            "thread_notice",
            json!({"conversation": conversation, "notice": notice_json(*notice)}),
        ),
        Effect::Nudge {
            operator,
            waited,
            since,
        } => (
            "dm",
            json!({"conversation": conversation, "operator": operator.0, "waited": waited.to_string(), "since": since}),
        ),
        Effect::WidgetAssignment
        | Effect::WidgetHandback(_)
        | Effect::WidgetMessage { .. }
        | Effect::WidgetEdit { .. }
        | Effect::WidgetDelete { .. } => return None,
    })
}

/// A thread notice as a `thread_notice` row carries it.
fn notice_json(notice: Notice) -> serde_json::Value {
    use serde_json::json;
    match notice {
        Notice::NobodyAccepted => json!({"kind": "nobody_accepted"}),
        Notice::VisitorWaiting { waited } => json!({"kind": "visitor_waiting", "waited_ms": waited.as_millis()}),
    }
}

/// The notice a `thread_notice` row's payload carries; `None` if it is not one.
pub fn notice_of(payload: &serde_json::Value) -> Option<Notice> {
    let v = &payload["notice"];
    match v["kind"].as_str()? {
        "nobody_accepted" => Some(Notice::NobodyAccepted),
        "visitor_waiting" => Some(Notice::VisitorWaiting {
            waited: crate::engine::Window::from_millis(v["waited_ms"].as_i64()?).ok()?,
        }),
        _ => None,
    }
}

/// The reaction a receipt puts on a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// ✅ The visitor got it.
    Delivered,
    /// ✏️ The visitor got the edit.
    Edited,
    /// ⚠️ It did not reach the visitor.
    Warning,
}

/// What a receipt shows on every platform: a reaction on the reply, and a thread note.
pub fn receipt_plan(what: Receipt, failure: Option<&str>) -> (Option<Reaction>, Option<String>) {
    match (what, failure) {
        (Receipt::Sent, None) => (Some(Reaction::Delivered), None),
        (Receipt::Sent, Some(why)) => (
            Some(Reaction::Warning),
            Some(format!("⚠️ That reply could not be delivered to the visitor ({why}).")),
        ),
        (Receipt::Edited, None) => (Some(Reaction::Edited), None),
        (Receipt::Edited, Some(why)) => (
            Some(Reaction::Warning),
            Some(format!(
                "⚠️ That edit could not be delivered to the visitor ({why}): they still see the reply as it was."
            )),
        ),
        // The reply is gone from the thread: only a note can say what became of it.
        (Receipt::Deleted, None) => (None, Some("🗑️ A reply was deleted for the visitor too.".into())),
        (Receipt::Deleted, Some(why)) => (
            None,
            Some(format!(
                "⚠️ A deleted reply could not be deleted for the visitor ({why}): they still see it."
            )),
        ),
    }
}

/// Sorts the files shared with a thread message into those that go with it and, for
/// the others, the thread note that says why each stays behind. A note's or team
/// talk's files go nowhere outside the team, so none is refused.
pub fn screen_files(service: &Service, text: &str, files: Vec<SharedFile>) -> (Vec<SharedFile>, Option<String>) {
    let policy = service.policy();
    let private = policy.is_note(text) || policy.reply_mode == crate::engine::ReplyMode::Command;
    if private {
        return (files, None);
    }
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for f in files {
        match service.file_rules().check(&f) {
            Ok(()) => kept.push(f),
            Err(why) => refused.push(format!("⚠️ `{}` was not sent to the visitor: {why}.", f.name)),
        }
    }
    let note = (!refused.is_empty()).then(|| refused.join("\n"));
    (kept, note)
}

/// The transcript line a `mirror` or `redraw_line` row names.
pub fn line_id(payload: &serde_json::Value) -> Result<i64, crate::outbox::Delivery> {
    payload["message"]
        .as_i64()
        .ok_or_else(|| crate::outbox::Delivery::Dead("payload has no `message`".into()))
}

/// The line a `redraw_line` row names, with where it stands on `platform`; `None` if it
/// is not shown there (yet: it is posted as it is now when it is).
pub async fn line_to_redraw(
    service: &Service,
    platform: &str,
    payload: &serde_json::Value,
) -> Result<Option<(crate::service::Line, crate::service::MessageRef)>, crate::outbox::Delivery> {
    service
        .line_to_redraw(platform, line_id(payload)?)
        .await
        .map_err(|e| crate::outbox::Delivery::Retry(format!("service: {e}")))
}

/// What a transcript line's thread copy says of it after the fact, if anything.
pub fn line_mark(line: &crate::service::Line) -> Option<&'static str> {
    use crate::engine::Author;
    match (line.deleted, line.edited, line.author) {
        (true, _, Author::Operator) => Some("deleted for the visitor"),
        (true, _, _) => Some("deleted"),
        (false, true, _) => Some("edited"),
        (false, false, _) => None,
    }
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn trim(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits `text` into pieces of at most `max` characters, at line breaks or spaces
/// where it can.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > max {
        let window = &rest[..max];
        let cut = window
            .iter()
            .rposition(|c| *c == '\n')
            .or_else(|| window.iter().rposition(|c| c.is_whitespace()))
            .filter(|p| *p > max / 2)
            .map(|p| p + 1)
            .unwrap_or(max);
        out.push(rest[..cut].iter().collect::<String>().trim_end().to_owned());
        rest = rest[cut..].to_vec();
    }
    out.push(rest.into_iter().collect());
    out
}

/// Times a platform's wait for the answer that acknowledges an interaction (a click, a
/// command): from when the handler starts to when it returns, whichever way it returns.
/// Recorded as `handoff_interaction_ack_seconds{platform}`.
pub struct AckTimer {
    platform: &'static str,
    started: std::time::Instant,
}

impl AckTimer {
    pub fn start(platform: &'static str) -> AckTimer {
        AckTimer {
            platform,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for AckTimer {
    fn drop(&mut self) {
        metrics::histogram!("handoff_interaction_ack_seconds", "platform" => self.platform)
            .record(self.started.elapsed().as_secs_f64());
    }
}
