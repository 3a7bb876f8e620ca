//! NEAR's JSON views (nearcore `core/primitives/src/views.rs`) of this chain's blocks, accounts,
//! transactions, receipts and outcomes: base58 hashes, base64 bytes, balances as decimal strings.

mod block;
mod debug;
mod outcome;
mod state;

pub use block::{block_view, rfc3339, status_view, StatusInfo};
pub use debug::function_call_error_debug;
pub use outcome::{
    action_error_view, final_outcome_view, outcome_view, outcomes_depth_first, receipt_view,
    status_of, tx_view, OutcomeStatus,
};
pub use state::{access_key_view, account_view};

use crate::abi::CryptoHash;
use base64::Engine as _;

/// A hash as NEAR writes it: base58.
pub fn hash58(hash: &CryptoHash) -> String {
    bs58::encode(hash).into_string()
}

/// Reads a base58 hash.
pub fn parse_hash58(text: &str) -> Option<CryptoHash> {
    bs58::decode(text).into_vec().ok()?.try_into().ok()
}

/// Bytes as NEAR writes them: standard base64.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Reads standard base64.
pub fn parse_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A public key from its borsh bytes, as text; a missing key (system receipts) is NEAR's
/// all-zero ed25519 key.
pub fn public_key_text(bytes: &[u8]) -> String {
    crate::tx::PublicKey::from_bytes(bytes)
        .unwrap_or(crate::tx::PublicKey::Ed25519([0; 32]))
        .to_string()
}
