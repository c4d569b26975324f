//! Who may manage the directory (operators, roles, presence, tokens, teams, widgets):
//! docs/behaviour.md#permissions. Conversation actions are checked in
//! [`super::transition`]. Each check returns the rule in words, so every front door can
//! tell the user why.

use super::actor::Actor;
use super::ids::OperatorId;
use super::model::Role;

pub type Check = Result<(), String>;

fn managers(actor: &Actor, what: &str) -> Check {
    if actor.is_manager() {
        Ok(())
    } else {
        Err(format!("{what} needs the manager or admin role"))
    }
}

/// Routing modes, eligible operators and channels of a widget.
pub fn configure_widget(actor: &Actor) -> Check {
    managers(actor, "changing a widget's routing")
}

/// Creating, deleting and staffing teams.
pub fn manage_teams(actor: &Actor) -> Check {
    managers(actor, "managing teams")
}

/// Adding operators and changing their name or capacity.
pub fn edit_operator(actor: &Actor, target: Option<OperatorId>) -> Check {
    if target.is_some() && actor.operator() == target {
        return Ok(());
    }
    managers(actor, "changing another operator")
}

/// Setting anyone's role (including at creation) is for admins only.
pub fn set_role(actor: &Actor, role: Role) -> Check {
    if actor.role() == Role::Admin {
        Ok(())
    } else {
        Err(format!("setting a role (here `{role}`) needs the admin role"))
    }
}

/// Platform accounts (Slack, Discord user ids) say who someone is when they act from
/// that platform: pointing one at someone else's account would let them act as that
/// person. Admins set them; people link their own with `/handoff link`, proven by the
/// platform itself.
pub fn set_accounts(actor: &Actor) -> Check {
    if actor.role() == Role::Admin {
        Ok(())
    } else {
        Err(
            "setting platform accounts needs the admin role (link your own with `/handoff link` on each platform)"
                .into(),
        )
    }
}

/// Whether someone a chat platform shows for the first time becomes an operator:
/// `member` says whether the platform counts them as a full member of the team (not a
/// guest, not from another organisation or workspace).
pub fn provision(policy: &super::model::Policy, member: bool) -> Check {
    use super::model::Provisioning;
    match (policy.provisioning, member) {
        (Provisioning::Open, _) | (Provisioning::Members, true) => Ok(()),
        (Provisioning::Members, false) => {
            Err("guests and people from other organisations do not become operators here; an admin can add you".into())
        }
        (Provisioning::Invite, _) => {
            Err("only operators an admin created or linked act here; ask an admin to add you".into())
        }
    }
}

/// Operators set their own presence; managers may set anyone's.
pub fn set_presence(actor: &Actor, target: OperatorId) -> Check {
    if actor.operator() == Some(target) {
        return Ok(());
    }
    managers(actor, "changing another operator's presence")
}

/// Operators create their own tokens; admins may create anyone's.
pub fn create_token(actor: &Actor, target: OperatorId) -> Check {
    if actor.operator() == Some(target) || actor.role() == Role::Admin {
        Ok(())
    } else {
        Err("creating a token for another operator needs the admin role".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_manage_only_themselves() {
        let me = Actor::Operator {
            id: OperatorId(1),
            role: Role::Agent,
        };
        assert!(set_presence(&me, OperatorId(1)).is_ok());
        assert!(set_presence(&me, OperatorId(2)).unwrap_err().contains("manager"));
        assert!(manage_teams(&me).is_err());
        assert!(set_role(&me, Role::Agent).unwrap_err().contains("admin"));
        let boss = Actor::Operator {
            id: OperatorId(2),
            role: Role::Manager,
        };
        assert!(manage_teams(&boss).is_ok());
        assert!(set_role(&boss, Role::Manager).is_err());
        assert!(set_role(&Actor::AdminToken, Role::Admin).is_ok());
        assert!(set_accounts(&me).is_err() && set_accounts(&boss).is_err());
        assert!(set_accounts(&Actor::AdminToken).is_ok());
    }
}
