//! Gas bought and burnt at two prices, as nearcore does since NEP-642 (protocol 85): a
//! transaction buys its receipt's gas at `max(gas price, min_gas_purchase_price)`, gas burns at
//! the block's price, the difference comes back with the refund, and creating an account costs
//! `account_creation_charge` in all.

use wasm_host::abi::{AccessKeyPermission, Action};
use wasm_host::chain::{Chain, ChainError, FinalStatus, GAS_PRICE, ONE_NEAR, TGAS};
use wasm_host::fees::Action as Fee;
use wasm_host::tx::{self, FunctionCallAction, InvalidTxError, SecretKey, Transaction};

/// A contract whose `go` burns a little gas and returns.
const NOOP: &str = r#"(module (func (export "go")))"#;

fn call(gas: u64) -> Action {
    Action::FunctionCall {
        method_name: "go".into(),
        args: Vec::new(),
        deposit: 0,
        gas,
    }
}

#[test]
fn gas_is_bought_at_the_minimum_purchase_price() {
    let chain = Chain::new();
    assert_eq!(chain.fees().min_gas_purchase_price(), 10 * GAS_PRICE);
    assert_eq!(chain.gas_purchase_price(), 10 * GAS_PRICE);
}

#[test]
fn a_call_whose_gas_costs_more_than_the_balance_is_refused() {
    // 100 TGas bought at 10^9 yoctoNEAR a gas is 0.1 NEAR: more than the 0.05 NEAR held, though
    // at the block's gas price it would be 0.01 NEAR.
    let mut chain = Chain::new();
    let key = SecretKey::from_seed([3; 32]);
    chain
        .create_account_with_key("poor.test", ONE_NEAR / 20, &key.public_key())
        .unwrap();
    chain.create_account("c.test", ONE_NEAR).unwrap();
    let signed = Transaction {
        signer_id: "poor.test".parse().unwrap(),
        public_key: key.public_key(),
        nonce: 1,
        receiver_id: "c.test".parse().unwrap(),
        block_hash: chain.head().hash,
        actions: vec![tx::Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "go".into(),
            args: Vec::new(),
            gas: 100 * TGAS,
            deposit: 0,
        }))],
    }
    .sign(&key);
    let refused = chain.submit_signed(&signed).unwrap_err();
    let InvalidTxError::NotEnoughBalance { balance, cost, .. } = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(balance, ONE_NEAR / 20);
    let fees = chain.fees().clone();
    let bytes = "go".len() as u64;
    let send = fees.send(Fee::new_action_receipt, false)
        + fees.send(Fee::function_call_base, false)
        + fees.send(Fee::function_call_byte, false) * bytes;
    let exec = fees.exec(Fee::new_action_receipt)
        + fees.exec(Fee::function_call_base)
        + fees.exec(Fee::function_call_byte) * bytes;
    let expected = u128::from(send) * GAS_PRICE + u128::from(exec + 100 * TGAS) * 10 * GAS_PRICE;
    assert_eq!(cost, expected);
    // The test API charges the same.
    let refused = chain
        .call("poor.test", "c.test", "go", Vec::new(), 0, 100 * TGAS)
        .unwrap_err();
    assert!(
        matches!(refused, ChainError::NotEnoughBalance { cost, .. } if cost == expected),
        "{refused:?}"
    );
}

#[test]
fn the_signer_pays_the_gas_burnt_at_the_blocks_price() {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    chain
        .deploy("c.test", wat::parse_str(NOOP).unwrap())
        .unwrap()
        .into_result()
        .unwrap();
    let before = chain.balance("alice.test");
    let result = chain
        .execute("alice.test", "c.test", vec![call(100 * TGAS)])
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let call = &result.receipts[0];
    assert_eq!(
        call.tokens_burnt,
        u128::from(call.gas_burnt) * GAS_PRICE,
        "burnt at the block's price"
    );
    let spent = before - chain.balance("alice.test");
    assert_eq!(spent, u128::from(result.total_gas_burnt()) * GAS_PRICE);
}

#[test]
fn creating_an_account_charges_the_account_creation_charge() {
    let mut chain = Chain::new();
    chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
    let fees = chain.fees().clone();
    let before = chain.balance("alice.test");
    let actions = vec![
        Action::CreateAccount,
        Action::Transfer { deposit: ONE_NEAR },
    ];
    let result = chain
        .execute("alice.test", "new.alice.test", actions)
        .unwrap();
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    assert_eq!(chain.balance("new.alice.test"), ONE_NEAR);
    let created = &result.receipts[0];
    let receipt_and_transfer = fees.exec(Fee::new_action_receipt) + fees.exec(Fee::transfer);
    assert_eq!(
        created.gas_burnt,
        receipt_and_transfer + fees.exec(Fee::create_account)
    );
    // Creating the account costs the charge in all, its execution gas included.
    let charge = fees.account_creation_charge();
    assert_eq!(
        created.tokens_burnt,
        u128::from(receipt_and_transfer) * GAS_PRICE + charge
    );
    let spent = before - chain.balance("alice.test");
    assert_eq!(
        spent,
        ONE_NEAR + u128::from(result.tx_gas_burnt) * GAS_PRICE + created.tokens_burnt
    );

    // A receipt that fails creates no account and pays no charge.
    let before = chain.balance("alice.test");
    let actions = vec![Action::CreateAccount, call(TGAS)];
    let result = chain
        .execute("alice.test", "other.alice.test", actions)
        .unwrap();
    assert!(matches!(result.status, FinalStatus::Failure(_)));
    let failed = &result.receipts[0];
    assert_eq!(
        failed.tokens_burnt,
        u128::from(failed.gas_burnt) * GAS_PRICE
    );
    let spent = before - chain.balance("alice.test");
    assert_eq!(spent, u128::from(result.total_gas_burnt()) * GAS_PRICE);
}

#[test]
fn a_function_call_key_gets_its_gas_refund_back_in_its_allowance() {
    let mut chain = Chain::new();
    let key = SecretKey::from_seed([5; 32]);
    chain.create_account("alice.test", 10 * ONE_NEAR).unwrap();
    chain.create_account("c.test", 10 * ONE_NEAR).unwrap();
    chain
        .deploy("c.test", wat::parse_str(NOOP).unwrap())
        .unwrap()
        .into_result()
        .unwrap();
    // 300 TGas bought at the purchase price is 0.3 NEAR.
    let allowance = ONE_NEAR / 2;
    let add = Action::AddKey {
        public_key: key.public_key().to_bytes(),
        nonce: 0,
        permission: AccessKeyPermission::FunctionCall {
            allowance: Some(allowance),
            receiver_id: "c.test".into(),
            method_names: Vec::new(),
        },
    };
    chain
        .execute("alice.test", "alice.test", vec![add])
        .unwrap()
        .into_result()
        .unwrap();
    let key_bytes = key.public_key().to_bytes();
    let signed = Transaction {
        signer_id: "alice.test".parse().unwrap(),
        public_key: key.public_key(),
        nonce: chain.account("alice.test").unwrap().keys[&key_bytes].nonce + 1,
        receiver_id: "c.test".parse().unwrap(),
        block_hash: chain.head().hash,
        actions: vec![tx::Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "go".into(),
            args: Vec::new(),
            gas: 300 * TGAS,
            deposit: 0,
        }))],
    }
    .sign(&key);
    let hash = chain.submit_signed(&signed).unwrap();
    // The transaction's block, the call, then its refund, one spare.
    chain.advance_blocks(4);
    let result = chain.tx_result(&hash);
    assert_eq!(result.status, FinalStatus::SuccessValue(Vec::new()));
    let alice = chain.account("alice.test").unwrap();
    let AccessKeyPermission::FunctionCall {
        allowance: Some(left),
        ..
    } = alice.keys[&key_bytes].permission
    else {
        panic!("a function-call key with an allowance");
    };
    // The key paid what the transaction burnt, at the block's price, and no more.
    let burnt = u128::from(result.total_gas_burnt()) * GAS_PRICE;
    assert!(burnt < u128::from(10 * TGAS) * GAS_PRICE);
    assert_eq!(allowance - left, burnt);
}
