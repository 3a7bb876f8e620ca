//! Settling a receipt's gas as nearcore does since NEP-642 (protocol 85,
//! `refund_unspent_gas_and_deposits`): its gas was bought at the receipt's purchase price and is
//! burnt at the lower of that and the block's price; the signer gets back the unused gas at the
//! purchase price (less the refund penalty) and the price difference of the gas burnt, less what
//! creating an account costs on top of its execution gas (`account_creation_charge`).

use crate::abi::{Balance, Gas};
use crate::fees::{Action as Fee, Fees};

/// How a receipt's gas was paid for and burnt.
#[derive(Debug, Clone, Copy)]
pub(super) struct GasUse {
    /// The price its gas was bought at (the receipt's `gas_price`).
    pub purchase_price: Balance,
    /// The price its gas burns at: the lower of the purchase price and the block's.
    pub burn_price: Balance,
    /// Gas it burnt.
    pub burnt: Gas,
    /// Gas bought for it that it neither burnt nor passed on to the receipts it created.
    pub unused: Gas,
    /// Whether it created its receiver's account (and succeeded).
    pub created_account: bool,
}

/// What the signer gets back and what the receipt burnt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Settlement {
    /// The gas refund to the signer.
    pub refund: Balance,
    /// The outcome's `tokens_burnt`: the gas burnt at the burn price, the refund penalty and the
    /// account creation charge.
    pub tokens_burnt: Balance,
}

/// Settles `gas` under `fees`.
pub(super) fn settle(fees: &Fees, gas: GasUse) -> Settlement {
    let GasUse {
        purchase_price,
        burn_price,
        burnt,
        unused,
        created_account,
    } = gas;
    let penalty = u128::from(fees.refund_penalty(unused)) * burn_price;
    let unused_refund = (u128::from(unused) * purchase_price).saturating_sub(penalty);
    // The burn price never exceeds the purchase price: the difference on the gas burnt goes back.
    let mut price_surplus = u128::from(burnt) * purchase_price.saturating_sub(burn_price);
    let mut creation_charge = 0;
    if created_account {
        let already_burnt = u128::from(fees.exec(Fee::create_account)) * burn_price;
        let wanted = fees.account_creation_charge().saturating_sub(already_burnt);
        creation_charge = wanted.min(price_surplus);
        price_surplus -= creation_charge;
    }
    Settlement {
        refund: unused_refund + price_surplus,
        tokens_burnt: u128::from(burnt) * burn_price + penalty + creation_charge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURCHASE: Balance = 1_000_000_000;
    const BURN: Balance = 100_000_000;

    fn gas(burnt: Gas, unused: Gas, created_account: bool) -> GasUse {
        GasUse {
            purchase_price: PURCHASE,
            burn_price: BURN,
            burnt,
            unused,
            created_account,
        }
    }

    #[test]
    fn the_signer_pays_the_gas_burnt_at_the_burn_price() {
        let fees = Fees::default();
        let (burnt, unused) = (5_000_000_000_000, 95_000_000_000_000);
        let settled = settle(&fees, gas(burnt, unused, false));
        let bought = u128::from(burnt + unused) * PURCHASE;
        assert_eq!(bought - settled.refund, u128::from(burnt) * BURN);
        assert_eq!(settled.tokens_burnt, u128::from(burnt) * BURN);
    }

    #[test]
    fn creating_an_account_costs_the_account_creation_charge_in_all() {
        let fees = Fees::default();
        let burnt = fees.exec(Fee::new_action_receipt) + fees.exec(Fee::create_account);
        let settled = settle(&fees, gas(burnt, 0, true));
        let bought = u128::from(burnt) * PURCHASE;
        let receipt_fee = u128::from(fees.exec(Fee::new_action_receipt)) * BURN;
        assert_eq!(
            bought - settled.refund,
            fees.account_creation_charge() + receipt_fee
        );
        assert_eq!(settled.tokens_burnt, bought - settled.refund);
    }

    #[test]
    fn the_creation_charge_never_exceeds_the_price_surplus() {
        // Gas bought at the burn price leaves no surplus to take the charge from.
        let fees = Fees::default();
        let settled = settle(
            &fees,
            GasUse {
                purchase_price: BURN,
                ..gas(fees.exec(Fee::create_account), 0, true)
            },
        );
        assert_eq!(settled.refund, 0);
        assert_eq!(
            settled.tokens_burnt,
            u128::from(fees.exec(Fee::create_account)) * BURN
        );
    }
}
