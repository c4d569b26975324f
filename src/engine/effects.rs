//! The side effects of a committed change, as data. The engine decides what must happen
//! but never calls anything: the service turns each effect into outbox rows, written in
//! the change's own transaction, for every platform that is switched on.

use super::actor::Actor;
use super::ids::OperatorId;
use super::model::{Assignment, ChangeReason, Resolution, Status};
use super::transition::Change;
use super::window::Window;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open the mirror threads (Slack, Discord) with the transcript so far.
    OpenThreads,
    /// Re-render the thread roots everywhere (status, assignee, buttons).
    RenderThreads,
    /// Tell the widget platform the new status, assignee, team and version.
    WidgetAssignment,
    /// Give the chat back to the AI (the widget platform's handback), with resolve details.
    WidgetHandback(Resolution),
    /// Send an operator's reply (a stored transcript line) to the visitor.
    WidgetMessage { message_id: i64 },
    /// Direct-message the new assignee, and nobody else.
    NotifyAssignee(OperatorId),
    /// Show a transcript line (visitor, bot, or a reply written elsewhere) in the threads.
    MirrorMessage { message_id: i64 },
    /// Redraw a transcript line shown in the threads: it was edited or deleted.
    MirrorEdit { message_id: i64 },
    /// Edit an operator's reply for the visitor (the widget platform's `PATCH`).
    WidgetEdit { message_id: i64 },
    /// Take an operator's reply back from the visitor (the widget platform's `DELETE`).
    WidgetDelete { message_id: i64 },
    /// Tell the team in the threads, once, that something needs them.
    Notice(Notice),
    /// Direct-message the assignee that a visitor has waited `waited` for a reply, since
    /// `since` (epoch ms; one nudge per wait).
    Nudge {
        operator: OperatorId,
        waited: Window,
        since: i64,
    },
}

/// What a thread notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Everyone routing could give it to let it time out: it waits, unassigned, in the queue.
    NobodyAccepted,
    /// The visitor's message has waited this long for a reply (twice the widget's
    /// `reply_within`).
    VisitorWaiting { waited: Window },
}

impl Notice {
    /// The words every platform shows.
    pub fn text(self) -> String {
        match self {
            Notice::NobodyAccepted => {
                "Nobody accepted this conversation in time: it is back in the queue, unassigned, for anyone to accept."
                    .into()
            }
            Notice::VisitorWaiting { waited } => {
                format!("The visitor has waited over {waited} for a reply.")
            }
        }
    }
}

/// What a committed change must cause, in delivery order.
pub fn plan(before: &Assignment, after: &Assignment, change: &Change, actor: &Actor) -> Vec<Effect> {
    let mut out = Vec::new();
    if change.reason == ChangeReason::Handoff {
        out.push(Effect::OpenThreads);
    } else {
        out.push(Effect::RenderThreads);
    }
    if before != after {
        out.push(Effect::WidgetAssignment);
    }
    if let Some(resolution) = &change.handback
        && matches!(after.status, Status::Bot | Status::Resolved)
    {
        out.push(Effect::WidgetHandback(resolution.clone()));
    }
    if let Some(new) = after.assignee
        && after.assignee != before.assignee
        && actor.operator() != Some(new)
    {
        out.push(Effect::NotifyAssignee(new));
    }
    // Everyone routing could give it to let it lapse: the team is told once.
    if change.reason == ChangeReason::Timeout && after.assignee.is_none() {
        out.push(Effect::Notice(Notice::NobodyAccepted));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::Role;

    #[test]
    fn a_routed_assignment_dms_the_assignee_but_a_claim_dms_nobody() {
        let before = Assignment {
            status: Status::HandedOff,
            assignee: None,
            team: None,
        };
        let after = Assignment {
            status: Status::HandedOff,
            assignee: Some(OperatorId(7)),
            team: None,
        };
        let fx = plan(
            &before,
            &after,
            &Change::new(after.clone(), ChangeReason::Handoff),
            &Actor::System,
        );
        assert!(fx.contains(&Effect::NotifyAssignee(OperatorId(7))));
        let me = Actor::Operator {
            id: OperatorId(7),
            role: Role::Agent,
        };
        let fx = plan(&before, &after, &Change::new(after.clone(), ChangeReason::Claim), &me);
        assert!(!fx.iter().any(|e| matches!(e, Effect::NotifyAssignee(_))));
        assert_eq!(fx, vec![Effect::RenderThreads, Effect::WidgetAssignment]);
    }
}
