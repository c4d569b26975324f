//! Transfer: to another operator, to a team (routed among its members), or back to the
//! bot. The assignee, managers, and anyone while it is unassigned may transfer; a
//! transfer to oneself is a claim and passes the claim's checks instead.

use super::rules::{assign, assignee_or_manager, require_open};
use super::{Change, Context, Decision, Outcome, Refusal, RouteScope, TransferTarget, claim};
use crate::engine::ids::OperatorId;
use crate::engine::model::{Assignment, ChangeReason, Resolution, Status};

pub(super) fn transfer(a: &Assignment, ctx: &Context<'_>, target: &TransferTarget) -> Result<Decision, Refusal> {
    if let TransferTarget::Operator(to) = target
        && ctx.actor.operator() == Some(*to)
    {
        // Eligibility, and no taking it from its owner without an explicit takeover.
        return claim::claim(a, ctx, false);
    }
    require_open(a.status, "transferred")?;
    if a.assignee.is_some() {
        assignee_or_manager(a, ctx, "transfer an assigned conversation")?;
    }
    Ok(match target {
        TransferTarget::Operator(to) => to_operator(a, *to),
        TransferTarget::Team(team) => Decision::changed(
            Outcome::Transferred,
            Change {
                route: Some(RouteScope::Team(*team)),
                ..Change::new(assign(Status::HandedOff, None, Some(*team)), ChangeReason::TransferTeam)
            },
        ),
        TransferTarget::Bot => Decision::changed(
            Outcome::ReturnedToBot,
            Change {
                handback: Some(Resolution::default()),
                ..Change::new(assign(Status::Bot, None, None), ChangeReason::Handback)
            },
        ),
    })
}

/// Manual assignment always works, even to someone away or not eligible; they have it
/// `handed_off` until they accept.
fn to_operator(a: &Assignment, to: OperatorId) -> Decision {
    if a.assignee == Some(to) {
        return Decision::unchanged("already assigned to them");
    }
    Decision::changed(
        Outcome::Transferred,
        Change::new(assign(Status::HandedOff, Some(to), a.team), ChangeReason::Transfer),
    )
}
