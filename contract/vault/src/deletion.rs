//! Deleting a final claim record: the account that filed a claim may delete it once it is paid
//! or rejected, and gets back exactly the storage deposit the record cost. The daily window and
//! the rule history keep no reference to claims, so a deletion changes no cap; claim ids are
//! never reused.

use crate::events::Event;
use crate::storage::send;
use crate::{Vault, VaultExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require};

#[near]
impl Vault {
    /// Deletes claim `claim_id` (only the account that filed it, only once it is `paid` or
    /// `rejected`) and refunds that account the record's storage deposit, which it returns.
    pub fn delete_claim(&mut self, claim_id: u64) -> U128 {
        let claim = self.claim_or_panic(claim_id);
        require!(
            env::predecessor_account_id() == claim.claimant,
            format!(
                "only {} (who filed claim {claim_id}) may delete it",
                claim.claimant
            )
        );
        require!(
            claim.status.is_final(),
            format!("claim {claim_id} is still in flight; it can be deleted once paid or rejected")
        );
        self.claims.remove(&claim_id);
        send(&claim.claimant, claim.storage_deposit.0);
        Event::ClaimDeleted.emit(json!({
            "claim_id": claim_id,
            "claimant": claim.claimant,
            "refunded": claim.storage_deposit,
        }));
        claim.storage_deposit
    }
}
