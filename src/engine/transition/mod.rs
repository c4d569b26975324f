//! The assignment state machine (docs/behaviour.md#transitions): given a conversation,
//! who acts and what they ask, decide the new assignment or refuse, saying which rule.
//! It is pure so that Slack, Discord, the HTTP API and the widget platform all get the
//! same answer, and so that every rule can be tested without a database: the caller runs
//! it inside one transaction, applies routing if asked, and writes the result with a
//! version check.
//!
//! [`decide`] hands each command to its own function; the checks they share (who is an
//! operator, which statuses are open, eligibility, takeover) live in `rules`.

mod claim;
mod release;
mod reply;
mod resolve;
mod rules;
mod transfer;
mod widget;

#[cfg(test)]
mod table;
#[cfg(test)]
mod tests;

use super::actor::Actor;
use super::ids::{OperatorId, TeamId};
use super::model::{Assignment, ChangeReason, Conversation, Policy, Resolution, SharedFile};

/// What someone asks of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The widget platform hands the conversation to humans.
    HandOff,
    /// Accept. `takeover` asks to take it from its current owner (managers by default).
    Claim {
        takeover: bool,
    },
    Reject,
    Transfer(TransferTarget),
    Unassign,
    Resolve(Resolution),
    /// The widget platform closed the conversation.
    Close,
    /// The bridge: the operator routing gave it to did not accept it within the
    /// widget's `accept_within`.
    Timeout {
        operator: OperatorId,
    },
    /// An operator's message. `explicit` is true for `/handoff reply` and the HTTP API,
    /// false for a plain thread message (which `reply_mode = command` keeps in the team).
    Reply {
        text: String,
        explicit: bool,
        takeover: bool,
        /// Files shared with it.
        files: Vec<SharedFile>,
    },
}

impl Command {
    /// The command's name, as metrics and logs call it.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::HandOff => "handoff",
            Command::Claim { takeover: false } => "claim",
            Command::Claim { takeover: true } => "takeover",
            Command::Reject => "reject",
            Command::Transfer(_) => "transfer",
            Command::Unassign => "unassign",
            Command::Resolve(_) => "resolve",
            Command::Close => "close",
            Command::Reply { .. } => "reply",
            Command::Timeout { .. } => "timeout",
        }
    }

    /// Whether carrying it out may route the conversation to an operator (a handoff,
    /// a reject or unassign of one's own, a transfer to a team).
    pub fn may_route(&self) -> bool {
        matches!(
            self,
            Command::HandOff
                | Command::Reject
                | Command::Unassign
                | Command::Transfer(TransferTarget::Team(_))
                | Command::Timeout { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Operator(OperatorId),
    Team(TeamId),
    Bot,
}

/// Where routing should look for an owner after this change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScope {
    /// The widget's eligible operators, by the widget's mode and cursor.
    Widget,
    /// A team's members, by the widget's mode and the team's cursor.
    Team(TeamId),
}

/// Why the engine said no. Each carries enough for a front door to tell the user why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Someone else owns it; `takeover_allowed` says whether this actor could take over.
    AlreadyAssigned { owner: OperatorId, takeover_allowed: bool },
    /// A permission rule forbids it; the text names the rule.
    Forbidden(String),
    /// The conversation is not in a state where this makes sense.
    InvalidState(String),
}

/// What happened, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    HandedOff,
    Claimed,
    TookOver {
        from: OperatorId,
    },
    Rejected,
    /// The operator routing gave it to did not accept it in time; it was routed on.
    TimedOut,
    Transferred,
    ReturnedToBot,
    Unassigned,
    Resolved,
    Closed,
    Replied {
        self_claimed: bool,
        took_over: bool,
    },
    InternalNote,
    /// A thread message kept inside the team (`reply_mode = command`).
    Discussion,
    /// Nothing to do; the text says why (e.g. "already yours").
    Unchanged(&'static str),
}

/// A new assignment to write, with its audit reason and follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub to: Assignment,
    /// Route after writing `to` (which is then unassigned).
    pub route: Option<RouteScope>,
    /// Record this operator as having declined it.
    pub decline: Option<OperatorId>,
    /// The decline is a lapse: they let it time out rather than rejecting it (shown
    /// apart, skipped by routing all the same).
    pub timed_out: bool,
    /// Forget earlier declines (a new handoff starts afresh).
    pub clear_declines: bool,
    /// The audit row's reason.
    pub reason: ChangeReason,
    /// Tell the widget platform to resume the AI, with these resolve details.
    pub handback: Option<Resolution>,
}

impl Change {
    /// A plain change to `to`: no routing, declines or handback.
    pub fn new(to: Assignment, reason: ChangeReason) -> Self {
        Self {
            to,
            route: None,
            decline: None,
            timed_out: false,
            clear_declines: false,
            reason,
            handback: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub change: Option<Change>,
    /// An operator reply to send to the visitor.
    pub relay: Option<String>,
}

impl Decision {
    fn changed(outcome: Outcome, change: Change) -> Self {
        Self {
            outcome,
            change: Some(change),
            relay: None,
        }
    }

    /// Nothing is written; `outcome` says what happened instead.
    fn kept(outcome: Outcome) -> Self {
        Self {
            outcome,
            change: None,
            relay: None,
        }
    }

    fn unchanged(why: &'static str) -> Self {
        Self::kept(Outcome::Unchanged(why))
    }
}

/// The facts a decision depends on besides the conversation itself.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub actor: &'a Actor,
    /// Whether the actor is in the widget's eligible set (empty set = everyone).
    pub actor_eligible: bool,
    pub policy: &'a Policy,
}

/// Decides what `cmd` does to `conv` when `ctx.actor` asks, or why it may not.
pub fn decide(conv: &Conversation, ctx: &Context<'_>, cmd: &Command) -> Result<Decision, Refusal> {
    let a = &conv.assignment;
    match cmd {
        Command::HandOff => Ok(widget::hand_off(a)),
        Command::Close => Ok(widget::close(a)),
        Command::Claim { takeover } => claim::claim(a, ctx, *takeover),
        Command::Reject => release::reject(a, &conv.declined, ctx),
        Command::Unassign => release::unassign(a, ctx),
        Command::Transfer(target) => transfer::transfer(a, ctx, target),
        Command::Resolve(resolution) => resolve::resolve(a, ctx, resolution),
        Command::Reply {
            text,
            explicit,
            takeover,
            files,
        } => reply::reply(a, ctx, text, !files.is_empty(), *explicit, *takeover),
        Command::Timeout { operator } => Ok(release::time_out(a, *operator)),
    }
}
