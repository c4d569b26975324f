//! Applies the configuration's `[[operators]]`, `[[teams]]` and `[[widgets]]` at start:
//! creates what is missing and updates what is declared, finding operators by their
//! seed key (`key`, or the name as written in the file; never the display name, which
//! operators may change).
//! Running it twice changes nothing the second time.

use super::{DEFAULT_WORKSPACE, Service, ServiceError};
use crate::config::Seed;
use crate::engine::{OperatorId, Role, TeamId};
use crate::store::operators::OperatorFields;
use crate::store::{identities, now_ms, operators, teams, widgets};
use std::collections::HashMap;

pub(super) async fn apply(service: &Service, seed: &Seed) -> Result<(), ServiceError> {
    let ws = DEFAULT_WORKSPACE;
    let now = now_ms();
    let mut tx = service.store().write().await?;
    let conn = tx.conn();
    let mut ids: HashMap<&str, OperatorId> = HashMap::new();
    for o in &seed.operators {
        let fields = OperatorFields {
            name: o.name.clone(),
            role: match &o.role {
                Some(role) => super::directory::parse_column("configured role", role)?,
                None => Role::Agent,
            },
            capacity: o.capacity,
        };
        let key = o.seed_key();
        let existing = match operators::find_by_seed_key(conn, ws, key).await? {
            Some(found) => Some(found),
            None => adoptable(conn, o).await?,
        };
        let id = match existing {
            Some(existing) => {
                operators::update(conn, OperatorId(existing.id), &fields).await?;
                existing.id
            }
            None => operators::insert(conn, ws, &fields, now).await?,
        };
        operators::set_seed_key(conn, OperatorId(id), key).await?;
        for (platform, account) in o.accounts() {
            identities::set(conn, ws, OperatorId(id), platform, account).await?;
        }
        ids.insert(o.name.as_str(), OperatorId(id));
    }
    let lookup =
        |names: &[String]| -> Vec<OperatorId> { names.iter().filter_map(|n| ids.get(n.as_str()).copied()).collect() };
    for t in &seed.teams {
        let id = match teams::find_by_name(conn, ws, &t.name).await? {
            Some(existing) => existing.id,
            None => teams::insert(conn, ws, &t.name, now).await?,
        };
        for op in lookup(&t.members) {
            teams::add_member(conn, TeamId(id), op).await?;
        }
    }
    for w in &seed.widgets {
        widgets::ensure(conn, ws, &w.id, now).await?;
        if let Some(routing) = &w.routing {
            widgets::set_routing(conn, &w.id, routing).await?;
        }
        for (platform, channel) in w.channels() {
            widgets::set_channel(conn, &w.id, platform, channel).await?;
        }
        for (platform, target) in w.escalations() {
            if target.is_some() {
                widgets::set_one(conn, &w.id, platform, widgets::PerPlatform::Escalation, target).await?;
            }
        }
        widgets::set_eligible(conn, &w.id, &lookup(&w.eligible)).await?;
        let (accept_within, reply_within) = w.timers();
        widgets::set_timers(conn, &w.id, accept_within, reply_within).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An operator from before seeding kept keys, to take on a declared key the first time:
/// the one holding a declared platform account (which only admins set), else the
/// earliest unkeyed operator with the declared name.
async fn adoptable(
    conn: &mut sqlx::AnyConnection,
    o: &crate::config::OperatorSeed,
) -> Result<Option<operators::OperatorRow>, ServiceError> {
    let ws = DEFAULT_WORKSPACE;
    for (platform, account) in o.accounts() {
        let Some(account) = account else { continue };
        if let Some(id) = identities::operator_of(conn, ws, platform, account).await?
            && let Some(row) = operators::get(conn, ws, id).await?
            && row.seed_key.is_none()
        {
            return Ok(Some(row));
        }
    }
    Ok(operators::find_unkeyed_by_name(conn, ws, &o.name).await?)
}
