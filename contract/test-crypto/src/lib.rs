//! test-crypto: exposes the hash and signature host functions, hex in and hex out.
//!
//! A test contract only: it must never be deployed for real use, and depends on nothing but
//! near-sdk.

use near_sdk::{env, near};

#[near(contract_state)]
#[derive(Default)]
pub struct CryptoContract {}

#[near]
impl CryptoContract {
    #[init]
    pub fn new() -> Self {
        Self {}
    }

    pub fn sha256(&self, data: String) -> String {
        hex(&env::sha256(data.as_bytes()))
    }

    pub fn keccak256(&self, data: String) -> String {
        hex(&env::keccak256(data.as_bytes()))
    }

    pub fn ripemd160(&self, data: String) -> String {
        hex(&env::ripemd160_array(data.as_bytes()))
    }

    /// Verifies an ed25519 signature; all three arguments are hex.
    pub fn ed25519_verify(&self, signature: String, message: String, public_key: String) -> bool {
        let signature: [u8; 64] = unhex(&signature)
            .try_into()
            .unwrap_or_else(|_| env::panic_str("signature must be 64 bytes"));
        let public_key: [u8; 32] = unhex(&public_key)
            .try_into()
            .unwrap_or_else(|_| env::panic_str("public key must be 32 bytes"));
        env::ed25519_verify(&signature, unhex(&message), &public_key)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    if !text.len().is_multiple_of(2) {
        env::panic_str("odd hex length");
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .unwrap_or_else(|_| env::panic_str("bad hex digit"))
        })
        .collect()
}
