//! An operator's message in a conversation (docs/behaviour.md#replies-and-notes): an
//! internal note, team discussion, or a reply for the visitor, which claims an
//! unassigned conversation like an Accept and is held back from someone else's.

use super::rules::{Taking, active_for, needs_operator, require_open, take};
use super::{Context, Decision, Outcome, Refusal};
use crate::engine::model::{Assignment, ChangeReason, ReplyMode, Status};

pub(super) fn reply(
    a: &Assignment,
    ctx: &Context<'_>,
    text: &str,
    has_files: bool,
    explicit: bool,
    takeover: bool,
) -> Result<Decision, Refusal> {
    let me = needs_operator(ctx.actor, "reply to a visitor")?;
    if ctx.policy.is_note(text) {
        return Ok(Decision::kept(Outcome::InternalNote));
    }
    if !explicit && ctx.policy.reply_mode == ReplyMode::Command {
        return Ok(Decision::kept(Outcome::Discussion));
    }
    if text.trim().is_empty() && !has_files {
        return Err(Refusal::InvalidState("a reply needs some text".into()));
    }
    require_open(a.status, "replied to")?;
    let replied = |self_claimed, took_over| Outcome::Replied {
        self_claimed,
        took_over,
    };
    let (outcome, change) = match take(a, ctx, me, takeover)? {
        Taking::Unassigned => (replied(true, false), Some(active_for(a, me, ChangeReason::Reply))),
        // Answering a conversation routing gave them accepts it.
        Taking::Mine => (
            replied(false, false),
            (a.status == Status::HandedOff).then(|| active_for(a, me, ChangeReason::Reply)),
        ),
        Taking::From(_) => (replied(false, true), Some(active_for(a, me, ChangeReason::Takeover))),
    };
    Ok(Decision {
        outcome,
        change,
        relay: Some(text.to_owned()),
    })
}
