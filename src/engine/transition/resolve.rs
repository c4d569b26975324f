//! Resolve: the team is done with the conversation, and the widget platform hands it
//! back to the AI with the optional topic, outcome and tags.

use super::rules::{assign, assignee_or_manager, require_open};
use super::{Change, Context, Decision, Outcome, Refusal};
use crate::engine::model::{Assignment, ChangeReason, Resolution, Status};

/// The assignee or a manager resolves it; the assignee stays on record.
pub(super) fn resolve(a: &Assignment, ctx: &Context<'_>, resolution: &Resolution) -> Result<Decision, Refusal> {
    if a.status == Status::Resolved {
        return Ok(Decision::unchanged("already resolved"));
    }
    require_open(a.status, "resolved")?;
    assignee_or_manager(a, ctx, "resolve a conversation")?;
    Ok(Decision::changed(
        Outcome::Resolved,
        Change {
            handback: Some(resolution.clone()),
            ..Change::new(assign(Status::Resolved, a.assignee, a.team), ChangeReason::Resolve)
        },
    ))
}
