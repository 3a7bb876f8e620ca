//! Adding and deleting access keys with actions, as NEAR does: storage usage follows the keys, a
//! key cannot be added twice, and a new key's nonce starts at its block's height times 10^6.

use wasm_host::abi::{AccessKeyPermission, Action};
use wasm_host::chain::{ActionError, Chain, FinalStatus, NONCE_RANGE_MULTIPLIER, ONE_NEAR};

/// An ed25519 public key, borsh-encoded.
fn key(byte: u8) -> Vec<u8> {
    let mut key = vec![0];
    key.extend_from_slice(&[byte; 32]);
    key
}

fn add_key(public_key: Vec<u8>, permission: AccessKeyPermission) -> Action {
    Action::AddKey {
        public_key,
        nonce: 7,
        permission,
    }
}

#[test]
fn keys_count_towards_storage_and_start_at_the_blocks_nonce() {
    let mut chain = Chain::new();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    let base = chain.account("bob.test").unwrap().storage_usage;
    let full = add_key(key(1), AccessKeyPermission::FullAccess);
    let limited = add_key(
        key(2),
        AccessKeyPermission::FunctionCall {
            allowance: Some(ONE_NEAR),
            receiver_id: "c.test".into(),
            method_names: vec!["a".into(), "bc".into()],
        },
    );
    let result = chain
        .execute("bob.test", "bob.test", vec![full, limited])
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let bob = chain.account("bob.test").unwrap();
    // Key 33 bytes + access key (nonce 8, permission tag 1) + 40 per record.
    let full_bytes = 33 + 9 + 40;
    // Permission: tag 1, allowance Some(u128) 17, receiver "c.test" 4+6, names 4+(4+1)+(4+2).
    let limited_bytes = 33 + 8 + 1 + 17 + 10 + 15 + 40;
    assert_eq!(bob.storage_usage, base + full_bytes + limited_bytes);
    // The receipt ran in block 1: nonces start at (1 - 1) * 10^6, not at the 7 the action gave.
    assert_eq!(bob.keys[&key(1)].nonce, 0);
    assert_eq!(bob.keys[&key(2)].nonce, 0);

    let delete = |k| Action::DeleteKey { public_key: k };
    let result = chain
        .execute("bob.test", "bob.test", vec![delete(key(1)), delete(key(2))])
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert_eq!(chain.account("bob.test").unwrap().storage_usage, base);
}

#[test]
fn a_new_keys_nonce_is_its_blocks_height_times_a_million() {
    let mut chain = Chain::new();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    chain.advance_blocks(4);
    chain
        .submit(
            "bob.test",
            "bob.test",
            vec![add_key(key(1), AccessKeyPermission::FullAccess)],
        )
        .unwrap();
    chain.produce_block();
    // The receipt ran in block 5.
    let nonce = chain.account("bob.test").unwrap().keys[&key(1)].nonce;
    assert_eq!(nonce, 4 * NONCE_RANGE_MULTIPLIER);
}

#[test]
fn adding_an_existing_key_fails() {
    let mut chain = Chain::new();
    chain.create_account("bob.test", ONE_NEAR).unwrap();
    let add = || add_key(key(1), AccessKeyPermission::FullAccess);
    chain.execute("bob.test", "bob.test", vec![add()]).unwrap();
    let before = chain.account("bob.test").unwrap().clone();
    let result = chain.execute("bob.test", "bob.test", vec![add()]).unwrap();
    assert_eq!(
        result.status,
        FinalStatus::Failure(ActionError::AddKeyAlreadyExists {
            account: "bob.test".parse().unwrap(),
            public_key: key(1),
        })
    );
    let after = chain.account("bob.test").unwrap();
    assert_eq!(after.storage_usage, before.storage_usage);
    assert_eq!(after.keys, before.keys);
}
