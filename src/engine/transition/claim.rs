//! Accept: an operator takes a conversation for themselves, or, asked for explicitly,
//! takes it over from its owner.

use super::rules::{Taking, active_for, needs_operator, require_open, take};
use super::{Context, Decision, Outcome, Refusal};
use crate::engine::model::{Assignment, ChangeReason, Status};

pub(super) fn claim(a: &Assignment, ctx: &Context<'_>, takeover: bool) -> Result<Decision, Refusal> {
    let me = needs_operator(ctx.actor, "accept a conversation")?;
    require_open(a.status, "accepted")?;
    Ok(match take(a, ctx, me, takeover)? {
        Taking::Unassigned => Decision::changed(Outcome::Claimed, active_for(a, me, ChangeReason::Claim)),
        // Routing gave it to them; accepting makes it active.
        Taking::Mine if a.status == Status::HandedOff => {
            Decision::changed(Outcome::Claimed, active_for(a, me, ChangeReason::Accept))
        }
        Taking::Mine => Decision::unchanged("already yours"),
        Taking::From(owner) => Decision::changed(
            Outcome::TookOver { from: owner },
            active_for(a, me, ChangeReason::Takeover),
        ),
    })
}
