//! NEAR keys and credentials files, for integrators and node operators: ed25519 secret and public
//! keys in NEAR's text form (`ed25519:<base58>`) and near-cli's credentials JSON. There is one
//! implementation, near-wire's (the keys transactions are signed with); this module re-exports it
//! under the SDK so callers need not know the layering.

pub use near_wire::{Credentials, CredentialsError, KeyError, PublicKey, SecretKey, Signature};
