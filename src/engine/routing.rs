//! Who gets a conversation that needs a human (docs/behaviour.md#routing). Pure: the
//! caller loads the candidates (eligible operators with their presence, capacity and
//! load) inside the transition's transaction and stores the returned cursor in that same
//! transaction.

use super::ids::OperatorId;
use super::model::{Presence, RoutingMode};

/// One operator who could be picked, with what routing needs to know about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: OperatorId,
    pub presence: Presence,
    /// Most open chats at once; `None` is unlimited.
    pub capacity: Option<i64>,
    /// Conversations assigned to them that are `handed_off` or `active`.
    pub open_chats: i64,
    /// When they were last given a conversation (epoch ms); `None` = never.
    pub last_assigned_at: Option<i64>,
}

impl Candidate {
    pub fn at_capacity(&self) -> bool {
        self.capacity.is_some_and(|cap| self.open_chats >= cap)
    }

    /// Routing only ever picks available operators below capacity who have not declined.
    fn can_take(&self, declined: &[OperatorId]) -> bool {
        self.presence == Presence::Available && !self.at_capacity() && !declined.contains(&self.id)
    }
}

/// The routing decision: who, and where the round-robin cursor now stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub operator: OperatorId,
    /// The new round-robin cursor (the operator picked); `None` when the mode keeps none.
    pub cursor: Option<OperatorId>,
}

/// Picks an owner, or `None` when nobody eligible is available (the conversation then
/// stays unassigned). `cursor` is the round-robin position: the last operator picked.
pub fn pick(
    mode: RoutingMode,
    candidates: &[Candidate],
    cursor: Option<OperatorId>,
    declined: &[OperatorId],
) -> Option<Pick> {
    let mut open: Vec<&Candidate> = candidates.iter().filter(|c| c.can_take(declined)).collect();
    open.sort_by_key(|c| c.id);
    open.dedup_by_key(|c| c.id);
    match mode {
        RoutingMode::Manual => None,
        RoutingMode::RoundRobin => {
            let next = match cursor {
                Some(cur) => open.iter().find(|c| c.id > cur).or_else(|| open.first()),
                None => open.first(),
            }?;
            Some(Pick {
                operator: next.id,
                cursor: Some(next.id),
            })
        }
        RoutingMode::LightestLoad => {
            // Fewest open chats; then the one assigned least recently (never = first);
            // then the lowest id.
            let best = open
                .iter()
                .min_by_key(|c| (c.open_chats, c.last_assigned_at.unwrap_or(i64::MIN), c.id))?;
            Some(Pick {
                operator: best.id,
                cursor: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: i64) -> Candidate {
        Candidate {
            id: OperatorId(id),
            presence: Presence::Available,
            capacity: None,
            open_chats: 0,
            last_assigned_at: None,
        }
    }

    fn rr(c: &[Candidate], cursor: Option<i64>, declined: &[i64]) -> Option<i64> {
        let declined: Vec<OperatorId> = declined.iter().map(|d| OperatorId(*d)).collect();
        pick(RoutingMode::RoundRobin, c, cursor.map(OperatorId), &declined).map(|p| p.operator.0)
    }

    #[test]
    fn round_robin_goes_in_id_order_and_wraps() {
        let c = [op(3), op(1), op(2)];
        assert_eq!(rr(&c, None, &[]), Some(1));
        assert_eq!(rr(&c, Some(1), &[]), Some(2));
        assert_eq!(rr(&c, Some(2), &[]), Some(3));
        assert_eq!(rr(&c, Some(3), &[]), Some(1));
        // A cursor on an operator who left still finds the next one.
        assert_eq!(rr(&c, Some(99), &[]), Some(1));
    }

    #[test]
    fn round_robin_skips_away_full_and_declined() {
        let mut away = op(2);
        away.presence = Presence::Away;
        let mut full = op(3);
        full.capacity = Some(1);
        full.open_chats = 1;
        let c = [op(1), away, full, op(4), op(5)];
        assert_eq!(rr(&c, Some(1), &[]), Some(4));
        assert_eq!(rr(&c, Some(1), &[4]), Some(5));
        assert_eq!(rr(&c, Some(1), &[1, 4, 5]), None);
    }

    #[test]
    fn lightest_load_ties_go_to_least_recent_then_lowest_id() {
        let mut a = op(1);
        a.open_chats = 2;
        let mut b = op(2);
        b.open_chats = 1;
        b.last_assigned_at = Some(50);
        let mut c = op(3);
        c.open_chats = 1;
        c.last_assigned_at = Some(10);
        let mut d = op(4);
        d.open_chats = 1;
        d.last_assigned_at = Some(10);
        let got = pick(RoutingMode::LightestLoad, &[a, b, c, d], None, &[]).unwrap();
        assert_eq!(got.operator, OperatorId(3));
        let mut e = op(5);
        e.open_chats = 1;
        let got = pick(RoutingMode::LightestLoad, &[op(9).clone(), e], None, &[]).unwrap();
        assert_eq!(got.operator, OperatorId(9), "zero open chats wins");
    }

    #[test]
    fn manual_and_empty_pick_nobody() {
        assert_eq!(pick(RoutingMode::Manual, &[op(1)], None, &[]), None);
        assert_eq!(pick(RoutingMode::LightestLoad, &[], None, &[]), None);
    }
}
