//! The hard limits no verdict can override: the most one claim may move, the most all claims
//! may move in a day, and who may receive. Checked in code before the oracle is asked and again
//! when its verdict arrives.

use crate::reasons::RejectReason;
use near_sdk::json_types::U128;
use near_sdk::{near, AccountId};

/// Most recipients an allow-list may name.
pub const MAX_ALLOWED_RECIPIENTS: usize = 64;

/// The vault's hard limits (yoctoNEAR).
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most one claim may be paid.
    pub max_per_claim: U128,
    /// The most all claims together may be paid within one UTC day (block time).
    pub max_per_day: U128,
    /// When set, only these accounts may receive.
    pub allowed_recipients: Option<Vec<AccountId>>,
}

impl Limits {
    /// Checks the limits are usable; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_per_claim.0 == 0 {
            return Err("limits.max_per_claim must be more than 0".into());
        }
        if self.max_per_day.0 < self.max_per_claim.0 {
            return Err(format!(
                "limits.max_per_day ({}) must be at least limits.max_per_claim ({})",
                self.max_per_day.0, self.max_per_claim.0
            ));
        }
        if let Some(list) = &self.allowed_recipients {
            if list.is_empty() {
                return Err("limits.allowed_recipients is empty: omit it to allow anyone".into());
            }
            if list.len() > MAX_ALLOWED_RECIPIENTS {
                return Err(format!(
                    "limits.allowed_recipients names {} accounts; at most {MAX_ALLOWED_RECIPIENTS}",
                    list.len()
                ));
            }
        }
        Ok(())
    }

    /// Whether one claim of `amount` to `recipient` is within these limits (the day's window is
    /// checked apart).
    pub fn check_claim(&self, recipient: &AccountId, amount: u128) -> Result<(), RejectReason> {
        if amount > self.max_per_claim.0 {
            return Err(RejectReason::OverMaxPerClaim);
        }
        if let Some(list) = &self.allowed_recipients {
            if !list.contains(recipient) {
                return Err(RejectReason::RecipientNotAllowed);
            }
        }
        Ok(())
    }

    /// True when `self` allows nothing that `current` forbids: caps no higher, and an
    /// allow-list that only removes accounts (or adds one where there was none).
    pub fn only_tightens(&self, current: &Limits) -> bool {
        let recipients_tighter = match (&self.allowed_recipients, &current.allowed_recipients) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(new), Some(old)) => new.iter().all(|a| old.contains(a)),
        };
        self.max_per_claim.0 <= current.max_per_claim.0
            && self.max_per_day.0 <= current.max_per_day.0
            && recipients_tighter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> AccountId {
        name.parse().unwrap()
    }

    fn limits(per_claim: u128, per_day: u128, allowed: Option<&[&str]>) -> Limits {
        Limits {
            max_per_claim: U128(per_claim),
            max_per_day: U128(per_day),
            allowed_recipients: allowed.map(|l| l.iter().map(|a| account(a)).collect()),
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(limits(1, 1, None).validate(), Ok(()));
        assert!(limits(0, 1, None)
            .validate()
            .unwrap_err()
            .contains("max_per_claim"));
        assert!(limits(5, 4, None)
            .validate()
            .unwrap_err()
            .contains("max_per_day"));
        assert!(limits(1, 1, Some(&[]))
            .validate()
            .unwrap_err()
            .contains("allowed_recipients"));
    }

    #[test]
    fn claims_over_the_cap_or_to_strangers_are_refused() {
        let l = limits(10, 20, Some(&["bob.test"]));
        assert_eq!(l.check_claim(&account("bob.test"), 10), Ok(()));
        assert_eq!(
            l.check_claim(&account("bob.test"), 11),
            Err(RejectReason::OverMaxPerClaim)
        );
        assert_eq!(
            l.check_claim(&account("eve.test"), 1),
            Err(RejectReason::RecipientNotAllowed)
        );
        assert_eq!(
            limits(10, 20, None).check_claim(&account("eve.test"), 1),
            Ok(())
        );
    }

    #[test]
    fn tightening_is_recognised() {
        let current = limits(10, 20, Some(&["a.test", "b.test"]));
        assert!(limits(5, 20, Some(&["a.test"])).only_tightens(&current));
        assert!(!limits(11, 20, Some(&["a.test"])).only_tightens(&current));
        assert!(!limits(10, 21, Some(&["a.test"])).only_tightens(&current));
        assert!(!limits(10, 20, Some(&["c.test"])).only_tightens(&current));
        assert!(!limits(10, 20, None).only_tightens(&current));
        assert!(limits(10, 20, Some(&["c.test"])).only_tightens(&limits(10, 20, None)));
    }
}
