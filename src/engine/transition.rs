//! The assignment state machine of §3.2: given a conversation, who acts and what they
//! ask, decide the new assignment (or refuse, saying which rule). Pure: the caller runs
//! it inside one transaction, applies routing if asked, and writes the result with a
//! version check.

use super::actor::Actor;
use super::ids::{OperatorId, TeamId};
use super::model::{Assignment, Conversation, Policy, ReplyMode, Resolution, Status, TakeoverPolicy};

/// What someone asks of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The widget platform hands the conversation to humans.
    HandOff,
    /// Accept. `takeover` asks to take it from its current owner (managers by default).
    Claim {
        takeover: bool,
    },
    Reject,
    Transfer(TransferTarget),
    Unassign,
    Resolve(Resolution),
    /// The widget platform closed the conversation.
    Close,
    /// An operator's message. `explicit` is true for `/handoff reply` and the HTTP API,
    /// false for a plain thread message (which `reply_mode = command` keeps in the team).
    Reply {
        text: String,
        explicit: bool,
        takeover: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Operator(OperatorId),
    Team(TeamId),
    Bot,
}

/// Where routing should look for an owner after this change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScope {
    /// The widget's eligible operators, by the widget's mode and cursor.
    Widget,
    /// A team's members, by the widget's mode and the team's cursor.
    Team(TeamId),
}

/// Why the engine said no. Each carries enough for a front door to tell the user why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Someone else owns it; `takeover_allowed` says whether this actor could take over.
    AlreadyAssigned { owner: OperatorId, takeover_allowed: bool },
    /// A permission rule forbids it; the text names the rule.
    Forbidden(String),
    /// The conversation is not in a state where this makes sense.
    InvalidState(String),
}

/// What happened, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    HandedOff,
    Claimed,
    TookOver {
        from: OperatorId,
    },
    Rejected,
    Transferred,
    ReturnedToBot,
    Unassigned,
    Resolved,
    Closed,
    Replied {
        self_claimed: bool,
        took_over: bool,
    },
    InternalNote,
    /// A thread message kept inside the team (`reply_mode = command`).
    Discussion,
    /// Nothing to do; the text says why (e.g. "already yours").
    Unchanged(&'static str),
}

/// A new assignment to write, with its audit reason and follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub to: Assignment,
    /// Route after writing `to` (which is then unassigned).
    pub route: Option<RouteScope>,
    /// Record this operator as having declined it.
    pub decline: Option<OperatorId>,
    /// Forget earlier declines (a new handoff starts afresh).
    pub clear_declines: bool,
    /// The audit row's reason.
    pub reason: &'static str,
    /// Tell the widget platform to resume the AI, with these resolve details.
    pub handback: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub change: Option<Change>,
    /// An operator reply to send to the visitor.
    pub relay: Option<String>,
}

impl Decision {
    fn changed(outcome: Outcome, change: Change) -> Self {
        Self {
            outcome,
            change: Some(change),
            relay: None,
        }
    }

    fn unchanged(why: &'static str) -> Self {
        Self {
            outcome: Outcome::Unchanged(why),
            change: None,
            relay: None,
        }
    }
}

/// The facts a decision depends on besides the conversation itself.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub actor: &'a Actor,
    /// Whether the actor is in the widget's eligible set (empty set = everyone).
    pub actor_eligible: bool,
    pub policy: &'a Policy,
}

pub fn decide(conv: &Conversation, ctx: &Context<'_>, cmd: &Command) -> Result<Decision, Refusal> {
    let a = &conv.assignment;
    let me = ctx.actor.operator();
    let manager = ctx.actor.is_manager();
    let owner_is_me = a.assignee.is_some() && a.assignee == me;
    let change = |to: Assignment, reason| Change {
        to,
        route: None,
        decline: None,
        clear_declines: false,
        reason,
        handback: None,
    };

    match cmd {
        Command::HandOff => match a.status {
            Status::Bot | Status::Resolved => Ok(Decision::changed(
                Outcome::HandedOff,
                Change {
                    route: Some(RouteScope::Widget),
                    clear_declines: true,
                    ..change(assign(Status::HandedOff, None, None), "handoff")
                },
            )),
            Status::HandedOff | Status::Active => Ok(Decision::unchanged("already with the team")),
        },

        Command::Claim { takeover } => {
            let me = needs_operator(ctx.actor, "accept a conversation")?;
            require_open(a.status, "accepted")?;
            match a.assignee {
                None => {
                    may_pick_up(ctx)?;
                    Ok(Decision::changed(
                        Outcome::Claimed,
                        change(assign(Status::Active, Some(me), a.team), "claim"),
                    ))
                }
                Some(owner) if owner == me => match a.status {
                    Status::HandedOff => Ok(Decision::changed(
                        Outcome::Claimed,
                        change(assign(Status::Active, Some(me), a.team), "accept"),
                    )),
                    _ => Ok(Decision::unchanged("already yours")),
                },
                Some(owner) => {
                    let allowed = ctx.policy.may_take_over(ctx.actor.role());
                    if *takeover && allowed {
                        Ok(Decision::changed(
                            Outcome::TookOver { from: owner },
                            change(assign(Status::Active, Some(me), a.team), "takeover"),
                        ))
                    } else if *takeover {
                        Err(Refusal::Forbidden(takeover_rule(ctx.policy)))
                    } else {
                        Err(Refusal::AlreadyAssigned {
                            owner,
                            takeover_allowed: allowed,
                        })
                    }
                }
            }
        }

        Command::Reject => {
            let me = needs_operator(ctx.actor, "reject a conversation")?;
            require_open(a.status, "rejected")?;
            match a.assignee {
                None => Ok(Decision::changed(
                    Outcome::Rejected,
                    Change {
                        decline: Some(me),
                        ..change(a.clone(), "reject")
                    },
                )),
                Some(owner) if owner == me => Ok(Decision::changed(
                    Outcome::Rejected,
                    Change {
                        decline: Some(me),
                        route: Some(a.team.map_or(RouteScope::Widget, RouteScope::Team)),
                        ..change(assign(Status::HandedOff, None, a.team), "reject")
                    },
                )),
                Some(_) => Err(Refusal::Forbidden(
                    "only its assignee can reject a conversation that is assigned".into(),
                )),
            }
        }

        Command::Transfer(target) => {
            require_open(a.status, "transferred")?;
            if !(a.assignee.is_none() || owner_is_me || manager) {
                return Err(Refusal::Forbidden(
                    "only its assignee or a manager can transfer an assigned conversation".into(),
                ));
            }
            match target {
                TransferTarget::Operator(to) => {
                    if a.assignee == Some(*to) {
                        return Ok(Decision::unchanged("already assigned to them"));
                    }
                    let status = if me == Some(*to) {
                        Status::Active
                    } else {
                        Status::HandedOff
                    };
                    Ok(Decision::changed(
                        Outcome::Transferred,
                        change(assign(status, Some(*to), a.team), "transfer"),
                    ))
                }
                TransferTarget::Team(team) => Ok(Decision::changed(
                    Outcome::Transferred,
                    Change {
                        route: Some(RouteScope::Team(*team)),
                        ..change(assign(Status::HandedOff, None, Some(*team)), "transfer_team")
                    },
                )),
                TransferTarget::Bot => Ok(Decision::changed(
                    Outcome::ReturnedToBot,
                    Change {
                        handback: Some(Resolution::default()),
                        ..change(assign(Status::Bot, None, None), "handback")
                    },
                )),
            }
        }

        Command::Unassign => {
            require_open(a.status, "unassigned")?;
            if a.assignee.is_none() {
                return Ok(Decision::unchanged("already unassigned"));
            }
            if !(owner_is_me || manager) {
                return Err(Refusal::Forbidden(
                    "only its assignee or a manager can unassign a conversation".into(),
                ));
            }
            Ok(Decision::changed(
                Outcome::Unassigned,
                change(assign(Status::HandedOff, None, a.team), "unassign"),
            ))
        }

        Command::Resolve(resolution) => {
            if a.status == Status::Resolved {
                return Ok(Decision::unchanged("already resolved"));
            }
            require_open(a.status, "resolved")?;
            if !(owner_is_me || manager) {
                return Err(Refusal::Forbidden(
                    "only its assignee or a manager can resolve a conversation".into(),
                ));
            }
            Ok(Decision::changed(
                Outcome::Resolved,
                Change {
                    handback: Some(resolution.clone()),
                    ..change(assign(Status::Resolved, a.assignee, a.team), "resolve")
                },
            ))
        }

        Command::Close => match a.status {
            Status::Resolved => Ok(Decision::unchanged("already resolved")),
            _ => Ok(Decision::changed(
                Outcome::Closed,
                change(assign(Status::Resolved, a.assignee, a.team), "closed"),
            )),
        },

        Command::Reply {
            text,
            explicit,
            takeover,
        } => {
            let me = needs_operator(ctx.actor, "reply to a visitor")?;
            if ctx.policy.is_note(text) {
                return Ok(Decision {
                    outcome: Outcome::InternalNote,
                    change: None,
                    relay: None,
                });
            }
            if !explicit && ctx.policy.reply_mode == ReplyMode::Command {
                return Ok(Decision {
                    outcome: Outcome::Discussion,
                    change: None,
                    relay: None,
                });
            }
            if text.trim().is_empty() {
                return Err(Refusal::InvalidState("a reply needs some text".into()));
            }
            require_open(a.status, "replied to")?;
            let relay = Some(text.clone());
            match a.assignee {
                None => {
                    may_pick_up(ctx)?;
                    Ok(Decision {
                        outcome: Outcome::Replied {
                            self_claimed: true,
                            took_over: false,
                        },
                        change: Some(change(assign(Status::Active, Some(me), a.team), "reply")),
                        relay,
                    })
                }
                Some(owner) if owner == me => Ok(Decision {
                    outcome: Outcome::Replied {
                        self_claimed: false,
                        took_over: false,
                    },
                    change: (a.status == Status::HandedOff)
                        .then(|| change(assign(Status::Active, Some(me), a.team), "reply")),
                    relay,
                }),
                Some(owner) => {
                    let allowed = ctx.policy.may_take_over(ctx.actor.role());
                    if *takeover && allowed {
                        Ok(Decision {
                            outcome: Outcome::Replied {
                                self_claimed: false,
                                took_over: true,
                            },
                            change: Some(change(assign(Status::Active, Some(me), a.team), "takeover")),
                            relay,
                        })
                    } else if *takeover {
                        Err(Refusal::Forbidden(takeover_rule(ctx.policy)))
                    } else {
                        Err(Refusal::AlreadyAssigned {
                            owner,
                            takeover_allowed: allowed,
                        })
                    }
                }
            }
        }
    }
}

fn assign(status: Status, assignee: Option<OperatorId>, team: Option<TeamId>) -> Assignment {
    Assignment { status, assignee, team }
}

fn needs_operator(actor: &Actor, what: &str) -> Result<OperatorId, Refusal> {
    actor.operator().ok_or_else(|| {
        Refusal::Forbidden(format!(
            "only an operator can {what}; the admin token acts as no operator (use an operator's token)"
        ))
    })
}

fn require_open(status: Status, what: &str) -> Result<(), Refusal> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ids::{ConversationId, WidgetId, WorkspaceId};
    use crate::engine::model::Role;

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
}
