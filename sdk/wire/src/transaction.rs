//! Transactions in NEAR's borsh layout (nearcore `core/primitives/src/transaction.rs` and
//! `action/mod.rs`): `Transaction` V0, `SignedTransaction`, actions with NEAR's indices.

use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::{AccountId, Balance, CryptoHash, Gas};
use borsh::io::{Error, ErrorKind, Read, Result as IoResult, Write};
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

/// A transaction (NEAR's `TransactionV0`, which is written without a version tag).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
pub struct Transaction {
    pub signer_id: AccountId,
    pub public_key: PublicKey,
    pub nonce: u64,
    pub receiver_id: AccountId,
    /// A recent block: the transaction expires `transaction_validity_period` blocks after it.
    pub block_hash: CryptoHash,
    pub actions: Vec<Action>,
}

/// A transaction and its signer's signature of the transaction's hash.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize)]
pub struct SignedTransaction {
    pub transaction: Transaction,
    pub signature: Signature,
}

/// `Action::FunctionCall`'s body (field order is NEAR's: method, args, gas, deposit).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FunctionCallAction {
    pub method_name: String,
    pub args: Vec<u8>,
    pub gas: Gas,
    pub deposit: Balance,
}

/// A function-call access key's limits.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FunctionCallPermission {
    pub allowance: Option<Balance>,
    pub receiver_id: String,
    pub method_names: Vec<String>,
}

/// NEAR's `AccessKeyPermission`: index 0 function call, 1 full access.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AccessKeyPermission {
    FunctionCall(FunctionCallPermission),
    FullAccess,
}

/// An access key as `AddKey` carries it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AccessKey {
    pub nonce: u64,
    pub permission: AccessKeyPermission,
}

/// The actions this chain runs, with NEAR's borsh indices (4 `Stake`, 8 `Delegate` and the
/// later global-contract actions are refused when decoding: a local chain has no validators or
/// relayers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Index 0.
    CreateAccount,
    /// Index 1.
    DeployContract { code: Vec<u8> },
    /// Index 2.
    FunctionCall(Box<FunctionCallAction>),
    /// Index 3.
    Transfer { deposit: Balance },
    /// Index 5.
    AddKey {
        public_key: PublicKey,
        access_key: AccessKey,
    },
    /// Index 6.
    DeleteKey { public_key: PublicKey },
    /// Index 7.
    DeleteAccount { beneficiary_id: AccountId },
}

impl BorshSerialize for Action {
    fn serialize<W: Write>(&self, writer: &mut W) -> IoResult<()> {
        match self {
            Action::CreateAccount => 0u8.serialize(writer),
            Action::DeployContract { code } => {
                1u8.serialize(writer)?;
                code.serialize(writer)
            }
            Action::FunctionCall(call) => {
                2u8.serialize(writer)?;
                call.serialize(writer)
            }
            Action::Transfer { deposit } => {
                3u8.serialize(writer)?;
                deposit.serialize(writer)
            }
            Action::AddKey {
                public_key,
                access_key,
            } => {
                5u8.serialize(writer)?;
                public_key.serialize(writer)?;
                access_key.serialize(writer)
            }
            Action::DeleteKey { public_key } => {
                6u8.serialize(writer)?;
                public_key.serialize(writer)
            }
            Action::DeleteAccount { beneficiary_id } => {
                7u8.serialize(writer)?;
                beneficiary_id.serialize(writer)
            }
        }
    }
}

impl BorshDeserialize for Action {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        Ok(match u8::deserialize_reader(reader)? {
            0 => Action::CreateAccount,
            1 => Action::DeployContract {
                code: Vec::deserialize_reader(reader)?,
            },
            2 => Action::FunctionCall(Box::new(FunctionCallAction::deserialize_reader(reader)?)),
            3 => Action::Transfer {
                deposit: Balance::deserialize_reader(reader)?,
            },
            5 => Action::AddKey {
                public_key: PublicKey::deserialize_reader(reader)?,
                access_key: AccessKey::deserialize_reader(reader)?,
            },
            6 => Action::DeleteKey {
                public_key: PublicKey::deserialize_reader(reader)?,
            },
            7 => Action::DeleteAccount {
                beneficiary_id: AccountId::deserialize_reader(reader)?,
            },
            index => {
                let message = format!("action index {index} is not supported by this chain");
                return Err(Error::new(ErrorKind::InvalidData, message));
            }
        })
    }
}

impl BorshDeserialize for Transaction {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        // V0 starts with the signer id's u32 length, whose second byte is 0 (ids are at most 64
        // bytes); V1 starts with tag 1 and then that length, so its second byte is not 0.
        let head = <[u8; 4]>::deserialize_reader(reader)?;
        if head[0] == 1 && head[1] != 0 {
            let message = "transaction V1 (priority fees) is not enabled on this chain";
            return Err(Error::new(ErrorKind::InvalidData, message));
        }
        let mut reader = head.as_slice().chain(reader);
        Ok(Self {
            signer_id: AccountId::deserialize_reader(&mut reader)?,
            public_key: PublicKey::deserialize_reader(&mut reader)?,
            nonce: u64::deserialize_reader(&mut reader)?,
            receiver_id: AccountId::deserialize_reader(&mut reader)?,
            block_hash: CryptoHash::deserialize_reader(&mut reader)?,
            actions: Vec::deserialize_reader(&mut reader)?,
        })
    }
}

impl BorshDeserialize for SignedTransaction {
    fn deserialize_reader<R: Read>(reader: &mut R) -> IoResult<Self> {
        Ok(Self {
            transaction: Transaction::deserialize_reader(reader)?,
            signature: Signature::deserialize_reader(reader)?,
        })
    }
}

impl Transaction {
    /// NEAR's transaction hash: SHA-256 of the borsh-encoded transaction.
    pub fn hash(&self) -> CryptoHash {
        let bytes = borsh::to_vec(self).expect("a transaction always serialises");
        Sha256::digest(bytes).into()
    }

    /// Signs the transaction's hash with `key`.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(&self.hash());
        SignedTransaction {
            transaction: self,
            signature,
        }
    }
}

impl SignedTransaction {
    /// Decodes a signed transaction, refusing trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> IoResult<Self> {
        borsh::from_slice(bytes)
    }

    /// The borsh bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("a transaction always serialises")
    }

    /// The transaction's hash.
    pub fn hash(&self) -> CryptoHash {
        self.transaction.hash()
    }

    /// Whether the signature is the signer key's signature of the hash.
    pub fn verify_signature(&self) -> bool {
        let hash = self.hash();
        self.transaction.public_key.verify(&hash, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> Transaction {
        Transaction {
            signer_id: "alice.test".parse().unwrap(),
            public_key: SecretKey::from_seed([3; 32]).public_key(),
            nonce: 7,
            receiver_id: "bob.test".parse().unwrap(),
            block_hash: [9; 32],
            actions: vec![Action::Transfer { deposit: 5 }],
        }
    }

    #[test]
    fn layout_is_nears() {
        let bytes = borsh::to_vec(&transfer()).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&10u32.to_le_bytes());
        expected.extend_from_slice(b"alice.test");
        expected.push(0);
        expected.extend_from_slice(&SecretKey::from_seed([3; 32]).public_key().to_bytes()[1..]);
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&8u32.to_le_bytes());
        expected.extend_from_slice(b"bob.test");
        expected.extend_from_slice(&[9; 32]);
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.push(3);
        expected.extend_from_slice(&5u128.to_le_bytes());
        assert_eq!(bytes, expected);
    }

    #[test]
    fn signed_transactions_round_trip_and_verify() {
        let key = SecretKey::from_seed([3; 32]);
        let mut tx = transfer();
        tx.actions = vec![
            Action::CreateAccount,
            Action::DeployContract { code: vec![1, 2] },
            Action::FunctionCall(Box::new(FunctionCallAction {
                method_name: "go".into(),
                args: b"{}".to_vec(),
                gas: 10,
                deposit: 1,
            })),
            Action::AddKey {
                public_key: key.public_key(),
                access_key: AccessKey {
                    nonce: 0,
                    permission: AccessKeyPermission::FunctionCall(FunctionCallPermission {
                        allowance: Some(3),
                        receiver_id: "bob.test".into(),
                        method_names: vec!["go".into()],
                    }),
                },
            },
            Action::DeleteKey {
                public_key: key.public_key(),
            },
            Action::DeleteAccount {
                beneficiary_id: "bob.test".parse().unwrap(),
            },
        ];
        let signed = tx.sign(&key);
        assert!(signed.verify_signature());
        let decoded = SignedTransaction::from_bytes(&signed.to_bytes()).unwrap();
        assert_eq!(decoded, signed);
        let mut forged = signed.clone();
        forged.transaction.nonce += 1;
        assert!(!forged.verify_signature());
    }

    #[test]
    fn unsupported_encodings_are_refused() {
        let signed = transfer().sign(&SecretKey::from_seed([3; 32]));
        let mut v1 = vec![1];
        v1.extend_from_slice(&signed.to_bytes());
        assert!(SignedTransaction::from_bytes(&v1).is_err());
        let mut stake = borsh::to_vec(&Transaction {
            actions: Vec::new(),
            ..transfer()
        })
        .unwrap();
        let count = stake.len() - 4;
        stake[count..].copy_from_slice(&1u32.to_le_bytes());
        stake.push(4);
        assert!(borsh::from_slice::<Transaction>(&stake).is_err());
        let mut trailing = signed.to_bytes();
        trailing.push(0);
        assert!(SignedTransaction::from_bytes(&trailing).is_err());
    }
}
