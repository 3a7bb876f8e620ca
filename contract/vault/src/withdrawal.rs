//! The owner taking funds back: a withdrawal is proposed, applies only after
//! `rule_change_delay_blocks` (like a rule change, so claimants see it coming and can file
//! first), and may take only the funds that no claim in flight may need (`funds - reserved`):
//! every claim filed before it is applied stays payable if approved. The owner may cancel it.
//! A failed transfer puts the amount back into the funds.

use crate::events::Event;
use crate::storage::{borsh_len, charge, cost_of, send};
use crate::{Vault, VaultExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near, require, AccountId, Gas, NearToken, Promise};

/// Gas for `on_withdrawal`.
const WITHDRAWAL_CALLBACK_GAS: Gas = Gas::from_tgas(10);

/// A proposed withdrawal, waiting for its delay.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingWithdrawal {
    /// yoctoNEAR to take out of the funds.
    pub amount: U128,
    /// Who receives it (the owner unless another account was named).
    pub receiver: AccountId,
    pub proposed_at: u64,
    /// `apply_withdrawal` works from this block on.
    pub applicable_at: u64,
}

#[near]
impl Vault {
    /// Proposes taking `amount` yoctoNEAR out of the funds, paid to `receiver` (default: the
    /// owner; never the vault itself). Owner only; attach the proposal's storage, the rest is refunded. It may be
    /// applied after `rule_change_delay_blocks`; `amount` must be within the funds now and,
    /// when applied, within the funds not reserved by claims in flight.
    #[payable]
    pub fn propose_withdrawal(
        &mut self,
        amount: U128,
        receiver: Option<AccountId>,
    ) -> PendingWithdrawal {
        self.require_owner();
        require!(amount.0 > 0, "the amount must be more than 0");
        require!(
            amount.0 <= self.funds,
            format!(
                "the withdrawal of {} is more than the vault's funds ({})",
                amount.0, self.funds
            )
        );
        require!(
            self.pending_withdrawal.is_none(),
            "a withdrawal is already pending; cancel it first"
        );
        let receiver = receiver.unwrap_or_else(|| self.owner.clone());
        require!(
            receiver != env::current_account_id(),
            "the receiver may not be the vault itself: the NEAR would leave the funds and stay \
             unreachable in the account"
        );
        let now = env::block_height();
        let pending = PendingWithdrawal {
            amount,
            receiver,
            proposed_at: now,
            applicable_at: now + self.rule_change_delay_blocks,
        };
        self.pending_withdrawal = Some(pending.clone());
        let left = charge(borsh_len(&self.pending_withdrawal));
        Event::WithdrawalProposed.emit(json!({
            "amount": pending.amount,
            "receiver": pending.receiver,
            "proposed_at": pending.proposed_at,
            "applicable_at": pending.applicable_at,
        }));
        send(&env::predecessor_account_id(), left);
        pending
    }

    /// Pays the pending withdrawal once its delay has passed (anyone may call). Refused, and
    /// left pending, while it is more than the funds not reserved by claims in flight. The
    /// proposal's storage deposit goes back to the owner; the transaction's value is what the
    /// receiver got (0 when the transfer failed and the amount went back into the funds).
    pub fn apply_withdrawal(&mut self) -> Promise {
        let pending = self
            .pending_withdrawal
            .take()
            .unwrap_or_else(|| env::panic_str("no withdrawal is pending"));
        let now = env::block_height();
        require!(
            now >= pending.applicable_at,
            format!(
                "the withdrawal applies from block {}; now is block {now}",
                pending.applicable_at
            )
        );
        let amount = pending.amount.0;
        let available = self.unreserved_funds();
        require!(
            amount <= available,
            format!(
                "the withdrawal of {amount} is more than the funds not reserved by claims in \
                 flight ({available} of {} funds, {} reserved); apply it once they are settled, \
                 or cancel it",
                self.funds, self.reserved
            )
        );
        self.funds -= amount;
        send(&self.owner, cost_of(borsh_len(&Some(pending.clone()))));
        Event::WithdrawalApplied.emit(json!({
            "amount": pending.amount,
            "receiver": pending.receiver,
            "funds": U128(self.funds),
        }));
        Promise::new(pending.receiver.clone())
            .transfer(NearToken::from_yoctonear(amount))
            .then(
                Self::ext(env::current_account_id())
                    .with_static_gas(WITHDRAWAL_CALLBACK_GAS)
                    .on_withdrawal(pending.amount, pending.receiver),
            )
    }

    /// The withdrawal transfer's outcome: what `receiver` got, or 0 with `amount` back in the
    /// funds when the transfer failed (e.g. the account does not exist).
    #[private]
    pub fn on_withdrawal(&mut self, amount: U128, receiver: AccountId) -> U128 {
        if env::promise_result_checked(0, 0).is_ok() {
            Event::Withdrawn.emit(json!({
                "amount": amount,
                "receiver": receiver,
                "funds": U128(self.funds),
            }));
            return amount;
        }
        self.funds += amount.0;
        Event::WithdrawalFailed.emit(json!({
            "amount": amount,
            "receiver": receiver,
            "funds": U128(self.funds),
        }));
        U128(0)
    }

    /// Withdraws the pending withdrawal proposal (owner); its storage deposit goes back to the
    /// owner.
    pub fn cancel_withdrawal_proposal(&mut self) {
        self.require_owner();
        let pending = self
            .pending_withdrawal
            .take()
            .unwrap_or_else(|| env::panic_str("no withdrawal is pending"));
        send(&self.owner, cost_of(borsh_len(&Some(pending.clone()))));
        Event::WithdrawalCancelled.emit(json!({
            "amount": pending.amount,
            "receiver": pending.receiver,
        }));
    }
}
