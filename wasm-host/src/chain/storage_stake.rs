//! NEAR's storage staking rule (nearcore's `check_storage_stake`): an account holds
//! `storage_amount_per_byte` for every byte it stores — unless it stores at most
//! [`ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT`] bytes (NEP-448: an account with a key or two and no
//! contract needs no balance at all).

/// The most bytes an account may store and still need no balance for them.
pub const ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT: u64 = 770;

/// How much `balance` lacks to pay for `storage_usage` bytes at `per_byte`, or `None` when it
/// is enough (or the account is small enough to need nothing).
pub fn storage_shortfall(balance: u128, storage_usage: u64, per_byte: u128) -> Option<u128> {
    let needed = u128::from(storage_usage) * per_byte;
    (balance < needed && storage_usage > ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT)
        .then(|| needed - balance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_accounts_need_no_balance_and_larger_ones_all_of_it() {
        let per_byte = 10u128.pow(19);
        assert_eq!(storage_shortfall(0, 770, per_byte), None);
        assert_eq!(storage_shortfall(0, 771, per_byte), Some(771 * per_byte));
        assert_eq!(
            storage_shortfall(771 * per_byte - 1, 771, per_byte),
            Some(1)
        );
        assert_eq!(storage_shortfall(771 * per_byte, 771, per_byte), None);
    }
}
