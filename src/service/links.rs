//! Linking one person's accounts on two chat platforms to one operator. `/handoff link`
//! on one platform issues a short-lived code for the caller's operator; the same command
//! with the code on another platform moves the caller's account there onto that
//! operator, in one transaction. Chat platforms are named here only as the platform
//! names their adapters pass in.

use super::directory::no_operator;
use super::{LinkedOperator, Service, ServiceError};
use crate::engine::{OperatorId, WorkspaceId};
use crate::store::{Tx, identities, is_unique_violation, link_codes, now_ms, operators, teams, tokens, widgets};

/// How long a link code can be redeemed.
pub const LINK_CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// The characters of a code: capitals and digits that cannot be mistaken for each other
/// (no I, L, O, 0 or 1).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// 31^8 ≈ 8.5 × 10^11 codes: out of reach of guessing within a code's ten minutes.
const CODE_LEN: usize = 8;

fn new_code() -> String {
    (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// A typed code as stored: trimmed and in capitals; `None` if it cannot be a code.
fn normalize(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn not_live() -> ServiceError {
    ServiceError::Invalid(format!(
        "that is not a live link code: a code works once, for {} minutes. Run `/handoff link` again for a new one",
        LINK_CODE_TTL_MS / 60_000
    ))
}

impl Service {
    /// Issues a link code for `operator`, who calls from their account on `platform`.
    /// Their earlier unused code, if any, stops working: one live code per operator.
    pub async fn issue_link_code(
        &self,
        ws: WorkspaceId,
        operator: OperatorId,
        platform: &str,
    ) -> Result<String, ServiceError> {
        let now = now_ms();
        let mut tx = self.store().write().await?;
        operators::get(tx.conn(), ws, operator)
            .await?
            .ok_or_else(|| no_operator(operator))?;
        if identities::get(tx.conn(), operator, platform).await?.is_none() {
            return Err(ServiceError::Invalid(format!(
                "operator {operator} has no {platform} account to link from"
            )));
        }
        link_codes::clean_expired(tx.conn(), now).await?;
        for _ in 0..8 {
            // Again on each try: a code issued meanwhile by a concurrent call is replaced too.
            link_codes::drop_unused(tx.conn(), operator).await?;
            let code = new_code();
            if link_codes::insert(tx.conn(), ws, operator, platform, &code, now, now + LINK_CODE_TTL_MS).await? {
                tx.commit().await?;
                return Ok(code);
            }
        }
        Err(ServiceError::Internal(anyhow::anyhow!(
            "no free link code after 8 tries"
        )))
    }

    /// Redeems a link code from `account` on `platform`: that account then belongs to the
    /// operator the code was issued for, who is returned. Refused when the code is unknown,
    /// used or expired, was issued on this same platform, when the code's operator has
    /// another account here, or when the account's current operator still has open
    /// conversations. The account's previous operator, left without accounts, is retired
    /// (see [`retire`]).
    pub async fn redeem_link_code(
        &self,
        ws: WorkspaceId,
        platform: &str,
        account: &str,
        code: &str,
    ) -> Result<LinkedOperator, ServiceError> {
        let code = normalize(code).ok_or_else(not_live)?;
        let now = now_ms();
        let mut tx = self.store().write().await?;
        let current = identities::operator_of(tx.conn(), ws, platform, account).await?;
        // Taken first: a second redeemer of the same code waits here, then finds it used.
        let issued = link_codes::redeem(tx.conn(), ws, &code, now, platform, account, current)
            .await?
            .ok_or_else(not_live)?;
        if issued.platform == platform {
            return Err(ServiceError::Invalid(format!(
                "that code was issued on {platform}, where you are now: run it on the other platform, \
                 from the account you want to link"
            )));
        }
        let target = issued.operator;
        if current != Some(target) {
            if identities::get(tx.conn(), target, platform).await?.is_some() {
                return Err(ServiceError::Conflict(format!(
                    "the operator that code came from already has another {platform} account: \
                     an operator has one account per platform"
                )));
            }
            match current {
                None => identities::set(tx.conn(), ws, target, platform, Some(account))
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            ServiceError::Conflict("that account was linked to another operator meanwhile".into())
                        } else {
                            e.into()
                        }
                    })?,
                Some(old) => {
                    let open = operators::open_chats(tx.conn(), old).await?;
                    if open > 0 {
                        return Err(ServiceError::Conflict(format!(
                            "you still have {open} open conversation(s) on this account: hand them over \
                             (transfer, unassign or resolve them) first, then run the code again"
                        )));
                    }
                    identities::move_account(tx.conn(), old, target, platform).await?;
                    if identities::of_operator(tx.conn(), old).await?.is_empty() {
                        retire(&mut tx, old, target).await?;
                    }
                }
            }
        }
        link_codes::clean_expired(tx.conn(), now).await?;
        let linked = operators::get(tx.conn(), ws, target)
            .await?
            .ok_or_else(|| no_operator(target))?;
        tx.commit().await?;
        tracing::info!(
            operator = target.0,
            platform,
            replaced = current.map(|o| o.0),
            "linked a platform account to an operator"
        );
        Ok(LinkedOperator {
            id: target,
            role: linked.role,
            name: linked.name,
        })
    }
}

/// Retires an operator whose last account moved to `successor` (the same person). The
/// successor gets their team memberships and widget eligibility (so routing and the
/// eligibility rules treat the person as before; never their role, which would be a
/// way to gain one), and their API tokens and unused link codes stop working. An
/// operator with history (see [`operators::has_history`]) is kept, away with a capacity
/// of 0, because conversations, transcript lines and declines refer to them by foreign
/// key and the audit trail by id: deleting would fail or leave the trail nameless. One
/// without history is deleted, so the directory does not fill with empty doubles of
/// people who linked a platform they had just started using.
async fn retire(tx: &mut Tx, old: OperatorId, successor: OperatorId) -> Result<(), ServiceError> {
    teams::move_memberships(tx.conn(), old, successor).await?;
    widgets::move_eligibility(tx.conn(), old, successor).await?;
    tokens::revoke_all(tx.conn(), old).await?;
    link_codes::drop_unused(tx.conn(), old).await?;
    if operators::has_history(tx.conn(), old).await? {
        operators::retire(tx.conn(), old).await?;
    } else {
        operators::delete(tx.conn(), old).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_drawn_from_the_unambiguous_alphabet_and_typed_ones_are_normalized() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            assert_eq!(normalize(&code.to_lowercase()), Some(code.clone()));
            assert_eq!(normalize(&format!("  {code} ")), Some(code));
        }
        assert_eq!(normalize("ABCD"), None);
        assert_eq!(normalize("ABCDEFG0"), None, "0 is not in the alphabet");
        assert_eq!(normalize("ABCDEFGHJ"), None);
        assert_eq!(normalize("ÄBCDEFGH"), None);
    }
}
