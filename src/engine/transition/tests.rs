//! Worked examples of single transitions, read as stories; the table in `table.rs` is
//! the exhaustive check.

use super::*;
use crate::engine::ids::{ConversationId, WidgetId, WorkspaceId};
use crate::engine::model::{ReplyMode, Role, Status};

fn conv(status: Status, assignee: Option<i64>) -> Conversation {
    Conversation {
        id: ConversationId("c".into()),
        workspace: WorkspaceId(1),
        widget: WidgetId("w".into()),
        assignment: Assignment {
            status,
            assignee: assignee.map(OperatorId),
            team: None,
        },
        version: 3,
        declined: Vec::new(),
    }
}

fn decide_as(c: &Conversation, id: i64, role: Role, cmd: Command) -> Result<Decision, Refusal> {
    let actor = Actor::Operator {
        id: OperatorId(id),
        role,
    };
    let policy = Policy::default();
    decide(
        c,
        &Context {
            actor: &actor,
            actor_eligible: true,
            policy: &policy,
        },
        &cmd,
    )
}

#[test]
fn an_unassigned_claim_makes_it_active_and_a_second_is_told_the_owner() {
    let d = decide_as(
        &conv(Status::HandedOff, None),
        1,
        Role::Agent,
        Command::Claim { takeover: false },
    )
    .unwrap();
    assert_eq!(d.outcome, Outcome::Claimed);
    assert_eq!(
        d.change.unwrap().to,
        Assignment {
            status: Status::Active,
            assignee: Some(OperatorId(1)),
            team: None
        }
    );
    let taken = decide_as(
        &conv(Status::Active, Some(1)),
        2,
        Role::Agent,
        Command::Claim { takeover: false },
    );
    assert_eq!(
        taken.unwrap_err(),
        Refusal::AlreadyAssigned {
            owner: OperatorId(1),
            takeover_allowed: false
        }
    );
    let boss = decide_as(
        &conv(Status::Active, Some(1)),
        2,
        Role::Manager,
        Command::Claim { takeover: true },
    )
    .unwrap();
    assert_eq!(boss.outcome, Outcome::TookOver { from: OperatorId(1) });
}

#[test]
fn the_assignee_rejecting_reroutes_and_is_recorded() {
    let d = decide_as(&conv(Status::HandedOff, Some(1)), 1, Role::Agent, Command::Reject).unwrap();
    let change = d.change.unwrap();
    assert_eq!(change.decline, Some(OperatorId(1)));
    assert_eq!(change.route, Some(RouteScope::Widget));
    assert_eq!(change.to.assignee, None);
    assert!(matches!(
        decide_as(&conv(Status::Active, Some(1)), 2, Role::Agent, Command::Reject),
        Err(Refusal::Forbidden(_))
    ));
}

#[test]
fn notes_discussion_and_replies_follow_the_policy() {
    let c = conv(Status::HandedOff, None);
    let reply = |text: &str, explicit| Command::Reply {
        text: text.into(),
        explicit,
        takeover: false,
        files: vec![],
    };
    assert_eq!(
        decide_as(&c, 1, Role::Agent, reply("// hmm", false)).unwrap().outcome,
        Outcome::InternalNote
    );
    let d = decide_as(&c, 1, Role::Agent, reply("hello", false)).unwrap();
    assert_eq!(
        d.outcome,
        Outcome::Replied {
            self_claimed: true,
            took_over: false
        }
    );
    assert_eq!(d.relay.as_deref(), Some("hello"));
    let actor = Actor::Operator {
        id: OperatorId(1),
        role: Role::Agent,
    };
    let policy = Policy {
        reply_mode: ReplyMode::Command,
        ..Policy::default()
    };
    let ctx = Context {
        actor: &actor,
        actor_eligible: true,
        policy: &policy,
    };
    assert_eq!(
        decide(&c, &ctx, &reply("hello", false)).unwrap().outcome,
        Outcome::Discussion
    );
    assert!(decide(&c, &ctx, &reply("hello", true)).unwrap().relay.is_some());
}

#[test]
fn resolved_and_bot_conversations_refuse_work_until_a_new_handoff() {
    for status in [Status::Bot, Status::Resolved] {
        let c = conv(status, None);
        assert!(matches!(
            decide_as(&c, 1, Role::Admin, Command::Claim { takeover: false }),
            Err(Refusal::InvalidState(_))
        ));
        let d = decide(
            &c,
            &Context {
                actor: &Actor::Widget,
                actor_eligible: true,
                policy: &Policy::default(),
            },
            &Command::HandOff,
        );
        assert_eq!(d.unwrap().outcome, Outcome::HandedOff);
    }
}

#[test]
fn the_admin_token_cannot_claim_but_can_transfer() {
    let c = conv(Status::HandedOff, None);
    let ctx = Context {
        actor: &Actor::AdminToken,
        actor_eligible: false,
        policy: &Policy::default(),
    };
    assert!(matches!(
        decide(&c, &ctx, &Command::Claim { takeover: false }),
        Err(Refusal::Forbidden(_))
    ));
    let d = decide(&c, &ctx, &Command::Transfer(TransferTarget::Operator(OperatorId(4)))).unwrap();
    assert_eq!(d.change.unwrap().to.assignee, Some(OperatorId(4)));
}

#[test]
fn declining_an_unassigned_conversation_twice_changes_nothing_the_second_time() {
    let mut c = conv(Status::HandedOff, None);
    let first = decide_as(&c, 1, Role::Agent, Command::Reject).unwrap();
    assert_eq!(first.outcome, Outcome::Rejected);
    assert_eq!(first.change.unwrap().decline, Some(OperatorId(1)));
    c.declined.push(OperatorId(1));
    let again = decide_as(&c, 1, Role::Agent, Command::Reject).unwrap();
    assert_eq!(again.outcome, Outcome::Unchanged("you have already declined it"));
    assert!(again.change.is_none());
    // Someone else may still decline it.
    assert_eq!(
        decide_as(&c, 2, Role::Agent, Command::Reject).unwrap().outcome,
        Outcome::Rejected
    );
}

#[test]
fn a_lapse_routes_it_on_skipping_the_one_who_let_it_lapse_and_only_while_they_still_have_it() {
    let system = |c: &Conversation, operator: i64| {
        let policy = Policy::default();
        decide(
            c,
            &Context {
                actor: &Actor::System,
                actor_eligible: false,
                policy: &policy,
            },
            &Command::Timeout {
                operator: OperatorId(operator),
            },
        )
        .unwrap()
    };
    let d = system(&conv(Status::HandedOff, Some(1)), 1);
    assert_eq!(d.outcome, Outcome::TimedOut);
    let change = d.change.unwrap();
    assert_eq!(change.to.assignee, None);
    assert_eq!(change.to.status, Status::HandedOff);
    assert_eq!(change.route, Some(RouteScope::Widget));
    assert_eq!((change.decline, change.timed_out), (Some(OperatorId(1)), true));
    assert_eq!(change.reason, ChangeReason::Timeout);
    // Accepted, passed on or given to someone else meanwhile: the timer changes nothing.
    for c in [
        conv(Status::Active, Some(1)),
        conv(Status::HandedOff, Some(2)),
        conv(Status::HandedOff, None),
        conv(Status::Resolved, Some(1)),
    ] {
        let d = system(&c, 1);
        assert!(d.change.is_none(), "{c:?}: {d:?}");
    }
}
