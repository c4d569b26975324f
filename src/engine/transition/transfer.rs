//! Transfer: to another operator, to a team (routed among its members), or back to the
//! bot. The assignee, managers, and anyone while it is unassigned may transfer.

use super::rules::{assign, assignee_or_manager, require_open};
use super::{Change, Context, Decision, Outcome, Refusal, RouteScope, TransferTarget};
use crate::engine::ids::OperatorId;
use crate::engine::model::{Assignment, ChangeReason, Resolution, Status};

pub(super) fn transfer(a: &Assignment, ctx: &Context<'_>, target: &TransferTarget) -> Result<Decision, Refusal> {
    require_open(a.status, "transferred")?;
    if a.assignee.is_some() {
        assignee_or_manager(a, ctx, "transfer an assigned conversation")?;
    }
    Ok(match target {
        TransferTarget::Operator(to) => to_operator(a, *to, ctx.actor.operator() == Some(*to)),
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
/// `handed_off` until they accept (at once when they transfer it to themselves).
fn to_operator(a: &Assignment, to: OperatorId, to_me: bool) -> Decision {
    if a.assignee == Some(to) {
        return Decision::unchanged("already assigned to them");
    }
    let status = if to_me { Status::Active } else { Status::HandedOff };
    Decision::changed(
        Outcome::Transferred,
        Change::new(assign(status, Some(to), a.team), ChangeReason::Transfer),
    )
}
