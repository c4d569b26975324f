//! What the widget platform itself does to a conversation: hand it to the team, or close
//! it. Neither is refused: the platform owns the conversation's life, so the engine only
//! decides whether anything changes.

use super::rules::assign;
use super::{Change, Decision, Outcome, RouteScope};
use crate::engine::model::{Assignment, ChangeReason, Status};

/// `conversation.handed_off`: a bot (or resolved) conversation goes to the team,
/// unassigned and without a team, then routed among the widget's operators. Earlier
/// declines are forgotten: a new handoff starts afresh.
pub(super) fn hand_off(a: &Assignment) -> Decision {
    match a.status {
        Status::Bot | Status::Resolved => Decision::changed(
            Outcome::HandedOff,
            Change {
                route: Some(RouteScope::Widget),
                clear_declines: true,
                ..Change::new(assign(Status::HandedOff, None, None), ChangeReason::Handoff)
            },
        ),
        Status::HandedOff | Status::Active => Decision::unchanged("already with the team"),
    }
}

/// `conversation.closed`: resolved, whoever had it. The platform closed it itself, so
/// no handback is sent.
pub(super) fn close(a: &Assignment) -> Decision {
    match a.status {
        Status::Resolved => Decision::unchanged("already resolved"),
        _ => Decision::changed(
            Outcome::Closed,
            Change::new(assign(Status::Resolved, a.assignee, a.team), ChangeReason::Closed),
        ),
    }
}
