//! Letting a conversation go without ending it: an operator declines it (Reject), or its
//! assignee or a manager puts it back in the queue (Unassign).

use super::rules::{assign, assignee_or_manager, needs_operator, require_open};
use super::{Change, Context, Decision, Outcome, Refusal, RouteScope};
use crate::engine::OperatorId;
use crate::engine::model::{Assignment, ChangeReason, Status};

/// The clicker is recorded as declining it, so routing skips them for it. While
/// unassigned that is all; their own conversation is unassigned and routed again (among
/// its team's members if it has a team). Declining an unassigned conversation twice
/// changes nothing. Nobody can reject someone else's conversation.
pub(super) fn reject(a: &Assignment, declined: &[OperatorId], ctx: &Context<'_>) -> Result<Decision, Refusal> {
    let me = needs_operator(ctx.actor, "reject a conversation")?;
    require_open(a.status, "rejected")?;
    let change = match a.assignee {
        None if declined.contains(&me) => return Ok(Decision::unchanged("you have already declined it")),
        None => Change::new(a.clone(), ChangeReason::Reject),
        Some(owner) if owner == me => Change {
            route: Some(a.team.map_or(RouteScope::Widget, RouteScope::Team)),
            ..Change::new(assign(Status::HandedOff, None, a.team), ChangeReason::Reject)
        },
        Some(_) => {
            return Err(Refusal::Forbidden(
                "only its assignee can reject a conversation that is assigned".into(),
            ));
        }
    };
    Ok(Decision::changed(
        Outcome::Rejected,
        Change {
            decline: Some(me),
            ..change
        },
    ))
}

/// The operator routing gave it to let it lapse (the widget's `accept_within`): they
/// are recorded as timed out, skipped by routing for it like a decline, and it is
/// routed again. Only while it still waits for that very operator to accept; anything
/// else that happened to it meanwhile wins, and the timer changes nothing.
pub(super) fn time_out(a: &Assignment, operator: OperatorId) -> Decision {
    if a.status != Status::HandedOff || a.assignee != Some(operator) {
        return Decision::unchanged("no longer waiting for that operator to accept");
    }
    Decision::changed(
        Outcome::TimedOut,
        Change {
            route: Some(a.team.map_or(RouteScope::Widget, RouteScope::Team)),
            decline: Some(operator),
            timed_out: true,
            ..Change::new(assign(Status::HandedOff, None, a.team), ChangeReason::Timeout)
        },
    )
}

/// Back in the queue, unassigned, and not routed again.
pub(super) fn unassign(a: &Assignment, ctx: &Context<'_>) -> Result<Decision, Refusal> {
    require_open(a.status, "unassigned")?;
    if a.assignee.is_none() {
        return Ok(Decision::unchanged("already unassigned"));
    }
    assignee_or_manager(a, ctx, "unassign a conversation")?;
    Ok(Decision::changed(
        Outcome::Unassigned,
        Change::new(assign(Status::HandedOff, None, a.team), ChangeReason::Unassign),
    ))
}
