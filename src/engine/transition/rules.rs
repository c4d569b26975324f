//! The checks several commands share, each refusing with the rule in words
//! (docs/behaviour.md#permissions), and the one way every command takes a conversation.

use super::{Change, Context, Refusal};
use crate::engine::actor::Actor;
use crate::engine::ids::{OperatorId, TeamId};
use crate::engine::model::{Assignment, ChangeReason, Policy, Status, TakeoverPolicy};

pub(super) fn assign(status: Status, assignee: Option<OperatorId>, team: Option<TeamId>) -> Assignment {
    Assignment { status, assignee, team }
}

/// `me` now works on it: `active`, assigned to `me`, in the same team.
pub(super) fn active_for(a: &Assignment, me: OperatorId, reason: ChangeReason) -> Change {
    Change::new(assign(Status::Active, Some(me), a.team), reason)
}

/// Claims and replies need an operator of their own; the admin token and the bridge act
/// as nobody.
pub(super) fn needs_operator(actor: &Actor, what: &str) -> Result<OperatorId, Refusal> {
    actor.operator().ok_or_else(|| {
        Refusal::Forbidden(format!(
            "only an operator can {what}; the admin token acts as no operator (use an operator's token)"
        ))
    })
}

/// Operators work only on conversations the team has: `handed_off` or `active`.
pub(super) fn require_open(status: Status, what: &str) -> Result<(), Refusal> {
    match status {
        Status::HandedOff | Status::Active => Ok(()),
        Status::Bot => Err(Refusal::InvalidState(format!(
            "the bot has this conversation; it can be {what} after the widget hands it off"
        ))),
        Status::Resolved => Err(Refusal::InvalidState(format!(
            "the conversation is resolved; it can be {what} after a new handoff"
        ))),
    }
}

/// Transfer, unassign and resolve: the assignee, or anyone with manager rights.
pub(super) fn assignee_or_manager(a: &Assignment, ctx: &Context<'_>, what: &str) -> Result<(), Refusal> {
    let owner_is_me = a.assignee.is_some() && a.assignee == ctx.actor.operator();
    if owner_is_me || ctx.actor.is_manager() {
        Ok(())
    } else {
        Err(Refusal::Forbidden(format!("only its assignee or a manager can {what}")))
    }
}

/// Picking up a conversation needs the widget's eligibility, or manager rights.
fn may_pick_up(ctx: &Context<'_>) -> Result<(), Refusal> {
    if ctx.actor_eligible || ctx.actor.is_manager() {
        Ok(())
    } else {
        Err(Refusal::Forbidden(
            "only operators eligible for this widget can pick up its conversations; a manager can add you".into(),
        ))
    }
}

fn takeover_rule(policy: &Policy) -> String {
    match policy.takeover {
        TakeoverPolicy::Never => "taking over is turned off in this workspace (takeover = never)".into(),
        // `Everyone` never refuses; `Managers` is the only rule left.
        _ => "taking over someone else's conversation needs the manager role".into(),
    }
}

/// From whom `me` takes a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Taking {
    /// Nobody had it.
    Unassigned,
    /// It was already `me`'s.
    Mine,
    /// Someone else had it: a takeover.
    From(OperatorId),
}

/// The checks every way of taking a conversation passes: an Accept, a transfer to
/// oneself and a reply that claims. Picking it up needs eligibility; taking it from
/// someone else also needs an explicit takeover that the workspace's policy allows.
pub(super) fn take(a: &Assignment, ctx: &Context<'_>, me: OperatorId, takeover: bool) -> Result<Taking, Refusal> {
    match a.assignee {
        None => {
            may_pick_up(ctx)?;
            Ok(Taking::Unassigned)
        }
        Some(owner) if owner == me => Ok(Taking::Mine),
        Some(owner) => {
            let by_policy = ctx.policy.may_take_over(ctx.actor.role());
            let eligible = may_pick_up(ctx);
            if !takeover {
                return Err(Refusal::AlreadyAssigned {
                    owner,
                    takeover_allowed: by_policy && eligible.is_ok(),
                });
            }
            if !by_policy {
                return Err(Refusal::Forbidden(takeover_rule(ctx.policy)));
            }
            eligible?;
            Ok(Taking::From(owner))
        }
    }
}
