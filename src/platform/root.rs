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
