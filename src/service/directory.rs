//! Operators, presence, tokens, teams and widgets: the directory that routing reads.
//! Every change is permission-checked by [`crate::engine::permissions`].

use super::conversations::Names;
use super::views::{NewToken, OperatorView, TeamView, TokenView, WidgetView};
use super::{Service, ServiceError};
use crate::engine::{
    Actor, OperatorId, OperatorRef, Presence, Role, RoutingMode, TeamId, Window, WorkspaceId, permissions,
};
use crate::store::operators::{OperatorFields, OperatorRow};
use crate::store::widgets::PerPlatform;
use crate::store::{Tx, identities, is_unique_violation, now_ms, operators, teams, tokens, widgets};
use sqlx::AnyConnection;
use std::collections::BTreeMap;

/// A platform's name ("slack", "discord") → something on that platform. The front doors
/// decide which platforms they speak of; the directory stores whatever they name.
pub type ByPlatform<T> = BTreeMap<String, T>;

#[derive(Debug, Clone, Default)]
pub struct NewOperator {
    pub name: String,
    /// agent (default), manager or admin; only admins set roles.
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    /// Their account on each platform; only admins set them.
    pub accounts: ByPlatform<String>,
}

/// Absent fields stay as they are; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct OperatorPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub capacity: Option<Option<i64>>,
    /// Platforms absent stay as they are; `None` removes the account there.
    pub accounts: ByPlatform<Option<String>>,
}

/// Absent fields stay as they are; `eligible: []` = everyone.
#[derive(Debug, Clone, Default)]
pub struct WidgetPatch {
    pub routing: Option<RoutingMode>,
    pub eligible: Option<Vec<i64>>,
    /// `None` leaves it, `Some(None)` switches it off.
    pub accept_within: Option<Option<Window>>,
    pub reply_within: Option<Option<Window>>,
    /// Platforms absent stay as they are; `None` clears the channel there.
    pub channels: ByPlatform<Option<String>>,
    /// Whom the widget's thread notices mention on each platform (a Slack user group, a
    /// Discord role); absent stays, `None` clears.
    pub escalations: ByPlatform<Option<String>>,
}

/// Per platform: `None` leaves it as it is, `Some(None)` removes it, `Some(Some(id))` sets it.
type Changes<'a> = Vec<(&'a str, Option<Option<String>>)>;

impl NewOperator {
    fn accounts(&self) -> Result<Vec<(&str, Option<String>)>, ServiceError> {
        self.accounts
            .iter()
            .map(|(p, a)| Ok((check_platform(p)?, clean_id(Some(a.clone())))))
            .collect()
    }
}

impl OperatorPatch {
    fn accounts(&self) -> Result<Changes<'_>, ServiceError> {
        self.accounts
            .iter()
            .map(|(p, a)| Ok((check_platform(p)?, Some(clean_id(a.clone())))))
            .collect()
    }
}

impl WidgetPatch {
    /// A patch that sets (`Some`) or clears (`None`) the widget's channel on a platform.
    pub fn channel_on(platform: &str, channel: Option<String>) -> Result<WidgetPatch, ServiceError> {
        let mut patch = WidgetPatch::default();
        patch.channels.insert(check_platform(platform)?.to_owned(), channel);
        Ok(patch)
    }

    fn channels(&self) -> Result<Vec<(&str, Option<String>)>, ServiceError> {
        per_platform(&self.channels)
    }

    fn escalations(&self) -> Result<Vec<(&str, Option<String>)>, ServiceError> {
        per_platform(&self.escalations)
    }
}

fn per_platform(given: &ByPlatform<Option<String>>) -> Result<Vec<(&str, Option<String>)>, ServiceError> {
    given
        .iter()
        .map(|(p, c)| Ok((check_platform(p)?, clean_id(c.clone()))))
        .collect()
}

/// A platform's name is a short lowercase word: the key of its accounts and channels.
fn check_platform(name: &str) -> Result<&str, ServiceError> {
    let word = !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if word {
        Ok(name)
    } else {
        Err(ServiceError::Invalid(format!("`{name}` is not a platform name")))
    }
}

fn forbid(check: permissions::Check) -> Result<(), ServiceError> {
    check.map_err(ServiceError::Forbidden)
}

fn clean_id(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_capacity(c: Option<i64>) -> Result<(), ServiceError> {
    match c {
        Some(c) if c < 0 => Err(ServiceError::Invalid(
            "`capacity` must be 0 or more (or null for no limit)".into(),
        )),
        _ => Ok(()),
    }
}

fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ServiceError::Invalid("`name` must be 1 to 80 characters".into()));
    }
    Ok(name.to_owned())
}

fn linked_conflict(e: sqlx::Error) -> ServiceError {
    if is_unique_violation(&e) {
        ServiceError::Conflict("that platform account is already linked to another operator".into())
    } else {
        e.into()
    }
}

/// A text column that holds an enum; corrupt data is an error, never a default.
pub(super) fn parse_column<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, ServiceError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("corrupt {what} `{value}` in the database: {e}")))
}

/// Sets an operator's accounts; `None` leaves one as it is, `Some(None)` removes it.
async fn set_accounts(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    id: OperatorId,
    accounts: Changes<'_>,
) -> Result<(), ServiceError> {
    for (platform, account) in accounts {
        if let Some(account) = account {
            identities::set(conn, ws, id, platform, account.as_deref())
                .await
                .map_err(linked_conflict)?;
        }
    }
    Ok(())
}

impl Service {
    async fn operator_view(&self, conn: &mut AnyConnection, o: OperatorRow) -> Result<OperatorView, ServiceError> {
        let open_chats = operators::open_chats(conn, OperatorId(o.id)).await?;
        Ok(OperatorView {
            id: o.id,
            role: o.role,
            presence: o.presence,
            name: o.name,
            capacity: o.capacity,
            accounts: identities::of_operator(conn, OperatorId(o.id)).await?,
            open_chats,
        })
    }

    /// Reloads an operator changed in `tx`, commits, and returns their view.
    async fn commit_operator(&self, mut tx: Tx, ws: WorkspaceId, id: OperatorId) -> Result<OperatorView, ServiceError> {
        let o = operators::get(tx.conn(), ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        let view = self.operator_view(tx.conn(), o).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn list_operators(&self, ws: WorkspaceId) -> Result<Vec<OperatorView>, ServiceError> {
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for o in operators::list(&mut conn, ws).await? {
            out.push(self.operator_view(&mut conn, o).await?);
        }
        Ok(out)
    }

    pub async fn operator(&self, ws: WorkspaceId, id: OperatorId) -> Result<OperatorView, ServiceError> {
        let mut conn = self.store().read().await?;
        let o = operators::get(&mut conn, ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        self.operator_view(&mut conn, o).await
    }

    pub async fn create_operator(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        new: NewOperator,
    ) -> Result<OperatorView, ServiceError> {
        forbid(permissions::edit_operator(actor, None))?;
        let role = new.role.unwrap_or(Role::Agent);
        if role != Role::Agent {
            forbid(permissions::set_role(actor, role))?;
        }
        check_capacity(new.capacity)?;
        let accounts = new.accounts()?;
        if accounts.iter().any(|(_, a)| a.is_some()) {
            forbid(permissions::set_accounts(actor))?;
        }
        let fields = OperatorFields {
            name: check_name(&new.name)?,
            role,
            capacity: new.capacity,
        };
        let mut tx = self.store().write().await?;
        let id = OperatorId(operators::insert(tx.conn(), ws, &fields, now_ms()).await?);
        let accounts = accounts.into_iter().map(|(p, a)| (p, Some(a))).collect();
        set_accounts(tx.conn(), ws, id, accounts).await?;
        self.commit_operator(tx, ws, id).await
    }

    pub async fn update_operator(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: OperatorId,
        patch: OperatorPatch,
    ) -> Result<OperatorView, ServiceError> {
        let mut tx = self.store().write().await?;
        let o = operators::get(tx.conn(), ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        forbid(permissions::edit_operator(actor, Some(id)))?;
        if let Some(role) = patch.role.filter(|r| *r != o.role) {
            forbid(permissions::set_role(actor, role))?;
        }
        if let Some(c) = patch.capacity {
            check_capacity(c)?;
        }
        let accounts = patch.accounts()?;
        for (platform, account) in &accounts {
            if let Some(account) = account
                && identities::get(tx.conn(), id, platform).await? != *account
            {
                forbid(permissions::set_accounts(actor))?;
            }
        }
        let fields = OperatorFields {
            name: match &patch.name {
                Some(n) => check_name(n)?,
                None => o.name.clone(),
            },
            role: patch.role.unwrap_or(o.role),
            capacity: patch.capacity.unwrap_or(o.capacity),
        };
        operators::update(tx.conn(), id, &fields).await?;
        set_accounts(tx.conn(), ws, id, accounts).await?;
        self.commit_operator(tx, ws, id).await
    }

    pub async fn set_presence(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: OperatorId,
        presence: Presence,
    ) -> Result<OperatorView, ServiceError> {
        let mut tx = self.store().write().await?;
        operators::get(tx.conn(), ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        forbid(permissions::set_presence(actor, id))?;
        operators::set_presence(tx.conn(), id, presence.as_str()).await?;
        self.commit_operator(tx, ws, id).await
    }

    pub async fn create_token(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: OperatorId,
        label: Option<&str>,
    ) -> Result<NewToken, ServiceError> {
        let mut tx = self.store().write().await?;
        operators::get(tx.conn(), ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        forbid(permissions::create_token(actor, id))?;
        let token = format!("hbt_{}", hex::encode(rand::random::<[u8; 24]>()));
        let token_id = tokens::insert(tx.conn(), id, &token, label, now_ms()).await?;
        tx.commit().await?;
        Ok(NewToken {
            id: token_id,
            operator_id: id.0,
            token,
        })
    }

    /// An operator's tokens (yourself, or anyone as an admin), without their secrets.
    pub async fn list_tokens(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: OperatorId,
    ) -> Result<Vec<TokenView>, ServiceError> {
        let mut conn = self.store().read().await?;
        operators::get(&mut conn, ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        forbid(permissions::create_token(actor, id))?;
        Ok(tokens::list(&mut conn, id)
            .await?
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                label: t.label,
                created_at: super::views::rfc3339(t.created_at),
            })
            .collect())
    }

    /// Revokes one of an operator's tokens (yourself, or anyone as an admin).
    pub async fn revoke_token(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: OperatorId,
        token: i64,
    ) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        operators::get(tx.conn(), ws, id)
            .await?
            .ok_or_else(|| no_operator(id))?;
        forbid(permissions::create_token(actor, id))?;
        if !tokens::revoke(tx.conn(), id, token).await? {
            return Err(ServiceError::NotFound(format!("operator {id} has no token {token}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn team_view(
        &self,
        conn: &mut AnyConnection,
        ws: WorkspaceId,
        id: TeamId,
        name: String,
    ) -> Result<TeamView, ServiceError> {
        let names = Names::load(conn, ws).await?;
        let members = teams::members(conn, id)
            .await?
            .into_iter()
            .filter_map(|m| names.operator(m))
            .collect();
        Ok(TeamView {
            id: id.0,
            name,
            members,
        })
    }

    pub async fn list_teams(&self, ws: WorkspaceId) -> Result<Vec<TeamView>, ServiceError> {
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for t in teams::list(&mut conn, ws).await? {
            out.push(self.team_view(&mut conn, ws, TeamId(t.id), t.name).await?);
        }
        Ok(out)
    }

    pub async fn team(&self, ws: WorkspaceId, id: TeamId) -> Result<TeamView, ServiceError> {
        let mut conn = self.store().read().await?;
        let t = teams::get(&mut conn, ws, id).await?.ok_or_else(|| no_team(id))?;
        self.team_view(&mut conn, ws, id, t.name).await
    }

    pub async fn create_team(&self, ws: WorkspaceId, actor: &Actor, name: &str) -> Result<TeamView, ServiceError> {
        forbid(permissions::manage_teams(actor))?;
        let name = check_name(name)?;
        let mut tx = self.store().write().await?;
        let id = teams::insert(tx.conn(), ws, &name, now_ms()).await.map_err(|e| {
            if is_unique_violation(&e) {
                ServiceError::Conflict(format!("a team named `{name}` already exists"))
            } else {
                e.into()
            }
        })?;
        let view = self.team_view(tx.conn(), ws, TeamId(id), name).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn delete_team(&self, ws: WorkspaceId, actor: &Actor, id: TeamId) -> Result<(), ServiceError> {
        let mut tx = self.store().write().await?;
        teams::get(tx.conn(), ws, id).await?.ok_or_else(|| no_team(id))?;
        forbid(permissions::manage_teams(actor))?;
        teams::delete(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (`add = true`) or removes a member.
    pub async fn set_team_member(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: TeamId,
        op: OperatorId,
        add: bool,
    ) -> Result<TeamView, ServiceError> {
        let mut tx = self.store().write().await?;
        let t = teams::get(tx.conn(), ws, id).await?.ok_or_else(|| no_team(id))?;
        operators::get(tx.conn(), ws, op)
            .await?
            .ok_or_else(|| no_operator(op))?;
        forbid(permissions::manage_teams(actor))?;
        if add {
            teams::add_member(tx.conn(), id, op).await?;
        } else if !teams::remove_member(tx.conn(), id, op).await? {
            return Err(ServiceError::NotFound(format!("operator {op} is not in team {id}")));
        }
        let view = self.team_view(tx.conn(), ws, id, t.name).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn widget_view(&self, conn: &mut AnyConnection, w: widgets::WidgetRow) -> Result<WidgetView, ServiceError> {
        let names = Names::load(conn, WorkspaceId(w.workspace_id)).await?;
        let eligible: Vec<OperatorRef> = widgets::eligible(conn, &w.id)
            .await?
            .into_iter()
            .filter_map(|o| names.operator(o))
            .collect();
        let channels = widgets::channels(conn, &w.id).await?;
        let escalations = widgets::all_of(conn, &w.id, PerPlatform::Escalation).await?;
        Ok(WidgetView {
            escalations,
            routing: w.routing,
            accept_within: w.accept_within()?,
            reply_within: w.reply_within()?,
            id: w.id,
            eligible,
            channels,
        })
    }

    pub async fn list_widgets(&self, ws: WorkspaceId) -> Result<Vec<WidgetView>, ServiceError> {
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for w in widgets::list(&mut conn, ws).await? {
            out.push(self.widget_view(&mut conn, w).await?);
        }
        Ok(out)
    }

    pub async fn widget(&self, ws: WorkspaceId, id: &str) -> Result<WidgetView, ServiceError> {
        let mut conn = self.store().read().await?;
        let w = widgets::get(&mut conn, id)
            .await?
            .filter(|w| w.workspace_id == ws.0)
            .ok_or_else(|| no_widget(id))?;
        self.widget_view(&mut conn, w).await
    }

    /// Creates a widget with the defaults if it does not exist yet (managers), so it can
    /// be set up before its first handoff.
    pub async fn ensure_widget(&self, ws: WorkspaceId, actor: &Actor, id: &str) -> Result<(), ServiceError> {
        forbid(permissions::configure_widget(actor))?;
        let id = id.trim();
        if id.is_empty() || id.len() > 200 {
            return Err(ServiceError::Invalid("a widget id must be 1 to 200 characters".into()));
        }
        let mut tx = self.store().write().await?;
        if let Some(w) = widgets::get(tx.conn(), id).await?
            && w.workspace_id != ws.0
        {
            return Err(ServiceError::Conflict(format!(
                "widget `{id}` belongs to another workspace"
            )));
        }
        widgets::ensure(tx.conn(), ws, id, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_widget(
        &self,
        ws: WorkspaceId,
        actor: &Actor,
        id: &str,
        patch: WidgetPatch,
    ) -> Result<WidgetView, ServiceError> {
        let mut tx = self.store().write().await?;
        widgets::get(tx.conn(), id)
            .await?
            .filter(|w| w.workspace_id == ws.0)
            .ok_or_else(|| no_widget(id))?;
        forbid(permissions::configure_widget(actor))?;
        if let Some(routing) = patch.routing {
            widgets::set_routing(tx.conn(), id, routing.as_str()).await?;
        }
        for (platform, channel) in patch.channels()? {
            widgets::set_channel(tx.conn(), id, platform, channel.as_deref()).await?;
        }
        for (platform, target) in patch.escalations()? {
            widgets::set_one(tx.conn(), id, platform, PerPlatform::Escalation, target.as_deref()).await?;
        }
        widgets::set_timers(tx.conn(), id, patch.accept_within, patch.reply_within).await?;
        if let Some(eligible) = &patch.eligible {
            let mut ids = Vec::new();
            for op in eligible {
                let op = OperatorId(*op);
                operators::get(tx.conn(), ws, op).await?.ok_or_else(|| {
                    ServiceError::Invalid(format!("`eligible` names operator {op}, who does not exist"))
                })?;
                ids.push(op);
            }
            widgets::set_eligible(tx.conn(), id, &ids).await?;
        }
        let w = widgets::get(tx.conn(), id).await?.ok_or_else(|| no_widget(id))?;
        let view = self.widget_view(tx.conn(), w).await?;
        tx.commit().await?;
        Ok(view)
    }
}

/// An operator as a chat platform sees them.
#[derive(Debug, Clone)]
pub struct LinkedOperator {
    pub id: OperatorId,
    pub role: Role,
    pub name: String,
}

impl LinkedOperator {
    pub fn actor(&self) -> Actor {
        Actor::Operator {
            id: self.id,
            role: self.role,
        }
    }
}

pub(super) fn no_operator(id: OperatorId) -> ServiceError {
    ServiceError::NotFound(format!("no operator {id}"))
}

fn no_team(id: TeamId) -> ServiceError {
    ServiceError::NotFound(format!("no team {id}"))
}

fn no_widget(id: &str) -> ServiceError {
    ServiceError::NotFound(format!("no widget `{id}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_patch_keys_the_channel_by_platform_and_refuses_names_that_are_not_one() {
        let set = WidgetPatch::channel_on("chat", Some("C1".into())).unwrap();
        assert_eq!(
            set.channels.into_iter().collect::<Vec<_>>(),
            [("chat".to_owned(), Some("C1".to_owned()))]
        );
        let clear = WidgetPatch::channel_on("other_chat", None).unwrap();
        assert_eq!(clear.channels.get("other_chat"), Some(&None));
        for bad in ["", "Chat", "a b", "x".repeat(33).as_str()] {
            assert!(
                matches!(WidgetPatch::channel_on(bad, None), Err(ServiceError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
