//! The checks a signed transaction meets before it becomes a receipt, at their boundaries and in
//! nearcore's order: the nonce's upper bound, a known but too old block hash, the size limit,
//! and each refusal of a function-call access key.

use std::sync::Arc;
use wasm_host::chain::{ONE_NEAR, TGAS};
use wasm_host::node::{GenesisAccount, Node, SubmitError};
use wasm_host::tx::{
    AccessKey, AccessKeyPermission, Action, FunctionCallAction, FunctionCallPermission,
    InvalidAccessKeyError, InvalidTxError, SecretKey, Transaction,
};

const NONCE_RANGE: u64 = 1_000_000;

fn key_of(account: &str, index: u8) -> SecretKey {
    let mut seed = [index; 32];
    seed[..account.len()].copy_from_slice(account.as_bytes());
    SecretKey::from_seed(seed)
}

fn node(dir: &std::path::Path) -> Arc<Node> {
    let genesis: Vec<GenesisAccount> = ["alice.test", "bob.test"]
        .iter()
        .map(|account| GenesisAccount {
            account_id: account.parse().unwrap(),
            balance: 100 * ONE_NEAR,
            public_key: key_of(account, 0).public_key(),
        })
        .collect();
    Arc::new(Node::open(dir, &genesis).unwrap())
}

/// Alice's transaction signed with `key`, on the head's block hash.
fn alice_tx(
    node: &Node,
    key: &SecretKey,
    nonce: u64,
    receiver: &str,
    actions: Vec<Action>,
) -> Transaction {
    Transaction {
        signer_id: "alice.test".parse().unwrap(),
        public_key: key.public_key(),
        nonce,
        receiver_id: receiver.parse().unwrap(),
        block_hash: node.chain().head().hash,
        actions,
    }
}

fn refusal(node: &Node, tx: Transaction, key: &SecretKey) -> InvalidTxError {
    match node.submit(&tx.sign(key)) {
        Err(SubmitError::Invalid(error)) => error,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn call(method: &str, args: Vec<u8>, deposit: u128) -> Action {
    Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: method.into(),
        args,
        gas: 5 * TGAS,
        deposit,
    }))
}

fn transfer() -> Action {
    Action::Transfer { deposit: 1 }
}

#[test]
fn a_nonce_must_stay_below_the_next_blocks_height_times_a_million() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    for _ in 0..3 {
        node.produce_block().unwrap();
    }
    let key = key_of("alice.test", 0);
    let height = node.chain().head().height;
    let upper_bound = (height + 1) * NONCE_RANGE;
    assert_eq!(
        refusal(
            &node,
            alice_tx(&node, &key, upper_bound, "bob.test", vec![transfer()]),
            &key
        ),
        InvalidTxError::NonceTooLarge {
            tx_nonce: upper_bound,
            upper_bound
        }
    );
    let highest = alice_tx(&node, &key, upper_bound - 1, "bob.test", vec![transfer()]);
    node.submit(&highest.sign(&key)).unwrap();
}

#[test]
fn a_known_block_hash_older_than_the_validity_period_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    node.chain().set_transaction_validity_period(2);
    let key = key_of("alice.test", 0);
    let old = node.chain().head().hash;
    let on = |hash, nonce| Transaction {
        block_hash: hash,
        ..alice_tx(&node, &key, nonce, "bob.test", vec![transfer()])
    };
    node.produce_block().unwrap();
    node.produce_block().unwrap();
    // Two blocks later it is still valid…
    node.submit(&on(old, 1).sign(&key)).unwrap();
    node.produce_block().unwrap();
    // …three blocks later it is not.
    assert_eq!(refusal(&node, on(old, 2), &key), InvalidTxError::Expired);
}

#[test]
fn a_transaction_over_the_size_limit_is_refused_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let limit = node.chain().fees().limits().max_transaction_size;
    let args = vec![b'x'; limit as usize];
    // Signed by a key alice does not have: the size is checked first.
    let stranger = key_of("alice.test", 9);
    let tx = alice_tx(&node, &stranger, 1, "bob.test", vec![call("m", args, 0)]);
    let size = tx.clone().sign(&stranger).to_bytes().len() as u64;
    assert_eq!(
        refusal(&node, tx, &stranger),
        InvalidTxError::TransactionSizeExceeded { size, limit }
    );
}

#[test]
fn a_function_call_key_signs_only_its_calls_within_its_allowance() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let full = key_of("alice.test", 0);
    let limited = key_of("alice.test", 1);
    let poor = key_of("alice.test", 2);
    let permission = |allowance| {
        AccessKeyPermission::FunctionCall(FunctionCallPermission {
            allowance: Some(allowance),
            receiver_id: "bob.test".into(),
            method_names: vec!["ping".into()],
        })
    };
    let add = |key: &SecretKey, allowance| Action::AddKey {
        public_key: key.public_key(),
        access_key: AccessKey {
            nonce: 0,
            permission: permission(allowance),
        },
    };
    let adding = alice_tx(
        &node,
        &full,
        1,
        "alice.test",
        vec![add(&limited, ONE_NEAR), add(&poor, 1)],
    );
    node.submit(&adding.sign(&full)).unwrap();
    node.produce_block().unwrap();
    node.produce_block().unwrap();
    let nonce = node.chain().head().height * NONCE_RANGE;
    let with = |key: &SecretKey, receiver: &str, actions| {
        refusal(&node, alice_tx(&node, key, nonce, receiver, actions), key)
    };
    let access = |error: InvalidAccessKeyError| InvalidTxError::InvalidAccessKeyError(error);
    assert_eq!(
        with(&limited, "bob.test", vec![transfer()]),
        access(InvalidAccessKeyError::RequiresFullAccess)
    );
    assert_eq!(
        with(
            &limited,
            "bob.test",
            vec![call("ping", vec![], 0), call("ping", vec![], 0)]
        ),
        access(InvalidAccessKeyError::RequiresFullAccess)
    );
    assert_eq!(
        with(&limited, "bob.test", vec![call("ping", vec![], 1)]),
        access(InvalidAccessKeyError::DepositWithFunctionCall)
    );
    assert_eq!(
        with(&limited, "carol.test", vec![call("ping", vec![], 0)]),
        access(InvalidAccessKeyError::ReceiverMismatch {
            tx_receiver: "carol.test".parse().unwrap(),
            ak_receiver: "bob.test".into(),
        })
    );
    assert_eq!(
        with(&limited, "bob.test", vec![call("pong", vec![], 0)]),
        access(InvalidAccessKeyError::MethodNameMismatch {
            method_name: "pong".into()
        })
    );
    assert!(matches!(
        with(&poor, "bob.test", vec![call("ping", vec![], 0)]),
        InvalidTxError::InvalidAccessKeyError(InvalidAccessKeyError::NotEnoughAllowance {
            allowance: 1,
            ..
        })
    ));
    // The call it is for is taken.
    let ping = alice_tx(
        &node,
        &limited,
        nonce,
        "bob.test",
        vec![call("ping", vec![], 0)],
    );
    node.submit(&ping.sign(&limited)).unwrap();
}
