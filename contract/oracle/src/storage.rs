//! Storage accounting: whoever adds bytes pays for them from the attached deposit.

use near_sdk::{env, require, NearToken, Promise};

/// yoctoNEAR that `bytes` of storage lock.
pub fn cost_of(bytes: u64) -> u128 {
    env::storage_byte_cost()
        .as_yoctonear()
        .saturating_mul(u128::from(bytes))
}

/// The caller pays for every byte its call added; the rest of its deposit goes back to it, with
/// the cost of the bytes its call freed (it paid for them when it wrote them).
pub fn charge_storage(storage_before: u64, storage_after: u64) {
    let cost = cost_of(storage_after.saturating_sub(storage_before));
    let freed = cost_of(storage_before.saturating_sub(storage_after));
    let attached = env::attached_deposit().as_yoctonear();
    require!(
        attached >= cost,
        format!(
            "attach at least {cost} yoctoNEAR to pay for {} bytes of storage",
            storage_after.saturating_sub(storage_before)
        )
    );
    send(&env::predecessor_account_id(), attached - cost + freed);
}

/// Sends `amount` yoctoNEAR to `receiver` (nothing when it is zero).
pub fn send(receiver: &near_sdk::AccountId, amount: u128) {
    if amount > 0 {
        Promise::new(receiver.clone())
            .transfer(NearToken::from_yoctonear(amount))
            .detach();
    }
}
