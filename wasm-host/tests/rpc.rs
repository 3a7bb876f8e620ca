//! The chain over NEAR's JSON-RPC: signed transactions sent and their outcomes fetched, NEAR's
//! errors for refused transactions and malformed requests, restarts, concurrent clients.

mod common;

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use wasm_host::chain::{ONE_NEAR, TGAS};
use wasm_host::node::{BlockMode, GenesisAccount, Node, SubmitError};
use wasm_host::rpc::{run_node, ClientError, RpcClient, RpcConfig};
use wasm_host::tx::{
    Action, FunctionCallAction, InvalidTxError, SecretKey, SignedTransaction, Transaction,
};
use wasm_host::views::{base64, hash58, parse_hash58};

/// A node serving RPC on a free loopback port, with `accounts` holding 100 NEAR each.
struct Localnet {
    node: Arc<Node>,
    client: RpcClient,
    addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn key_of(account: &str) -> SecretKey {
    let mut seed = [0; 32];
    seed[..account.len().min(32)].copy_from_slice(&account.as_bytes()[..account.len().min(32)]);
    SecretKey::from_seed(seed)
}

fn genesis(accounts: &[&str]) -> Vec<GenesisAccount> {
    accounts
        .iter()
        .map(|name| GenesisAccount {
            account_id: name.parse().unwrap(),
            balance: 100 * ONE_NEAR,
            public_key: key_of(name).public_key(),
        })
        .collect()
}

impl Localnet {
    async fn start(dir: &std::path::Path, accounts: &[&str], config: RpcConfig) -> Self {
        Self::start_with_blocks(dir, accounts, config, BlockMode::on_demand()).await
    }

    async fn start_with_blocks(
        dir: &std::path::Path,
        accounts: &[&str],
        config: RpcConfig,
        mode: BlockMode,
    ) -> Self {
        let node = Arc::new(Node::open(dir, &genesis(accounts)).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = watch::channel(false);
        let run = run_node(node.clone(), listener, mode, config, async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let tasks = vec![tokio::spawn(async move { run.await.unwrap() })];
        Self {
            node,
            client: RpcClient::new(addr),
            addr,
            stop,
            tasks,
        }
    }

    async fn shutdown(self) {
        // A test may have sent it already (the node then no longer listens).
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await.unwrap();
        }
    }

    async fn head_hash(&self) -> [u8; 32] {
        let block = self
            .client
            .call("block", json!({"finality": "final"}))
            .await
            .unwrap();
        parse_hash58(block["header"]["hash"].as_str().unwrap()).unwrap()
    }

    async fn nonce(&self, account: &str) -> u64 {
        let key = self
            .client
            .call(
                "query",
                json!({"request_type": "view_access_key", "finality": "final",
                       "account_id": account, "public_key": key_of(account).public_key().to_string()}),
            )
            .await
            .unwrap();
        key["nonce"].as_u64().unwrap()
    }

    async fn balance(&self, account: &str) -> u128 {
        let view = self
            .client
            .call(
                "query",
                json!({"request_type": "view_account", "finality": "final", "account_id": account}),
            )
            .await
            .unwrap();
        view["amount"].as_str().unwrap().parse().unwrap()
    }

    /// A transaction from `signer` (its genesis key, next nonce, head block hash).
    async fn tx(&self, signer: &str, receiver: &str, actions: Vec<Action>) -> Transaction {
        Transaction {
            signer_id: signer.parse().unwrap(),
            public_key: key_of(signer).public_key(),
            nonce: self.nonce(signer).await + 1,
            receiver_id: receiver.parse().unwrap(),
            block_hash: self.head_hash().await,
            actions,
        }
    }

    async fn commit(&self, signed: &SignedTransaction) -> Result<Value, ClientError> {
        self.client
            .call("broadcast_tx_commit", json!([base64(&signed.to_bytes())]))
            .await
    }
}

fn transfer(amount: u128) -> Vec<Action> {
    vec![Action::Transfer { deposit: amount }]
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// NEAR's limits with a long wait: tests that compile contracts run beside others on few cores.
fn patient() -> RpcConfig {
    RpcConfig {
        tx_timeout: Duration::from_secs(60),
        ..RpcConfig::default()
    }
}

fn function_call(method: &str, args: Value) -> Action {
    Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: method.into(),
        args: args.to_string().into_bytes(),
        gas: 100 * TGAS,
        deposit: 0,
    }))
}

/// Deploys contract/test-yield on `alice.test` and initialises it.
async fn deploy_test_yield(net: &Localnet) {
    let code = common::contract("test_yield");
    let deploy = net
        .tx(
            "alice.test",
            "alice.test",
            vec![
                Action::DeployContract { code },
                function_call("new", json!({})),
            ],
        )
        .await
        .sign(&key_of("alice.test"));
    let outcome = net.commit(&deploy).await.unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
}

/// A signed call of test-yield's `request` (it yields until a resume or its timeout).
async fn yield_request(net: &Localnet) -> SignedTransaction {
    net.tx(
        "alice.test",
        "alice.test",
        vec![function_call("request", json!({}))],
    )
    .await
    .sign(&key_of("alice.test"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_transfer_over_rpc_executes_and_its_outcome_is_fetched() {
    let dir = temp();
    let net = Localnet::start(
        dir.path(),
        &["alice.test", "bob.test"],
        RpcConfig::default(),
    )
    .await;
    let status = net.client.call("status", json!([])).await.unwrap();
    assert_eq!(status["chain_id"], "localnet");
    let signed = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    let outcome = net.commit(&signed).await.unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
    assert_eq!(outcome["final_execution_status"], "FINAL");
    assert_eq!(outcome["transaction"]["hash"], hash58(&signed.hash()));
    assert_eq!(
        outcome["transaction"]["actions"],
        json!([{"Transfer": {"deposit": ONE_NEAR.to_string()}}])
    );
    let tx_outcome = &outcome["transaction_outcome"];
    assert_eq!(tx_outcome["id"], hash58(&signed.hash()));
    assert!(tx_outcome["outcome"]["gas_burnt"].as_u64().unwrap() > 0);
    let first_receipt = tx_outcome["outcome"]["status"]["SuccessReceiptId"].clone();
    let receipts = outcome["receipts_outcome"].as_array().unwrap();
    assert_eq!(receipts[0]["id"], first_receipt);
    assert_eq!(receipts[0]["outcome"]["executor_id"], "bob.test");
    assert_eq!(net.balance("bob.test").await, 101 * ONE_NEAR);
    assert_eq!(net.nonce("alice.test").await, 1);
    let by_hash = json!({"tx_hash": hash58(&signed.hash()), "sender_account_id": "alice.test"});
    let fetched = net.client.call("tx", by_hash.clone()).await.unwrap();
    assert_eq!(fetched["status"], outcome["status"]);
    assert_settled_as_seen(&fetched, &outcome);
    let detailed = net
        .client
        .call("EXPERIMENTAL_tx_status", by_hash)
        .await
        .unwrap();
    let receipt = &detailed["receipts"][0];
    assert_eq!(receipt["receipt_id"], first_receipt);
    assert_eq!(receipt["receipt"]["Action"]["signer_id"], "alice.test");
    // The same transaction sent again answers its known result.
    assert_eq!(
        net.commit(&signed).await.unwrap()["status"],
        outcome["status"]
    );
    let again = net
        .tx("alice.test", "bob.test", transfer(1))
        .await
        .sign(&key_of("alice.test"));
    let hash = net
        .client
        .call(
            "send_tx",
            json!({"signed_tx_base64": base64(&again.to_bytes()), "wait_until": "INCLUDED_FINAL"}),
        )
        .await
        .unwrap();
    // Included at least; the outcome so far comes with it.
    let stage = hash["final_execution_status"].as_str().unwrap();
    assert!(
        ["INCLUDED_FINAL", "EXECUTED", "FINAL"].contains(&stage),
        "{stage}"
    );
    assert_eq!(hash["transaction"]["hash"], hash58(&again.hash()));
    // Each sending method takes both of nearcore's forms: `[base64]` and the object.
    for (method, object) in [
        ("send_tx", false),
        ("broadcast_tx_commit", true),
        ("broadcast_tx_async", true),
    ] {
        let signed = net
            .tx("alice.test", "bob.test", transfer(1))
            .await
            .sign(&key_of("alice.test"));
        let encoded = base64(&signed.to_bytes());
        let params = if object {
            json!({"signed_tx_base64": encoded})
        } else {
            json!([encoded])
        };
        let answer = net.client.call(method, params).await.unwrap();
        if method == "broadcast_tx_async" {
            assert_eq!(answer, hash58(&signed.hash()));
        } else {
            assert_eq!(answer["status"], json!({"SuccessValue": ""}), "{method}");
        }
    }
    let gas = net.client.call("gas_price", json!([null])).await.unwrap();
    assert_eq!(gas["gas_price"], "100000000");
    net.shutdown().await;
}

/// Deploys `contract` (built by xtask) on `account`, signed by it, and initialises it.
async fn deploy_and_init(net: &Localnet, account: &str, contract: &str) {
    let code = common::contract(contract);
    let deploy = net
        .tx(
            account,
            account,
            vec![
                Action::DeployContract { code },
                function_call("new", json!({})),
            ],
        )
        .await
        .sign(&key_of(account));
    let outcome = net.commit(&deploy).await.unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
}

/// The ids of `outcome`'s receipt outcomes in the order nearcore's
/// `get_recursive_transaction_results` lists them: depth first from the transaction's receipt,
/// each outcome before those of its `receipt_ids`, in order.
fn depth_first_ids(outcome: &Value) -> Vec<String> {
    let by_id: std::collections::HashMap<String, Vec<String>> = outcome["receipts_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let children = o["outcome"]["receipt_ids"].as_array().unwrap();
            let children = children.iter().map(|c| c.as_str().unwrap().to_string());
            (o["id"].as_str().unwrap().to_string(), children.collect())
        })
        .collect();
    fn visit(
        id: &str,
        by_id: &std::collections::HashMap<String, Vec<String>>,
        out: &mut Vec<String>,
    ) {
        let Some(children) = by_id.get(id) else {
            return;
        };
        out.push(id.to_string());
        for child in children {
            visit(child, by_id, out);
        }
    }
    let first = outcome["transaction_outcome"]["outcome"]["receipt_ids"][0]
        .as_str()
        .unwrap();
    let mut ids = Vec::new();
    visit(first, &by_id, &mut ids);
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_outcomes_are_listed_depth_first_as_nearcore_lists_them() {
    let dir = temp();
    let accounts = ["alice.test", "cross.test", "echo.test"];
    let net = Localnet::start(dir.path(), &accounts, patient()).await;
    deploy_and_init(&net, "cross.test", "test_cross").await;
    deploy_and_init(&net, "echo.test", "test_status").await;
    let call = Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: "echo_via".into(),
        args: json!({"target": "echo.test", "value": "ping"})
            .to_string()
            .into_bytes(),
        gas: 200 * TGAS,
        deposit: 0,
    }));
    let signed = net
        .tx("alice.test", "cross.test", vec![call])
        .await
        .sign(&key_of("alice.test"));
    net.commit(&signed).await.unwrap();
    let query = json!({"tx_hash": hash58(&signed.hash()), "sender_account_id": "alice.test",
        "wait_until": "FINAL"});
    let outcome = net.client.call("tx", query.clone()).await.unwrap();
    assert_eq!(outcome["final_execution_status"], "FINAL");
    let listed: Vec<String> = outcome["receipts_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, depth_first_ids(&outcome));
    // The order they ran in is another: the caller's gas refund (its child, listed after the
    // callee and the callback with their refunds) ran before the callee's receipts.
    let record = net
        .node
        .store()
        .transaction(&signed.hash())
        .unwrap()
        .unwrap();
    let ran: Vec<String> = record.receipts.iter().map(hash58).collect();
    assert_ne!(listed, ran);
    let (mut listed_set, mut ran_set) = (listed.clone(), ran);
    listed_set.sort();
    ran_set.sort();
    assert_eq!(listed_set, ran_set, "every receipt outcome is listed once");
    // `EXPERIMENTAL_tx_status`'s receipts come in the same order.
    let detailed = net
        .client
        .call("EXPERIMENTAL_tx_status", query)
        .await
        .unwrap();
    let receipts: Vec<String> = detailed["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(receipts, listed);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_deploy_run_and_answer_views_over_rpc() {
    let dir = temp();
    let net = Localnet::start(dir.path(), &["alice.test"], patient()).await;
    let code = common::contract("test_status");
    let deploy = net
        .tx(
            "alice.test",
            "alice.test",
            vec![Action::DeployContract { code: code.clone() }],
        )
        .await
        .sign(&key_of("alice.test"));
    assert_eq!(
        net.commit(&deploy).await.unwrap()["status"],
        json!({"SuccessValue": ""})
    );
    let call = |method: &str, args: Value| {
        Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: method.into(),
            args: args.to_string().into_bytes(),
            gas: 100 * TGAS,
            deposit: 0,
        }))
    };
    let init = net
        .tx("alice.test", "alice.test", vec![call("new", json!({}))])
        .await;
    net.commit(&init.sign(&key_of("alice.test"))).await.unwrap();
    let set = net
        .tx(
            "alice.test",
            "alice.test",
            vec![call("set_status", json!({"message": "hello"}))],
        )
        .await
        .sign(&key_of("alice.test"));
    let outcome = net.commit(&set).await.unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
    let view = net
        .client
        .call(
            "query",
            json!({"request_type": "call_function", "finality": "optimistic", "account_id": "alice.test",
                   "method_name": "get_status", "args_base64": base64(br#"{"account_id":"alice.test"}"#)}),
        )
        .await
        .unwrap();
    let bytes: Vec<u8> = serde_json::from_value(view["result"].clone()).unwrap();
    assert_eq!(bytes, br#""hello""#);
    let code_view = net
        .client
        .call(
            "query",
            json!({"request_type": "view_code", "finality": "final", "account_id": "alice.test"}),
        )
        .await
        .unwrap();
    assert_eq!(code_view["code_base64"], base64(&code));
    let state = net
        .client
        .call("query", json!({"request_type": "view_state", "finality": "final", "account_id": "alice.test", "prefix_base64": ""}))
        .await
        .unwrap();
    assert!(!state["values"].as_array().unwrap().is_empty());
    // A state larger than nearcore's 50,000-byte viewer limit is refused, as nearcore does.
    let big = net
        .tx(
            "alice.test",
            "alice.test",
            vec![call("store_blob", json!({"bytes": 60_000}))],
        )
        .await
        .sign(&key_of("alice.test"));
    assert_eq!(
        net.commit(&big).await.unwrap()["status"],
        json!({"SuccessValue": ""})
    );
    let Err(ClientError::Rpc(too_large)) = net
        .client
        .call("query", json!({"request_type": "view_state", "finality": "final", "account_id": "alice.test", "prefix_base64": ""}))
        .await
    else {
        panic!("expected an error")
    };
    assert_eq!(too_large["cause"]["name"], "TOO_LARGE_CONTRACT_STATE");
    assert_eq!(
        too_large["cause"]["info"]["contract_account_id"],
        "alice.test"
    );
    let fail = net
        .tx(
            "alice.test",
            "alice.test",
            vec![call("set_status_then_fail", json!({"message": "no"}))],
        )
        .await
        .sign(&key_of("alice.test"));
    let failed = net.commit(&fail).await.unwrap();
    let error = &failed["status"]["Failure"]["ActionError"];
    assert_eq!(error["index"], 0);
    assert!(error["kind"]["FunctionCallError"]["ExecutionError"]
        .as_str()
        .unwrap()
        .starts_with("Smart contract panicked"));
    let missing = net
        .client
        .call(
            "query",
            json!({"request_type": "call_function", "finality": "final", "account_id": "alice.test",
                   "method_name": "no_such_method", "args_base64": ""}),
        )
        .await
        .unwrap();
    // nearcore's text: the `{:?}` of its `FunctionCallError`.
    assert_eq!(
        missing["error"],
        "wasm execution failed with error: MethodResolveError(MethodNotFound)"
    );
    let writes = net
        .client
        .call(
            "query",
            json!({"request_type": "call_function", "finality": "final", "account_id": "alice.test",
                   "method_name": "set_status", "args_base64": base64(br#"{"message":"hi"}"#)}),
        )
        .await
        .unwrap();
    assert_eq!(
        writes["error"],
        r#"wasm execution failed with error: HostError(ProhibitedInView { method_name: "predecessor_account_id" })"#
    );
    net.shutdown().await;
}

/// Asserts that `fetched` has the receipt outcomes `seen` had, in order. The transfer's gas refund
/// (the price difference of the gas it burnt, NEP-642) may run after `seen` was answered: as on
/// nearcore, a FINAL status does not wait for refunds.
fn assert_settled_as_seen(fetched: &Value, seen: &Value) {
    let seen = seen["receipts_outcome"].as_array().unwrap();
    let fetched = fetched["receipts_outcome"].as_array().unwrap();
    assert!(fetched.len() >= seen.len());
    assert_eq!(&fetched[..seen.len()], seen.as_slice());
}

/// The `InvalidTxError` of a refused transaction, checking NEAR's error form around it.
fn invalid_tx_error(result: Result<Value, ClientError>) -> Value {
    let Err(ClientError::Rpc(error)) = result else {
        panic!("expected an RPC error, got {result:?}");
    };
    assert_eq!(error["name"], "HANDLER_ERROR");
    assert_eq!(
        error["cause"],
        json!({"name": "INVALID_TRANSACTION", "info": {}})
    );
    assert_eq!(error["code"], -32000);
    assert_eq!(error["message"], "Server error");
    error["data"]["TxExecutionError"]["InvalidTxError"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_transactions_get_nears_errors() {
    let dir = temp();
    let net = Localnet::start(
        dir.path(),
        &["alice.test", "bob.test"],
        RpcConfig::default(),
    )
    .await;
    let alice = key_of("alice.test");
    // Bad signature: signed by another key.
    let tx = net.tx("alice.test", "bob.test", transfer(1)).await;
    let forged = tx.clone().sign(&key_of("bob.test"));
    assert_eq!(
        invalid_tx_error(net.commit(&forged).await),
        json!("InvalidSignature")
    );
    // Unknown key: a valid signature by a key alice does not have.
    let stranger = SecretKey::from_seed([42; 32]);
    let unknown = Transaction {
        public_key: stranger.public_key(),
        ..tx.clone()
    }
    .sign(&stranger);
    assert_eq!(
        invalid_tx_error(net.commit(&unknown).await),
        json!({"InvalidAccessKeyError": {"AccessKeyNotFound": {
            "account_id": "alice.test", "public_key": stranger.public_key().to_string()}}})
    );
    // Expired: a block hash the chain does not know.
    let expired = Transaction {
        block_hash: [7; 32],
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.commit(&expired).await),
        json!("Expired")
    );
    // Insufficient balance.
    let rich = Transaction {
        actions: transfer(1000 * ONE_NEAR),
        ..tx.clone()
    }
    .sign(&alice);
    let error = invalid_tx_error(net.commit(&rich).await);
    assert_eq!(error["NotEnoughBalance"]["signer_id"], "alice.test");
    assert_eq!(
        error["NotEnoughBalance"]["balance"],
        (100 * ONE_NEAR).to_string()
    );
    assert!(
        error["NotEnoughBalance"]["cost"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
            > 1000 * ONE_NEAR
    );
    // Deposits whose sum overflows u128.
    let half = 1u128 << 127;
    let overflow = Transaction {
        actions: [transfer(half), transfer(half)].concat(),
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.commit(&overflow).await),
        json!("CostOverflow")
    );
    // More deploy actions than NEAR's `max_deploy_actions_per_receipt` (10).
    let deploy = Action::DeployContract {
        code: b"\0asm\x01\0\0\0".to_vec(),
    };
    let deploys = Transaction {
        actions: vec![deploy; 11],
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.commit(&deploys).await),
        json!({"ActionsValidation": {"TotalNumberOfDeployActionsExceeded": {
            "number_of_deploy_actions": 11, "limit": 10}}})
    );
    // Wrong nonce: used once, then again.
    net.commit(&tx.clone().sign(&alice)).await.unwrap();
    let replay = Transaction {
        actions: transfer(2),
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.commit(&replay).await),
        json!({"InvalidNonce": {"tx_nonce": 1, "ak_nonce": 1}})
    );
    // `send_tx` with `NONE` is fire and forget, as on nearcore: the same refused transaction
    // answers `NONE` (only the log says it was refused).
    let fire_and_forget = net
        .client
        .call(
            "send_tx",
            json!({"signed_tx_base64": base64(&replay.to_bytes()), "wait_until": "NONE"}),
        )
        .await
        .unwrap();
    assert_eq!(fire_and_forget, json!({"final_execution_status": "NONE"}));
    // Unknown signer.
    let ghost = Transaction {
        signer_id: "ghost.test".parse().unwrap(),
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.commit(&ghost).await),
        json!({"SignerDoesNotExist": {"signer_id": "ghost.test"}})
    );
    // None of them changed the chain.
    assert_eq!(net.nonce("alice.test").await, 1);
    assert_eq!(net.balance("bob.test").await, 100 * ONE_NEAR + 1);
    let Err(ClientError::Rpc(unknown_account)) = net
        .client
        .call("query", json!({"request_type": "view_account", "finality": "final", "account_id": "ghost.test"}))
        .await
    else {
        panic!("expected an error")
    };
    assert_eq!(unknown_account["cause"]["name"], "UNKNOWN_ACCOUNT");
    assert_eq!(
        unknown_account["cause"]["info"]["requested_account_id"],
        "ghost.test"
    );
    let Err(ClientError::Rpc(unknown_tx)) = net
        .client
        .call(
            "tx",
            json!({"tx_hash": hash58(&[3; 32]), "sender_account_id": "alice.test",
                "wait_until": "NONE"}),
        )
        .await
    else {
        panic!("expected an error")
    };
    assert_eq!(unknown_tx["cause"]["name"], "UNKNOWN_TRANSACTION");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_transaction_is_waited_for_except_at_level_none() {
    let dir = temp();
    let config = RpcConfig {
        tx_timeout: Duration::from_secs(1),
        ..RpcConfig::default()
    };
    let net = Localnet::start(dir.path(), &["alice.test", "bob.test"], config).await;
    let signed = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    let query = |wait: &str| {
        json!({"tx_hash": hash58(&signed.hash()), "sender_account_id": "alice.test",
            "wait_until": wait})
    };
    let cause = |result: Result<Value, ClientError>| match result {
        Err(ClientError::Rpc(error)) => error["cause"]["name"].clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    // nearcore answers UNKNOWN_TRANSACTION only at NONE: at the other levels it waits, since
    // the transaction may yet arrive, and then times out.
    assert_eq!(
        cause(net.client.call("tx", query("NONE")).await),
        "UNKNOWN_TRANSACTION"
    );
    assert_eq!(
        cause(net.client.call("tx", query("EXECUTED_OPTIMISTIC")).await),
        "TIMEOUT_ERROR"
    );
    // One that arrives while it is waited for is answered.
    let waiting = tokio::spawn({
        let client = RpcClient::new(net.addr);
        let query = query("EXECUTED_OPTIMISTIC");
        async move { client.call("tx", query).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    net.client
        .call("broadcast_tx_async", json!([base64(&signed.to_bytes())]))
        .await
        .unwrap();
    let outcome = waiting.await.unwrap().unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
    // At NONE a known transaction's outcome so far comes back at once.
    let now = net.client.call("tx", query("NONE")).await.unwrap();
    assert_eq!(now["status"], json!({"SuccessValue": ""}));
    assert_eq!(now["final_execution_status"], "FINAL");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_request_by_signed_transaction_only_asks_never_submits() {
    let dir = temp();
    let config = RpcConfig {
        tx_timeout: Duration::from_secs(1),
        ..RpcConfig::default()
    };
    let net = Localnet::start(dir.path(), &["alice.test", "bob.test"], config).await;
    let signed = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    let query =
        |wait: &str| json!({"signed_tx_base64": base64(&signed.to_bytes()), "wait_until": wait});
    let cause = |result: Result<Value, ClientError>| match result {
        Err(ClientError::Rpc(error)) => error["cause"]["name"].clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    // Unknown to the chain, as if named by its hash: unknown at NONE, waited for otherwise.
    assert_eq!(
        cause(net.client.call("tx", query("NONE")).await),
        "UNKNOWN_TRANSACTION"
    );
    assert_eq!(
        cause(
            net.client
                .call("EXPERIMENTAL_tx_status", query("EXECUTED_OPTIMISTIC"))
                .await
        ),
        "TIMEOUT_ERROR"
    );
    // Neither request submitted it: a block later nothing has moved.
    net.node.produce_block().unwrap();
    assert_eq!(net.balance("bob.test").await, 100 * ONE_NEAR);
    assert_eq!(net.nonce("alice.test").await, 0);
    // Once sent, the same request answers its outcome.
    let outcome = net.commit(&signed).await.unwrap();
    let fetched = net.client.call("tx", query("FINAL")).await.unwrap();
    assert_eq!(fetched["status"], json!({"SuccessValue": ""}));
    assert_eq!(fetched["transaction"]["hash"], hash58(&signed.hash()));
    assert_settled_as_seen(&fetched, &outcome);
    let detailed = net
        .client
        .call("EXPERIMENTAL_tx_status", query("NONE"))
        .await
        .unwrap();
    assert_eq!(
        detailed["receipts"][0]["receipt"]["Action"]["signer_id"],
        "alice.test"
    );
    assert_eq!(net.balance("bob.test").await, 101 * ONE_NEAR);
    assert_eq!(net.nonce("alice.test").await, 1);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_request_by_a_signed_transaction_the_chain_would_refuse_is_invalid() {
    let dir = temp();
    let config = RpcConfig {
        tx_timeout: Duration::from_secs(1),
        ..RpcConfig::default()
    };
    let net = Localnet::start(dir.path(), &["alice.test", "bob.test"], config).await;
    let alice = key_of("alice.test");
    let tx = net.tx("alice.test", "bob.test", transfer(ONE_NEAR)).await;
    let sent = tx.clone().sign(&alice);
    net.commit(&sent).await.unwrap();
    let query = |signed: &SignedTransaction, wait: &str| json!({"signed_tx_base64": base64(&signed.to_bytes()), "wait_until": wait});
    // Its nonce used by the one sent: as nearcore, the status request checks the transaction
    // it has not seen as if sent, and answers the refusal at every level (no waiting), with
    // the error `send_tx` gives.
    let replay = Transaction {
        actions: transfer(2),
        ..tx.clone()
    }
    .sign(&alice);
    let refused = net
        .client
        .call("send_tx", query(&replay, "INCLUDED"))
        .await
        .unwrap_err();
    for (method, wait) in [
        ("tx", "NONE"),
        ("EXPERIMENTAL_tx_status", "NONE"),
        ("tx", "INCLUDED"),
        ("EXPERIMENTAL_tx_status", "EXECUTED_OPTIMISTIC"),
        ("tx", "FINAL"),
    ] {
        let asked = net.client.call(method, query(&replay, wait)).await;
        let ClientError::Rpc(error) = asked.as_ref().unwrap_err() else {
            panic!("{method} {wait}: {asked:?}")
        };
        let ClientError::Rpc(refused) = &refused else {
            panic!("{refused:?}")
        };
        assert_eq!(error, refused, "{method} {wait}");
        assert_eq!(
            invalid_tx_error(asked),
            json!({"InvalidNonce": {"tx_nonce": 1, "ak_nonce": 1}}),
            "{method} {wait}"
        );
    }
    // An unknown signer.
    let ghost = Transaction {
        signer_id: "ghost.test".parse().unwrap(),
        nonce: 2,
        ..tx.clone()
    }
    .sign(&alice);
    assert_eq!(
        invalid_tx_error(net.client.call("tx", query(&ghost, "NONE")).await),
        json!({"SignerDoesNotExist": {"signer_id": "ghost.test"}})
    );
    // The one the chain has is no replay of itself: its outcome.
    let known = net.client.call("tx", query(&sent, "NONE")).await.unwrap();
    assert_eq!(known["status"], json!({"SuccessValue": ""}));
    // A valid one not sent is unknown, and stays unsent.
    let next = Transaction {
        nonce: 2,
        ..tx.clone()
    }
    .sign(&alice);
    let Err(ClientError::Rpc(unknown)) = net.client.call("tx", query(&next, "NONE")).await else {
        panic!("expected an error")
    };
    assert_eq!(unknown["cause"]["name"], "UNKNOWN_TRANSACTION");
    net.node.produce_block().unwrap();
    assert_eq!(net.nonce("alice.test").await, 1);
    assert_eq!(net.balance("bob.test").await, 101 * ONE_NEAR);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_key_views_of_a_missing_account_find_no_key() {
    let dir = temp();
    let net = Localnet::start(dir.path(), &["alice.test"], RpcConfig::default()).await;
    let stranger = SecretKey::from_seed([42; 32]).public_key().to_string();
    let view_key = |account: &str| {
        json!({"request_type": "view_access_key", "finality": "final",
               "account_id": account, "public_key": stranger})
    };
    // As nearcore, the account is not looked up: a missing account's key is as missing as
    // the key an existing account lacks.
    let lacking = net
        .client
        .call("query", view_key("alice.test"))
        .await
        .unwrap();
    assert_eq!(
        lacking["error"],
        format!("access key {stranger} does not exist while viewing")
    );
    let missing = net
        .client
        .call("query", view_key("ghost.test"))
        .await
        .unwrap();
    assert_eq!(missing, lacking);
    let list = net
        .client
        .call(
            "query",
            json!({"request_type": "view_access_key_list", "finality": "final",
                   "account_id": "ghost.test"}),
        )
        .await
        .unwrap();
    assert_eq!(
        list,
        json!({"keys": [], "block_height": lacking["block_height"],
               "block_hash": lacking["block_hash"]})
    );
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_errors_and_the_server_carries_on() {
    let dir = temp();
    let config = RpcConfig {
        max_body_bytes: 64 * 1024,
        ..RpcConfig::default()
    };
    let net = Localnet::start(dir.path(), &["alice.test"], config).await;
    let parse = |body: &[u8]| -> Value { serde_json::from_slice(body).unwrap() };
    let (status, body) = net.client.post(b"{not json".to_vec()).await.unwrap();
    assert_eq!(status, 200);
    let answer = parse(&body);
    assert_eq!(answer["error"]["cause"]["name"], "PARSE_ERROR");
    assert_eq!(answer["id"], Value::Null);
    let (_, body) = net.client.post(b"[1, 2, 3]".to_vec()).await.unwrap();
    assert_eq!(parse(&body)["error"]["name"], "REQUEST_VALIDATION_ERROR");
    let Err(ClientError::Rpc(error)) = net.client.call("no_such_method", json!({})).await else {
        panic!("expected an error")
    };
    assert_eq!(
        error["cause"],
        json!({"name": "METHOD_NOT_FOUND", "info": {"method_name": "no_such_method"}})
    );
    assert_eq!(error["code"], -32601);
    for (method, params) in [
        ("block", json!({"finality": 7})),
        ("block", json!({"block_id": "zz0OIl"})),
        (
            "query",
            json!({"request_type": "view_account", "finality": "final"}),
        ),
        (
            "query",
            json!({"request_type": "nonsense", "finality": "final", "account_id": "alice.test"}),
        ),
        ("broadcast_tx_commit", json!(["not base64!"])),
        ("broadcast_tx_commit", json!([base64(b"not a transaction")])),
        ("send_tx", json!({"wait_until": "NONE"})),
        ("tx", json!(42)),
    ] {
        let Err(ClientError::Rpc(error)) = net.client.call(method, params.clone()).await else {
            panic!("{method} {params} should fail")
        };
        assert_eq!(
            error["cause"]["name"], "PARSE_ERROR",
            "{method} {params}: {error}"
        );
    }
    let Err(ClientError::Rpc(error)) = net.client.call("block", json!({"block_id": 999})).await
    else {
        panic!("expected an error")
    };
    assert_eq!(error["cause"]["name"], "UNKNOWN_BLOCK");
    let huge = vec![b' '; 200 * 1024];
    let (status, _) = net.client.post(huge).await.unwrap();
    assert_eq!(status, 413);
    let status = net.client.call("status", json!([])).await.unwrap();
    assert!(status["sync_info"]["latest_block_height"].is_u64());
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_all_get_their_transactions_executed() {
    const CLIENTS: usize = 8;
    const TXS_EACH: u64 = 5;
    let dir = temp();
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("user{i}.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut accounts = refs.clone();
    accounts.push("sink.test");
    let net = Arc::new(Localnet::start(dir.path(), &accounts, RpcConfig::default()).await);
    let block_hash = net.head_hash().await;
    let mut tasks = Vec::new();
    for name in names.clone() {
        let addr = net.addr;
        tasks.push(tokio::spawn(async move {
            let client = RpcClient::new(addr);
            for nonce in 1..=TXS_EACH {
                let signed = Transaction {
                    signer_id: name.parse().unwrap(),
                    public_key: key_of(&name).public_key(),
                    nonce,
                    receiver_id: "sink.test".parse().unwrap(),
                    block_hash,
                    actions: transfer(ONE_NEAR),
                }
                .sign(&key_of(&name));
                let outcome = client
                    .call("broadcast_tx_commit", json!([base64(&signed.to_bytes())]))
                    .await
                    .unwrap();
                assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let expected = 100 * ONE_NEAR + u128::from(TXS_EACH) * CLIENTS as u128 * ONE_NEAR;
    assert_eq!(net.balance("sink.test").await, expected);
    for name in &names {
        assert_eq!(net.nonce(name).await, TXS_EACH);
    }
    let net = Arc::into_inner(net).expect("clients are done");
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_has_its_state_blocks_and_outcomes() {
    let dir = temp();
    let net = Localnet::start(
        dir.path(),
        &["alice.test", "bob.test"],
        RpcConfig::default(),
    )
    .await;
    let signed = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    let outcome = net.commit(&signed).await.unwrap();
    let head = net.head_hash().await;
    let alice = net.balance("alice.test").await;
    net.shutdown().await;
    let net = Localnet::start(
        dir.path(),
        &[],
        RpcConfig {
            tx_timeout: Duration::from_secs(5),
            ..RpcConfig::default()
        },
    )
    .await;
    assert_eq!(net.head_hash().await, head);
    assert_eq!(net.balance("alice.test").await, alice);
    assert_eq!(net.balance("bob.test").await, 101 * ONE_NEAR);
    assert_eq!(net.nonce("alice.test").await, 1);
    let fetched = net
        .client
        .call("tx", json!([hash58(&signed.hash()), "alice.test"]))
        .await
        .unwrap();
    assert_settled_as_seen(&fetched, &outcome);
    let block = net
        .client
        .call("block", json!({"block_id": 1}))
        .await
        .unwrap();
    assert_eq!(block["header"]["height"], 1);
    // The chain goes on from where it was.
    let next = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    assert_eq!(
        net.commit(&next).await.unwrap()["status"],
        json!({"SuccessValue": ""})
    );
    let head = net.node.chain().head().clone();
    let parent = net
        .client
        .call("block", json!({"block_id": head.height - 1}))
        .await
        .unwrap();
    assert_eq!(parent["header"]["hash"], hash58(&head.prev_hash));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_at_the_head_answer_while_blocks_are_produced() {
    let dir = temp();
    let net = Localnet::start_with_blocks(
        dir.path(),
        &["alice.test"],
        RpcConfig::default(),
        BlockMode::Every(Duration::from_millis(1)),
    )
    .await;
    let net = Arc::new(net);
    let mut clients = Vec::new();
    for _ in 0..8 {
        let net = net.clone();
        clients.push(tokio::spawn(async move {
            let client = RpcClient::new(net.addr);
            let mut heights = Vec::new();
            for _ in 0..150 {
                let view = client
                    .call(
                        "query",
                        json!({"request_type": "view_account", "finality": "final",
                               "account_id": "alice.test"}),
                    )
                    .await
                    .expect("a query at the head never names a block it does not read");
                heights.push(view["block_height"].as_u64().unwrap());
            }
            heights
        }));
    }
    let mut heights = std::collections::BTreeSet::new();
    for client in clients {
        heights.extend(client.await.unwrap());
    }
    assert!(heights.len() > 1, "blocks were produced during the queries");
    let Ok(net) = Arc::try_unwrap(net) else {
        panic!("every client has finished")
    };
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_blocks_go_on_while_a_yield_waits_so_that_it_times_out() {
    let dir = temp();
    let mode = BlockMode::OnDemand {
        yield_pace: Duration::from_millis(1),
    };
    let net = Localnet::start_with_blocks(dir.path(), &["alice.test"], patient(), mode).await;
    deploy_test_yield(&net).await;
    let request = yield_request(&net).await;
    // Nobody resumes it: its 200 blocks pass and its callback gets the timeout.
    let outcome = net.commit(&request).await.unwrap();
    assert_eq!(
        outcome["status"],
        json!({"SuccessValue": base64(br#""timeout""#)})
    );
    // No yield waits any more: no more blocks without work.
    let height = net.node.chain().head().height;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(net.node.chain().head().height, height);
    net.shutdown().await;
}

/// Waits until `ready` holds, polling.
async fn until(ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_includes_accepted_transactions_and_refuses_new_ones() {
    let dir = temp();
    // Blocks hourly: an accepted transaction waits for the next block.
    let mode = BlockMode::Every(Duration::from_secs(3600));
    let net = Localnet::start_with_blocks(
        dir.path(),
        &["alice.test", "bob.test"],
        RpcConfig::default(),
        mode,
    )
    .await;
    let tx = net.tx("alice.test", "bob.test", transfer(ONE_NEAR)).await;
    let signed = tx.clone().sign(&key_of("alice.test"));
    let client = RpcClient::new(net.addr);
    let bytes = base64(&signed.to_bytes());
    let commit =
        tokio::spawn(async move { client.call("broadcast_tx_commit", json!([bytes])).await });
    let node = net.node.clone();
    until(|| node.chain().is_incoming(&signed.hash())).await;
    let stopping = std::time::Instant::now();
    net.shutdown().await;
    let outcome = commit.await.unwrap().unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
    assert!(stopping.elapsed() < Duration::from_secs(5));
    assert_eq!(node.chain().balance("bob.test"), 101 * ONE_NEAR);
    let late = Transaction {
        nonce: tx.nonce + 1,
        ..tx
    }
    .sign(&key_of("alice.test"));
    assert!(matches!(
        node.submit(&late),
        Err(wasm_host::node::SubmitError::ShuttingDown)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_tells_its_waiters_at_once() {
    let dir = temp();
    let mode = BlockMode::OnDemand {
        yield_pace: Duration::from_secs(3600),
    };
    let net = Localnet::start_with_blocks(dir.path(), &["alice.test"], patient(), mode).await;
    deploy_test_yield(&net).await;
    let request = yield_request(&net).await;
    let client = RpcClient::new(net.addr);
    let bytes = base64(&request.to_bytes());
    let commit =
        tokio::spawn(async move { client.call("broadcast_tx_commit", json!([bytes])).await });
    let node = net.node.clone();
    until(|| node.store().transaction(&request.hash()).unwrap().is_some()).await;
    let stopping = std::time::Instant::now();
    net.shutdown().await;
    let Err(ClientError::Rpc(error)) = commit.await.unwrap() else {
        panic!("a waiter of a yield that never ends gets an error")
    };
    assert_eq!(error["cause"]["name"], "INTERNAL_ERROR");
    assert!(
        error["data"].as_str().unwrap().contains("shutting down"),
        "{error}"
    );
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_until_the_stopping_node_has_closed() {
    let dir = temp();
    let mode = BlockMode::Every(Duration::from_secs(3600));
    let net = Localnet::start_with_blocks(dir.path(), &["alice.test"], patient(), mode).await;
    // The chain held: the producer, told to stop, cannot finish (its closing blocks wait).
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let node = net.node.clone();
    let holder = std::thread::spawn(move || {
        let _chain = node.chain();
        locked.send(()).unwrap();
        held.recv().unwrap();
    });
    is_locked.recv().unwrap();
    net.stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Still closing: the server answers queries (they read no locked chain).
    let view = net
        .client
        .call(
            "query",
            json!({"request_type": "view_account", "finality": "final", "account_id": "alice.test"}),
        )
        .await
        .expect("the server answers while the node is closing");
    assert_eq!(view["amount"], (100 * ONE_NEAR).to_string());
    assert!(!net.node.is_closed());
    release.send(()).unwrap();
    holder.join().unwrap();
    // Closed, the node stops its server.
    let node = net.node.clone();
    let addr = net.addr;
    net.shutdown().await;
    assert!(node.is_closed());
    assert!(matches!(
        RpcClient::new(addr).call("status", json!([])).await,
        Err(ClientError::Transport { .. })
    ));
}

/// Waits (spinning, to catch the moment) until `found` finds something; returns it.
fn spin_until<T>(found: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::hint::spin_loop();
    }
}

#[test]
fn a_transaction_submitted_again_is_the_same_transaction_not_a_used_nonce() {
    let dir = temp();
    let node = Node::open(dir.path(), &genesis(&["alice.test", "bob.test"])).unwrap();
    let signed = Transaction {
        signer_id: "alice.test".parse().unwrap(),
        public_key: key_of("alice.test").public_key(),
        nonce: 1,
        receiver_id: "bob.test".parse().unwrap(),
        block_hash: node.chain().head().hash,
        actions: transfer(ONE_NEAR),
    }
    .sign(&key_of("alice.test"));
    // Sent twice before its block (two requests at once, or a client's retry), and once after.
    let first = node.submit(&signed).unwrap();
    assert_eq!(node.submit(&signed).unwrap(), first);
    let block = node.produce_block().unwrap();
    assert_eq!(node.submit(&signed).unwrap(), first);
    node.produce_block().unwrap();
    let record = node.store().transaction(&first).unwrap().unwrap();
    assert_eq!(record.block_height, block.height);
    assert_eq!(
        node.chain().balance("bob.test"),
        101 * ONE_NEAR,
        "it ran once"
    );
}

#[test]
fn checking_a_transaction_changes_nothing_and_passes_one_the_chain_has() {
    let dir = temp();
    let node = Node::open(dir.path(), &genesis(&["alice.test", "bob.test"])).unwrap();
    let tx = Transaction {
        signer_id: "alice.test".parse().unwrap(),
        public_key: key_of("alice.test").public_key(),
        nonce: 1,
        receiver_id: "bob.test".parse().unwrap(),
        block_hash: node.chain().head().hash,
        actions: transfer(ONE_NEAR),
    };
    let signed = tx.clone().sign(&key_of("alice.test"));
    let balance = node.chain().balance("alice.test");
    node.check(&signed).unwrap();
    node.check(&signed).unwrap();
    assert!(!node.chain().is_incoming(&signed.hash()));
    assert_eq!(node.chain().balance("alice.test"), balance);
    // Accepted, waiting for its block, then in one: the same transaction passes; another with
    // its nonce does not.
    node.submit(&signed).unwrap();
    let other = Transaction {
        actions: transfer(2),
        ..tx
    }
    .sign(&key_of("alice.test"));
    for _ in 0..2 {
        node.check(&signed).unwrap();
        assert!(matches!(
            node.check(&other),
            Err(SubmitError::Invalid(InvalidTxError::InvalidNonce {
                tx_nonce: 1,
                ak_nonce: 1
            }))
        ));
        node.produce_block().unwrap();
    }
    assert_eq!(node.chain().balance("bob.test"), 101 * ONE_NEAR);
}

#[test]
fn a_block_is_queryable_as_soon_as_it_is_seen() {
    let dir = temp();
    let node = Arc::new(Node::open(dir.path(), &genesis(&["alice.test", "bob.test"])).unwrap());
    for nonce in 1..=30 {
        let signed = Transaction {
            signer_id: "alice.test".parse().unwrap(),
            public_key: key_of("alice.test").public_key(),
            nonce,
            receiver_id: "bob.test".parse().unwrap(),
            block_hash: node.chain().head().hash,
            actions: transfer(1),
        }
        .sign(&key_of("alice.test"));
        let hash = node.submit(&signed).unwrap();
        let height = node.head_state().header().height;
        // One reader acts on the transaction's record (as `tx` answers it), another on the
        // head state (as a `final` query answers it), each the moment it appears.
        let included = {
            let node = node.clone();
            std::thread::spawn(move || {
                let record = spin_until(|| node.store().transaction(&hash).unwrap());
                let kept = node.state_at(&record.block_hash).is_some();
                let head = node.head_state().header().height;
                (kept, head >= record.block_height)
            })
        };
        let queried = {
            let node = node.clone();
            std::thread::spawn(move || {
                let head = spin_until(|| {
                    let head = node.head_state();
                    (head.header().height > height).then(|| head.header().hash)
                });
                node.settled();
                node.store().height_of(&head).unwrap().is_some()
            })
        };
        node.produce_block().unwrap();
        let (kept, head_current) = included.join().unwrap();
        assert!(kept, "block {nonce}: the state of a stored block is kept");
        assert!(head_current, "block {nonce}: the head state is not older");
        assert!(
            queried.join().unwrap(),
            "block {nonce}: a settled block the head state names is stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_read_the_state_of_recent_blocks() {
    let dir = temp();
    let net = Localnet::start(
        dir.path(),
        &["alice.test", "bob.test"],
        RpcConfig::default(),
    )
    .await;
    let before = net
        .client
        .call("block", json!({"finality": "final"}))
        .await
        .unwrap();
    let (height, hash) = (
        before["header"]["height"].clone(),
        before["header"]["hash"].clone(),
    );
    let signed = net
        .tx("alice.test", "bob.test", transfer(ONE_NEAR))
        .await
        .sign(&key_of("alice.test"));
    net.commit(&signed).await.unwrap();
    let bob_at = |block_id: Value| {
        let client = RpcClient::new(net.addr);
        async move {
            client
                .call(
                    "query",
                    json!({"request_type": "view_account", "block_id": block_id,
                           "account_id": "bob.test"}),
                )
                .await
        }
    };
    // The block before the transfer, by height and by hash: its state, not the head's.
    for id in [height.clone(), hash] {
        let view = bob_at(id).await.unwrap();
        assert_eq!(view["amount"], (100 * ONE_NEAR).to_string());
        assert_eq!(view["block_height"], height);
    }
    assert_eq!(net.balance("bob.test").await, 101 * ONE_NEAR);
    // The legacy `[path, data]` form reads the latest state, as on nearcore.
    let legacy = net
        .client
        .call("query", json!(["account/bob.test", ""]))
        .await
        .unwrap();
    assert_eq!(legacy["amount"], (101 * ONE_NEAR).to_string());
    // `sync_checkpoint` names block 0, not the head.
    let genesis = net
        .client
        .call("block", json!({"sync_checkpoint": "genesis"}))
        .await
        .unwrap();
    assert_eq!(genesis["header"]["height"], 0);
    let earliest = net
        .client
        .call(
            "query",
            json!({"request_type": "view_account", "sync_checkpoint": "earliest_available",
                   "account_id": "bob.test"}),
        )
        .await
        .unwrap();
    assert_eq!(earliest["block_height"], 0);
    assert_eq!(earliest["amount"], (100 * ONE_NEAR).to_string());
    // Once it is older than the kept states, it is garbage-collected, as on nearcore.
    for _ in 0..wasm_host::node::KEPT_STATES {
        net.node.produce_block().unwrap();
    }
    let Err(ClientError::Rpc(error)) = bob_at(height.clone()).await else {
        panic!("expected an error")
    };
    assert_eq!(error["cause"]["name"], "GARBAGE_COLLECTED_BLOCK");
    assert_eq!(error["cause"]["info"]["block_height"], height);
    net.shutdown().await;
}

/// Sends a raw HTTP/1.1 request (the connection closed after it); returns the status, the
/// headers (lower-cased names) and the body.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{extra_headers}\r\n"
    );
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_cors_get_status_health_and_the_protocol_config() {
    let dir = temp();
    let net = Localnet::start(dir.path(), &["alice.test"], RpcConfig::default()).await;
    // A browser's preflight, then every answer readable from any origin (nearcore's default).
    let (status, headers, _) = http(
        net.addr,
        "OPTIONS",
        "/",
        "origin: http://dapp.example\r\naccess-control-request-method: POST\r\naccess-control-request-headers: content-type\r\n",
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        headers.contains("access-control-allow-origin: *"),
        "{headers}"
    );
    assert!(
        headers.contains("access-control-allow-methods: get, post"),
        "{headers}"
    );
    assert!(headers.contains("content-type"), "{headers}");
    let (status, headers, body) = http(net.addr, "GET", "/status", "").await;
    assert_eq!(status, 200);
    assert!(
        headers.contains("access-control-allow-origin: *"),
        "{headers}"
    );
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["chain_id"], "localnet");
    assert!(view["sync_info"]["latest_block_height"].is_u64());
    let (status, _, body) = http(net.addr, "GET", "/health", "").await;
    assert_eq!((status, body.as_str()), (200, "null"));
    assert_eq!(
        net.client.call("health", json!([])).await.unwrap(),
        Value::Null
    );
    let (status, headers, _) = http(net.addr, "GET", "/nowhere", "").await;
    assert_eq!(status, 404);
    assert!(
        headers.contains("access-control-allow-origin: *"),
        "{headers}"
    );
    let config = net
        .client
        .call("EXPERIMENTAL_protocol_config", json!({"finality": "final"}))
        .await
        .unwrap();
    assert_eq!(config["protocol_version"], 88);
    assert_eq!(config["chain_id"], "localnet");
    assert_eq!(config["min_gas_price"], "100000000");
    assert_eq!(
        config["runtime_config"]["storage_amount_per_byte"],
        "10000000000000000000"
    );
    assert_eq!(
        config["runtime_config"]["wasm_config"]["limit_config"]["yield_timeout_length_in_blocks"],
        200
    );
    // A stopping node is not healthy (its server answers until the node has closed).
    net.node.stop_accepting();
    let (status, _, _) = http(net.addr, "GET", "/health", "").await;
    assert_eq!(status, 503);
    assert!(net.client.call("health", json!([])).await.is_err());
    net.shutdown().await;
}
