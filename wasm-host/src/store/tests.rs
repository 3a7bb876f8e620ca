//! The store keeps what blocks commit, and a chain loads back as it was.

use super::*;
use crate::abi::Action;
use crate::chain::ONE_NEAR;
use crate::tx::{SecretKey, Transaction};

#[test]
fn committed_blocks_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::from_seed([4; 32]);
    let head;
    let tx_hash;
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.load().unwrap().is_none());
        let mut chain = Chain::with_genesis_time(1, false);
        chain
            .create_account_with_key("alice.test", 10 * ONE_NEAR, &key.public_key())
            .unwrap();
        chain.create_account("bob.test", ONE_NEAR).unwrap();
        let genesis = chain.head().clone();
        store
            .commit_genesis(&genesis, chain.take_changes())
            .unwrap();
        let signed = Transaction {
            signer_id: "alice.test".parse().unwrap(),
            public_key: key.public_key(),
            nonce: 1,
            receiver_id: "bob.test".parse().unwrap(),
            block_hash: genesis.hash,
            actions: vec![crate::tx::Action::Transfer { deposit: ONE_NEAR }],
        }
        .sign(&key);
        tx_hash = chain.submit_signed(&signed).unwrap();
        for _ in 0..3 {
            store.commit_block(chain.produce_block()).unwrap();
        }
        head = chain.head().clone();
        // Changes made after the last commit are not in the store.
        chain
            .submit(
                "alice.test",
                "bob.test",
                vec![Action::Transfer { deposit: 1 }],
            )
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let chain = store.load().unwrap().expect("a chain");
    assert_eq!(chain.head(), &head);
    assert_eq!(chain.balance("bob.test"), 2 * ONE_NEAR);
    let alice = chain.account("alice.test").unwrap();
    assert_eq!(alice.keys[&key.public_key().to_bytes()].nonce, 1);
    assert_eq!(
        chain.block_height_of(&head.prev_hash),
        Some(head.height - 1)
    );
    let record = store.transaction(&tx_hash).unwrap().expect("included");
    assert_eq!(record.block_height, 1);
    assert!(!record.receipts.is_empty());
    assert_eq!(
        store.tx_status(&record).unwrap(),
        views::OutcomeStatus::Done(serde_json::json!({"SuccessValue": ""}))
    );
    assert_eq!(store.block_at(2).unwrap().unwrap().height, 2);
    // An outcome that cannot be read makes the status an error, not "not yet run".
    let txn = store.db.begin_write().unwrap();
    txn.open_table(OUTCOMES)
        .unwrap()
        .insert(record.receipt_id.as_slice(), b"not json".as_slice())
        .unwrap();
    txn.commit().unwrap();
    assert!(matches!(
        store.tx_status(&record),
        Err(StoreError::Corrupt {
            table: "outcomes",
            ..
        })
    ));
    // Not while a node has it open.
    assert!(matches!(reset(dir.path()), Err(StoreError::InUse { .. })));
    assert!(database_path(dir.path()).exists());
    drop(store);
    assert!(reset(dir.path()).unwrap());
    assert!(!reset(dir.path()).unwrap());
}

#[test]
fn storage_and_code_follow_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut chain = Chain::with_genesis_time(1, false);
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    let genesis = chain.head().clone();
    store
        .commit_genesis(&genesis, chain.take_changes())
        .unwrap();
    // A contract writing storage: the wat writes key "k" = "v" in `set`, and removes it in `del`.
    let code = wat::parse_str(
        r#"(module
            (import "env" "storage_write" (func $w (param i64 i64 i64 i64 i64) (result i64)))
            (import "env" "storage_remove" (func $r (param i64 i64 i64) (result i64)))
            (memory (export "memory") 1)
            (data (i32.const 0) "kv")
            (func (export "set") (drop (call $w (i64.const 1) (i64.const 0) (i64.const 1) (i64.const 1) (i64.const 0))))
            (func (export "del") (drop (call $r (i64.const 1) (i64.const 0) (i64.const 0)))))"#,
    )
    .unwrap();
    let call = |method: &str| Action::FunctionCall {
        method_name: method.into(),
        args: Vec::new(),
        deposit: 0,
        gas: 10u64.pow(13),
    };
    let deploy = Action::DeployContract {
        code: std::sync::Arc::new(code.clone()),
    };
    chain
        .submit("c.test", "c.test", vec![deploy, call("set")])
        .unwrap();
    for _ in 0..2 {
        store.commit_block(chain.produce_block()).unwrap();
    }
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.storage_value("c.test", b"k"), Some(&b"v"[..]));
    assert_eq!(
        loaded.account("c.test").unwrap().code.as_deref(),
        Some(&code)
    );
    chain.submit("c.test", "c.test", vec![call("del")]).unwrap();
    for _ in 0..2 {
        store.commit_block(chain.produce_block()).unwrap();
    }
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.storage_value("c.test", b"k"), None);
    assert_eq!(loaded.balance("c.test"), chain.balance("c.test"));
}
