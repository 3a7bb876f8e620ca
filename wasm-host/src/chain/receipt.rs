//! Receipts as the chain moves them between blocks.

use crate::abi::{AccountId, Action, Balance, CryptoHash, DataDependency};
use borsh::{BorshDeserialize, BorshSerialize};

/// A receipt: work for `receiver_id`, sent by `predecessor_id`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    pub id: CryptoHash,
    pub predecessor_id: AccountId,
    pub receiver_id: AccountId,
    pub kind: ReceiptKind,
}

/// What a receipt carries.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ReceiptKind {
    /// Actions to run once every input data id has arrived.
    Action(ActionReceipt),
    /// A result (`None`: the sender failed) for a waiting receipt.
    Data {
        data_id: CryptoHash,
        data: Option<Vec<u8>>,
    },
    /// The payload of a yield created by an earlier receipt (`None`: it timed out). The yield
    /// waits until the first of these arrives; any later one is dropped, as on NEAR.
    PromiseResume {
        data_id: CryptoHash,
        data: Option<Vec<u8>>,
    },
}

/// The body of an action receipt.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ActionReceipt {
    pub signer_id: AccountId,
    pub signer_public_key: Vec<u8>,
    pub gas_price: Balance,
    pub output_data_receivers: Vec<DataDependency>,
    pub input_data_ids: Vec<CryptoHash>,
    pub actions: Vec<Action>,
    /// Where deposit refunds go (the predecessor when unset).
    pub refund_to: Option<AccountId>,
}

/// A transfer from `system` that a receipt sends once it ran: a deleted account's balance, a
/// deposit refund (nearcore's `new_balance_refund`) or a gas refund (`new_gas_refund`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refund {
    pub to: AccountId,
    pub amount: Balance,
    /// For a gas refund, the key of the signer (`to`) that paid for the gas: the refund adds back
    /// to its allowance.
    pub signer_key: Option<Vec<u8>>,
}

impl Refund {
    /// The refund receipt, with id `id`.
    pub fn into_receipt(self, id: CryptoHash) -> Receipt {
        let system: AccountId = super::SYSTEM_ACCOUNT
            .parse()
            .expect("valid system account id");
        let (signer_id, signer_public_key) = match self.signer_key {
            Some(key) => (self.to.clone(), key),
            None => (system.clone(), Vec::new()),
        };
        Receipt {
            id,
            predecessor_id: system,
            receiver_id: self.to,
            kind: ReceiptKind::Action(ActionReceipt {
                signer_id,
                signer_public_key,
                gas_price: 0,
                output_data_receivers: Vec::new(),
                input_data_ids: Vec::new(),
                actions: vec![Action::Transfer {
                    deposit: self.amount,
                }],
                refund_to: None,
            }),
        }
    }
}
