//! The transitions table (docs/behaviour.md#transitions) as data. Each row names sets of
//! triggers, statuses, owners and actors and what [`decide`] answers for every one of
//! their combinations; one loop checks them all and names the row of any that fails.
//! With the workspace's default policy the rows cover every combination exactly once
//! (checked below); rows for other policies list only what those policies change.

use super::*;
use crate::engine::ids::{ConversationId, WidgetId, WorkspaceId};
use crate::engine::model::{ChangeReason as Why, ReplyMode, Role, Status, TakeoverPolicy};
use std::panic::Location;

/// The actor, when the actor is an operator.
const ME: OperatorId = OperatorId(1);
/// The owner in the "someone else owns it" cases, and otherwise just another operator.
const OTHER: OperatorId = OperatorId(2);
const THIRD: OperatorId = OperatorId(3);
/// Every conversation starts in this team, to show which changes keep it.
const TEAM: TeamId = TeamId(10);
/// Where a transfer to a team sends it.
const NEW_TEAM: TeamId = TeamId(20);
const TEXT: &str = "hello";
const NOTE: &str = "// for the team only";

/// Declares a fieldless enum with `ALL`, its values in order, for the table's sets.
macro_rules! listed {
    ($(#[$doc:meta])* enum $name:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            const ALL: &[$name] = &[$($name::$variant),+];
        }
    };
}

listed! {
    /// What is asked, with the details that matter to the decision.
    enum Trigger {
        /// The widget platform's `conversation.handed_off`.
        HandOff,
        /// The widget platform's `conversation.closed`.
        Close,
        /// Accept (a button, `/handoff claim`, the API).
        Claim,
        /// Accept asking to take over ("Take over", `{"takeover": true}`).
        Takeover,
        Reject,
        /// A transfer to the actor themselves: a claim.
        TransferToMe,
        /// A transfer to [`OTHER`]: the owner when someone else owns it.
        TransferToOther,
        /// A transfer to [`THIRD`], who never owns it.
        TransferToThird,
        TransferToTeam,
        TransferToBot,
        Unassign,
        Resolve,
        /// A plain thread message.
        Reply,
        /// `/handoff reply` or the API's messages.
        ReplyExplicit,
        /// "Take over & send".
        ReplyTakeover,
        /// A thread message starting with the note prefix.
        Note,
        /// A thread message with nothing but blanks.
        EmptyReply,
    }
}

use Trigger::*;

impl Trigger {
    fn command(self, me: Option<OperatorId>) -> Command {
        let reply = |text: &str, explicit, takeover| Command::Reply {
            text: text.into(),
            explicit,
            takeover,
            files: vec![],
        };
        match self {
            HandOff => Command::HandOff,
            Close => Command::Close,
            Claim => Command::Claim { takeover: false },
            Takeover => Command::Claim { takeover: true },
            Reject => Command::Reject,
            TransferToMe => Command::Transfer(TransferTarget::Operator(me.expect("an operator"))),
            TransferToOther => Command::Transfer(TransferTarget::Operator(OTHER)),
            TransferToThird => Command::Transfer(TransferTarget::Operator(THIRD)),
            TransferToTeam => Command::Transfer(TransferTarget::Team(NEW_TEAM)),
            TransferToBot => Command::Transfer(TransferTarget::Bot),
            Unassign => Command::Unassign,
            Resolve => Command::Resolve(resolution()),
            Reply => reply(TEXT, false, false),
            ReplyExplicit => reply(TEXT, true, false),
            ReplyTakeover => reply(TEXT, true, true),
            Note => reply(NOTE, false, false),
            EmptyReply => reply("  ", false, false),
        }
    }
}

fn resolution() -> Resolution {
    Resolution {
        topic: Some("refund".into()),
        outcome: Some("refunded".into()),
        tags: vec!["billing".into()],
    }
}

listed! {
    /// Who owns the conversation, seen from the actor.
    enum Owner {
        Nobody,
        Me,
        Other,
    }
}

use Owner::*;

listed! {
    /// Who acts. "Ineligible" operators are not in the widget's eligible set.
    enum By {
        Agent,
        IneligibleAgent,
        Manager,
        IneligibleManager,
        Admin,
        IneligibleAdmin,
        AdminToken,
        Widget,
        System,
    }
}

use By::*;

impl By {
    fn actor(self) -> (Actor, bool) {
        let op = |role, eligible| (Actor::Operator { id: ME, role }, eligible);
        match self {
            Agent => op(Role::Agent, true),
            IneligibleAgent => op(Role::Agent, false),
            Manager => op(Role::Manager, true),
            IneligibleManager => op(Role::Manager, false),
            Admin => op(Role::Admin, true),
            IneligibleAdmin => op(Role::Admin, false),
            AdminToken => (Actor::AdminToken, false),
            Widget => (Actor::Widget, false),
            System => (Actor::System, false),
        }
    }
}

listed! {
    /// The workspace policy a row holds under.
    enum Workspace {
        /// Managers take over; thread messages are relayed; notes start with `//`.
        Default,
        TakeoverNever,
        TakeoverEveryone,
        /// Only explicit replies reach the visitor.
        CommandMode,
    }
}

impl Workspace {
    fn policy(self) -> Policy {
        let d = Policy::default();
        match self {
            Workspace::Default => d,
            Workspace::TakeoverNever => Policy {
                takeover: TakeoverPolicy::Never,
                ..d
            },
            Workspace::TakeoverEveryone => Policy {
                takeover: TakeoverPolicy::Everyone,
                ..d
            },
            Workspace::CommandMode => Policy {
                reply_mode: ReplyMode::Command,
                ..d
            },
        }
    }
}

const ANYONE: &[By] = By::ALL;
#[rustfmt::skip]
const OPERATORS: &[By] = &[Agent, IneligibleAgent, Manager, IneligibleManager, Admin, IneligibleAdmin];
/// The admin token and the bridge: manager rights, but no operator of their own.
const NON_OPERATORS: &[By] = &[AdminToken, Widget, System];
const AGENTS: &[By] = &[Agent, IneligibleAgent];
/// Operators with manager rights (managers and admins), eligible or not.
const MANAGERS: &[By] = &[Manager, IneligibleManager, Admin, IneligibleAdmin];
/// Everyone with manager rights: managers, admins, the admin token and the bridge.
#[rustfmt::skip]
const STAFF: &[By] = &[Manager, IneligibleManager, Admin, IneligibleAdmin, AdminToken, Widget, System];
/// Operators who may pick up a conversation: the eligible, and managers.
const MAY_PICK_UP: &[By] = &[Agent, Manager, IneligibleManager, Admin, IneligibleAdmin];
const INELIGIBLE_AGENT: &[By] = &[IneligibleAgent];

const ANY_STATUS: &[Status] = Status::ALL;
const OPEN: &[Status] = &[Status::HandedOff, Status::Active];
const BOT_OR_RESOLVED: &[Status] = &[Status::Bot, Status::Resolved];
const NOT_RESOLVED: &[Status] = &[Status::Bot, Status::HandedOff, Status::Active];
const HANDED_OFF: &[Status] = &[Status::HandedOff];
const ACTIVE: &[Status] = &[Status::Active];
const BOT: &[Status] = &[Status::Bot];
const RESOLVED: &[Status] = &[Status::Resolved];

const ANY_OWNER: &[Owner] = Owner::ALL;
const NOBODY: &[Owner] = &[Nobody];
const ME_: &[Owner] = &[Me];
const OTHER_: &[Owner] = &[Other];
const NOT_MINE: &[Owner] = &[Nobody, Other];
const NOT_OTHERS: &[Owner] = &[Nobody, Me];

/// Every way of taking a conversation for oneself: each passes the claim's checks.
const CLAIMS: &[Trigger] = &[Claim, Takeover, TransferToMe];
const PLAIN_CLAIMS: &[Trigger] = &[Claim, TransferToMe];
/// Transfers to anyone or anything but the actor.
const TRANSFERS: &[Trigger] = &[TransferToOther, TransferToThird, TransferToTeam, TransferToBot];
/// Messages meant for the visitor.
const SENDS: &[Trigger] = &[Reply, ReplyExplicit, ReplyTakeover];
const PLAIN_SENDS: &[Trigger] = &[Reply, ReplyExplicit];
const MESSAGES: &[Trigger] = &[Reply, ReplyExplicit, ReplyTakeover, Note, EmptyReply];

/// The kind of a refusal (the wording is free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Forbidden,
    InvalidState,
    AlreadyAssigned { takeover_allowed: bool },
}

/// The assignee a change writes, relative to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Whoever had it.
    Kept,
    /// The actor.
    Actor,
    Nobody,
    Op(OperatorId),
}

/// A change `decide` must write.
#[derive(Debug, Clone)]
struct Writes {
    status: Status,
    assignee: Who,
    team: Option<TeamId>,
    reason: Why,
    route: Option<RouteScope>,
    /// The actor is recorded as having declined it.
    declines: bool,
    clears_declines: bool,
    handback: Option<Resolution>,
}

#[derive(Debug, Clone)]
enum Expect {
    Refused(Kind),
    Decides {
        outcome: Outcome,
        change: Option<Writes>,
        /// The trigger's text goes to the visitor.
        relay: bool,
    },
}

fn forbidden() -> Expect {
    Expect::Refused(Kind::Forbidden)
}

fn invalid_state() -> Expect {
    Expect::Refused(Kind::InvalidState)
}

fn already_assigned(takeover_allowed: bool) -> Expect {
    Expect::Refused(Kind::AlreadyAssigned { takeover_allowed })
}

/// Nothing is written.
fn kept(outcome: Outcome) -> Expect {
    Expect::Decides {
        outcome,
        change: None,
        relay: false,
    }
}

fn unchanged(why: &'static str) -> Expect {
    kept(Outcome::Unchanged(why))
}

/// A change to `status` and `assignee`, keeping the team, with nothing else to do.
fn writes(outcome: Outcome, status: Status, assignee: Who, reason: Why) -> Expect {
    Expect::Decides {
        outcome,
        change: Some(Writes {
            status,
            assignee,
            team: Some(TEAM),
            reason,
            route: None,
            declines: false,
            clears_declines: false,
            handback: None,
        }),
        relay: false,
    }
}

impl Expect {
    fn change(mut self, edit: impl FnOnce(&mut Writes)) -> Self {
        match &mut self {
            Expect::Decides { change: Some(w), .. } => edit(w),
            other => panic!("{other:?} writes no change"),
        }
        self
    }

    fn routed(self, scope: RouteScope) -> Self {
        self.change(|w| w.route = Some(scope))
    }

    fn declined(self) -> Self {
        self.change(|w| w.declines = true)
    }

    fn in_team(self, team: Option<TeamId>) -> Self {
        self.change(|w| w.team = team)
    }

    fn forgetting_declines(self) -> Self {
        self.change(|w| w.clears_declines = true)
    }

    fn handing_back(self, resolution: Resolution) -> Self {
        self.change(|w| w.handback = Some(resolution))
    }

    fn relayed(mut self) -> Self {
        match &mut self {
            Expect::Decides { relay, .. } => *relay = true,
            other => panic!("{other:?} relays nothing"),
        }
        self
    }
}

fn replied(self_claimed: bool, took_over: bool) -> Outcome {
    Outcome::Replied {
        self_claimed,
        took_over,
    }
}

/// One line of the table: every combination of its sets, under its workspace, expects
/// `expect`. `at` is where the row is written, for failure messages.
struct Row {
    at: &'static Location<'static>,
    triggers: &'static [Trigger],
    statuses: &'static [Status],
    owners: &'static [Owner],
    actors: &'static [By],
    workspace: Workspace,
    expect: Expect,
}

#[track_caller]
fn row(
    triggers: &'static [Trigger],
    statuses: &'static [Status],
    owners: &'static [Owner],
    actors: &'static [By],
    expect: Expect,
) -> Row {
    Row {
        at: Location::caller(),
        triggers,
        statuses,
        owners,
        actors,
        workspace: Workspace::Default,
        expect,
    }
}

impl Row {
    fn under(self, workspace: Workspace) -> Self {
        Self { workspace, ..self }
    }

    fn covers(&self, c: &Case) -> bool {
        self.workspace == c.workspace
            && self.triggers.contains(&c.trigger)
            && self.statuses.contains(&c.status)
            && self.owners.contains(&c.owner)
            && self.actors.contains(&c.by)
    }

    fn cases(&self) -> impl Iterator<Item = Case> + '_ {
        all_cases(self.workspace).filter(|c| self.covers(c))
    }
}

#[rustfmt::skip]
fn rows() -> Vec<Row> {
    use Workspace::*;
    let claimed = |why| writes(Outcome::Claimed, Status::Active, Who::Actor, why);
    let took_over = writes(Outcome::TookOver { from: OTHER }, Status::Active, Who::Actor, Why::Takeover);
    let self_claimed = writes(replied(true, false), Status::Active, Who::Actor, Why::Reply).relayed();
    let took_over_and_sent = writes(replied(false, true), Status::Active, Who::Actor, Why::Takeover).relayed();
    let unassigned = writes(Outcome::Unassigned, Status::HandedOff, Who::Nobody, Why::Unassign);
    let resolved = writes(Outcome::Resolved, Status::Resolved, Who::Kept, Why::Resolve).handing_back(resolution());
    let transferred = |to| writes(Outcome::Transferred, Status::HandedOff, Who::Op(to), Why::Transfer);
    let to_team = writes(Outcome::Transferred, Status::HandedOff, Who::Nobody, Why::TransferTeam)
        .in_team(Some(NEW_TEAM))
        .routed(RouteScope::Team(NEW_TEAM));
    let to_bot = writes(Outcome::ReturnedToBot, Status::Bot, Who::Nobody, Why::Handback)
        .in_team(None)
        .handing_back(Resolution::default());
    vec![
        // The widget platform hands it to the team, whoever it belonged to before.
        row(&[HandOff], BOT_OR_RESOLVED, ANY_OWNER, ANYONE,
            writes(Outcome::HandedOff, Status::HandedOff, Who::Nobody, Why::Handoff)
                .in_team(None).routed(RouteScope::Widget).forgetting_declines()),
        row(&[HandOff], OPEN, ANY_OWNER, ANYONE, unchanged("already with the team")),
        row(&[Close], NOT_RESOLVED, ANY_OWNER, ANYONE,
            writes(Outcome::Closed, Status::Resolved, Who::Kept, Why::Closed)),
        row(&[Close], RESOLVED, ANY_OWNER, ANYONE, unchanged("already resolved")),

        // Accept, takeover, and a transfer to oneself.
        row(CLAIMS, ANY_STATUS, ANY_OWNER, NON_OPERATORS, forbidden()),
        row(CLAIMS, BOT_OR_RESOLVED, ANY_OWNER, OPERATORS, invalid_state()),
        row(CLAIMS, OPEN, NOBODY, MAY_PICK_UP, claimed(Why::Claim)),
        row(CLAIMS, OPEN, NOBODY, INELIGIBLE_AGENT, forbidden()),
        row(CLAIMS, HANDED_OFF, ME_, OPERATORS, claimed(Why::Accept)),
        row(CLAIMS, ACTIVE, ME_, OPERATORS, unchanged("already yours")),
        row(PLAIN_CLAIMS, OPEN, OTHER_, AGENTS, already_assigned(false)),
        row(PLAIN_CLAIMS, OPEN, OTHER_, MANAGERS, already_assigned(true)),
        row(&[Takeover], OPEN, OTHER_, AGENTS, forbidden()),
        row(&[Takeover], OPEN, OTHER_, MANAGERS, took_over.clone()),

        // Reject: the assignee, or anyone while unassigned.
        row(&[Reject], ANY_STATUS, ANY_OWNER, NON_OPERATORS, forbidden()),
        row(&[Reject], BOT_OR_RESOLVED, ANY_OWNER, OPERATORS, invalid_state()),
        row(&[Reject], HANDED_OFF, NOBODY, OPERATORS,
            writes(Outcome::Rejected, Status::HandedOff, Who::Nobody, Why::Reject).declined()),
        row(&[Reject], ACTIVE, NOBODY, OPERATORS,
            writes(Outcome::Rejected, Status::Active, Who::Nobody, Why::Reject).declined()),
        row(&[Reject], OPEN, ME_, OPERATORS,
            writes(Outcome::Rejected, Status::HandedOff, Who::Nobody, Why::Reject)
                .declined().routed(RouteScope::Team(TEAM))),
        row(&[Reject], OPEN, OTHER_, OPERATORS, forbidden()),

        // Transfer: the assignee, managers, anyone while unassigned.
        row(TRANSFERS, BOT_OR_RESOLVED, ANY_OWNER, ANYONE, invalid_state()),
        row(TRANSFERS, OPEN, OTHER_, AGENTS, forbidden()),
        row(&[TransferToThird], OPEN, NOT_OTHERS, ANYONE, transferred(THIRD)),
        row(&[TransferToThird], OPEN, OTHER_, STAFF, transferred(THIRD)),
        row(&[TransferToOther], OPEN, NOT_OTHERS, ANYONE, transferred(OTHER)),
        row(&[TransferToOther], OPEN, OTHER_, STAFF, unchanged("already assigned to them")),
        row(&[TransferToTeam], OPEN, NOT_OTHERS, ANYONE, to_team.clone()),
        row(&[TransferToTeam], OPEN, OTHER_, STAFF, to_team),
        row(&[TransferToBot], OPEN, NOT_OTHERS, ANYONE, to_bot.clone()),
        row(&[TransferToBot], OPEN, OTHER_, STAFF, to_bot),

        // Unassign: the assignee, managers; it is not routed again.
        row(&[Unassign], BOT_OR_RESOLVED, ANY_OWNER, ANYONE, invalid_state()),
        row(&[Unassign], OPEN, NOBODY, ANYONE, unchanged("already unassigned")),
        row(&[Unassign], OPEN, ME_, OPERATORS, unassigned.clone()),
        row(&[Unassign], OPEN, OTHER_, STAFF, unassigned),
        row(&[Unassign], OPEN, OTHER_, AGENTS, forbidden()),

        // Resolve: the assignee, managers.
        row(&[Resolve], RESOLVED, ANY_OWNER, ANYONE, unchanged("already resolved")),
        row(&[Resolve], BOT, ANY_OWNER, ANYONE, invalid_state()),
        row(&[Resolve], OPEN, ME_, OPERATORS, resolved.clone()),
        row(&[Resolve], OPEN, NOT_MINE, STAFF, resolved),
        row(&[Resolve], OPEN, NOT_MINE, AGENTS, forbidden()),

        // Replies and notes, relayed by default.
        row(MESSAGES, ANY_STATUS, ANY_OWNER, NON_OPERATORS, forbidden()),
        row(&[Note], ANY_STATUS, ANY_OWNER, OPERATORS, kept(Outcome::InternalNote)),
        row(&[EmptyReply], ANY_STATUS, ANY_OWNER, OPERATORS, invalid_state()),
        row(SENDS, BOT_OR_RESOLVED, ANY_OWNER, OPERATORS, invalid_state()),
        row(SENDS, OPEN, NOBODY, MAY_PICK_UP, self_claimed.clone()),
        row(SENDS, OPEN, NOBODY, INELIGIBLE_AGENT, forbidden()),
        row(SENDS, HANDED_OFF, ME_, OPERATORS,
            writes(replied(false, false), Status::Active, Who::Actor, Why::Reply).relayed()),
        row(SENDS, ACTIVE, ME_, OPERATORS, kept(replied(false, false)).relayed()),
        row(PLAIN_SENDS, OPEN, OTHER_, AGENTS, already_assigned(false)),
        row(PLAIN_SENDS, OPEN, OTHER_, MANAGERS, already_assigned(true)),
        row(&[ReplyTakeover], OPEN, OTHER_, AGENTS, forbidden()),
        row(&[ReplyTakeover], OPEN, OTHER_, MANAGERS, took_over_and_sent.clone()),

        // Nobody takes over.
        row(&[Claim, TransferToMe, Reply, ReplyExplicit], OPEN, OTHER_, OPERATORS, already_assigned(false))
            .under(TakeoverNever),
        row(&[Takeover, ReplyTakeover], OPEN, OTHER_, OPERATORS, forbidden()).under(TakeoverNever),

        // Everyone may take over, but only where they may pick up.
        row(&[Claim, TransferToMe, Reply, ReplyExplicit], OPEN, OTHER_, MAY_PICK_UP, already_assigned(true))
            .under(TakeoverEveryone),
        row(&[Claim, TransferToMe, Reply, ReplyExplicit], OPEN, OTHER_, INELIGIBLE_AGENT, already_assigned(false))
            .under(TakeoverEveryone),
        row(&[Takeover], OPEN, OTHER_, MAY_PICK_UP, took_over).under(TakeoverEveryone),
        row(&[ReplyTakeover], OPEN, OTHER_, MAY_PICK_UP, took_over_and_sent).under(TakeoverEveryone),
        row(&[Takeover, ReplyTakeover], OPEN, OTHER_, INELIGIBLE_AGENT, forbidden()).under(TakeoverEveryone),

        // Plain thread messages stay in the team; explicit replies and notes work as before.
        row(&[Reply, EmptyReply], ANY_STATUS, ANY_OWNER, OPERATORS, kept(Outcome::Discussion)).under(CommandMode),
        row(&[ReplyExplicit, ReplyTakeover], OPEN, NOBODY, MAY_PICK_UP, self_claimed).under(CommandMode),
        row(&[Note], ANY_STATUS, ANY_OWNER, OPERATORS, kept(Outcome::InternalNote)).under(CommandMode),
    ]
}

/// One combination the table speaks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Case {
    trigger: Trigger,
    status: Status,
    owner: Owner,
    by: By,
    workspace: Workspace,
}

/// Every combination that can happen: only operators own conversations and transfer
/// to themselves. States the service never produces (an active conversation nobody
/// owns, a bot conversation someone owns) are included, so the engine's answer is pinned
/// for them too.
fn all_cases(workspace: Workspace) -> impl Iterator<Item = Case> {
    Trigger::ALL.iter().flat_map(move |&trigger| {
        ANY_STATUS.iter().flat_map(move |&status| {
            ANY_OWNER.iter().flat_map(move |&owner| {
                ANYONE
                    .iter()
                    .map(move |&by| Case {
                        trigger,
                        status,
                        owner,
                        by,
                        workspace,
                    })
                    .filter(|c| c.possible())
            })
        })
    })
}

impl Case {
    fn possible(&self) -> bool {
        let operator = OPERATORS.contains(&self.by);
        operator || (self.owner != Me && self.trigger != TransferToMe)
    }

    fn owner_id(&self) -> Option<OperatorId> {
        match self.owner {
            Nobody => None,
            Me => Some(ME),
            Other => Some(OTHER),
        }
    }

    fn run(&self) -> Result<Decision, Kind> {
        let (actor, actor_eligible) = self.by.actor();
        let conv = Conversation {
            id: ConversationId("conv".into()),
            workspace: WorkspaceId(1),
            widget: WidgetId("support".into()),
            assignment: Assignment {
                status: self.status,
                assignee: self.owner_id(),
                team: Some(TEAM),
            },
            version: 7,
            declined: vec![THIRD],
        };
        let policy = self.workspace.policy();
        let ctx = Context {
            actor: &actor,
            actor_eligible,
            policy: &policy,
        };
        decide(&conv, &ctx, &self.trigger.command(actor.operator())).map_err(|r| match r {
            Refusal::Forbidden(_) => Kind::Forbidden,
            Refusal::InvalidState(_) => Kind::InvalidState,
            Refusal::AlreadyAssigned {
                owner,
                takeover_allowed,
            } => {
                assert_eq!(Some(owner), self.owner_id(), "{self:?}: the refusal names the owner");
                Kind::AlreadyAssigned { takeover_allowed }
            }
        })
    }

    /// What `expect` means for this case.
    fn expected(&self, expect: &Expect) -> Result<Decision, Kind> {
        let (outcome, change, relay) = match expect {
            Expect::Refused(kind) => return Err(*kind),
            Expect::Decides { outcome, change, relay } => (outcome, change, relay),
        };
        let change = change.as_ref().map(|w| Change {
            to: Assignment {
                status: w.status,
                assignee: match w.assignee {
                    Who::Kept => self.owner_id(),
                    Who::Actor => Some(ME),
                    Who::Nobody => None,
                    Who::Op(id) => Some(id),
                },
                team: w.team,
            },
            route: w.route,
            decline: w.declines.then_some(ME),
            timed_out: false,
            clear_declines: w.clears_declines,
            reason: w.reason,
            handback: w.handback.clone(),
        });
        Ok(Decision {
            outcome: outcome.clone(),
            change,
            relay: relay.then(|| TEXT.to_owned()),
        })
    }
}

#[test]
fn decide_follows_the_transitions_table() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in rows() {
        for case in row.cases() {
            checked += 1;
            let (want, got) = (case.expected(&row.expect), case.run());
            if want != got {
                failures.push(format!(
                    "row at {}: {case:?}\n    expected {want:?}\n    got      {got:?}",
                    row.at
                ));
            }
        }
    }
    assert!(checked > 1000, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ from the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_every_case_once() {
    let rows = rows();
    let mut problems = Vec::new();
    for &workspace in Workspace::ALL {
        for case in all_cases(workspace) {
            let at: Vec<String> = rows
                .iter()
                .filter(|r| r.covers(&case))
                .map(|r| r.at.line().to_string())
                .collect();
            if at.len() > 1 {
                problems.push(format!("{case:?} is in the rows at lines {}", at.join(", ")));
            } else if at.is_empty() && workspace == Workspace::Default {
                problems.push(format!("{case:?} is in no row"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
