//! Storage accounting: whoever adds bytes pays for them from the attached deposit. The state is
//! written when a call ends, so the bytes a call adds are counted from what it stores.

use near_sdk::borsh::{self, BorshSerialize};
use near_sdk::{env, require, AccountId, NearToken, Promise};

/// Bytes NEAR counts for each stored key-value pair besides its key and value.
pub const RECORD_OVERHEAD_BYTES: u64 = 40;

/// yoctoNEAR that `bytes` of storage lock.
pub fn cost_of(bytes: u64) -> u128 {
    env::storage_byte_cost()
        .as_yoctonear()
        .saturating_mul(u128::from(bytes))
}

/// Bytes `value` takes in borsh.
pub fn borsh_len<T: BorshSerialize>(value: &T) -> u64 {
    borsh::to_vec(value).map_or(0, |bytes| bytes.len() as u64)
}

/// Takes the cost of `bytes` from the attached deposit and returns what is left of it; panics,
/// undoing the call, when the deposit does not cover it.
pub fn charge(bytes: u64) -> u128 {
    let cost = cost_of(bytes);
    let attached = env::attached_deposit().as_yoctonear();
    require!(
        attached >= cost,
        format!("attach at least {cost} yoctoNEAR to pay for {bytes} bytes of storage; attached {attached}")
    );
    attached - cost
}

/// Sends `amount` yoctoNEAR to `receiver` (nothing when it is zero).
pub fn send(receiver: &AccountId, amount: u128) {
    if amount > 0 {
        Promise::new(receiver.clone())
            .transfer(NearToken::from_yoctonear(amount))
            .detach();
    }
}
