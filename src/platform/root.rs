//! What a conversation's thread root offers, the same on every platform: the buttons
//! its state allows and the one-line status. Each adapter draws them in its own way
//! (Block Kit, Discord components); the choice of what to show is made once, here.

use crate::engine::Status;
use crate::service::ConversationView;

/// A thread-root button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootAction {
    Accept,
    Reject,
    Transfer,
    Unassign,
    Resolve,
    Handback,
}

/// How a button stands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    Plain,
    Primary,
    Danger,
}

impl RootAction {
    pub fn label(self) -> &'static str {
        match self {
            RootAction::Accept => "Accept",
            RootAction::Reject => "Reject",
            RootAction::Transfer => "Transfer",
            RootAction::Unassign => "Unassign",
            RootAction::Resolve => "Resolve",
            RootAction::Handback => "Hand back to bot",
        }
    }
}

/// The buttons the state allows (`docs/behaviour.md#in-slack`). A conversation
/// routed to someone who has not accepted it yet also offers them Accept and Reject
/// (Reject routes it on).
pub fn actions(c: &ConversationView) -> Vec<(RootAction, Emphasis)> {
    use Emphasis::*;
    use RootAction::*;
    match (c.status, &c.assignee) {
        (Status::HandedOff | Status::Active, None) => vec![(Accept, Primary), (Reject, Plain), (Transfer, Plain)],
        (Status::HandedOff, Some(_)) => vec![
            (Accept, Primary),
            (Reject, Plain),
            (Transfer, Plain),
            (Unassign, Plain),
            (Resolve, Plain),
            (Handback, Danger),
        ],
        (Status::Active, Some(_)) => vec![
            (Transfer, Plain),
            (Unassign, Plain),
            (Resolve, Primary),
            (Handback, Danger),
        ],
        _ => Vec::new(),
    }
}

/// When a routed conversation is routed on if not accepted, drawn by `time` (a time
/// each reader sees in their own zone; never a countdown, which would need an edit a
/// minute): "Routed on at 10:42 if not accepted".
pub fn accept_by_line(c: &ConversationView, time: impl Fn(i64) -> String) -> Option<String> {
    c.accept_by_ms
        .map(|ms| format!("Routed on at {} if not accepted", time(ms / 1000)))
}

/// `HH:MM` UTC of a unix time, for where a platform cannot draw a reader's own time.
pub fn utc_clock(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| format!("{:02}:{:02} UTC", t.hour(), t.minute()))
        .unwrap_or_default()
}

/// The one-line status, with `mention` drawing the assignee (a platform mention, or
/// their name): Unassigned / Assigned to @x / Resolved / Back with the bot.
pub fn status_line(c: &ConversationView, nobody_available: bool, mention: impl Fn(&str) -> String) -> String {
    match (c.status, &c.assignee) {
        (Status::Resolved, Some(a)) => format!("Resolved (by {})", mention(&a.name)),
        (Status::Resolved, None) => "Resolved".into(),
        (Status::Bot, _) => "Back with the bot".into(),
        (Status::Active, Some(a)) => format!("Assigned to {}", mention(&a.name)),
        (_, Some(a)) => format!("Assigned to {} (waiting for them to accept)", mention(&a.name)),
        (_, None) if nobody_available => "Unassigned: nobody is available, waiting for someone to accept".into(),
        (_, None) => "Unassigned".into(),
    }
}
