//! The chain client against a real local chain over HTTP: views, calls with deposits, events,
//! failures, failover between endpoints, and nonces under concurrency.

mod common;

use common::proxy::Reply;
use common::{dead_url, key_of, quick_policy, Localnet, GAS, NEAR};
use sdk::rpc::{ChainError, NearRpc, RetryPolicy, TxStatus, TxWait};
use sdk::signer::Signer;
use sdk::wire::{Action, InvalidTxError, SecretKey};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasm_host::rpc::RpcConfig;

const STATUS: &str = "status.test";
const ALICE: &str = "alice.test";

async fn status_chain() -> Localnet {
    let chain = Localnet::start(&[ALICE, STATUS, "bob.test"]).await;
    chain
        .deploy(STATUS, "test_status", Some(("new", json!({}))))
        .await;
    chain
}

/// An endpoint that answers every request with the HTTP `answer` (status line, headers, body).
async fn endpoint_answering(answer: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

/// Endpoints at the front of the list whose answers are their own fault — a 404 (a wrong path),
/// a 403 (an expired key), an HTML page — are passed over for the next one, not returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_that_answer_with_their_own_faults_are_passed_over() {
    let chain = status_chain().await;
    let page = "<html>maintenance</html>";
    let faulty = [
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
        "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        ),
    ];
    for answer in faulty {
        let first = endpoint_answering(answer.clone()).await;
        let rpc = NearRpc::new(vec![first, chain.url.clone()], quick_policy()).unwrap();
        let status = rpc.status().await;
        assert_eq!(status.unwrap().chain_id, "localnet", "{answer}");
    }
    chain.shutdown().await;
}

/// An endpoint that answers every request with HTTP 503.
async fn unavailable_url() -> String {
    let body = "upstream overloaded";
    endpoint_answering(format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await
}

/// An endpoint of another network: it answers every request with a `status` of chain
/// `othernet`.
async fn other_chain_url() -> String {
    let body = json!({"jsonrpc": "2.0", "id": "sdk", "result": {
        "chain_id": "othernet",
        "sync_info": {
            "latest_block_height": 7,
            "latest_block_hash": "11111111111111111111111111111111",
        },
    }})
    .to_string();
    endpoint_answering(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_read_status_accounts_keys_and_contracts() {
    let chain = status_chain().await;
    let rpc = chain.rpc();
    let status = rpc.status().await.unwrap();
    assert_eq!(status.chain_id, "localnet");
    assert!(status.latest_block_height >= 1);
    let account = rpc.view_account(ALICE).await.unwrap();
    assert_eq!(account.amount, 1000 * NEAR);
    let key = rpc
        .view_access_key(ALICE, &key_of(ALICE).public_key())
        .await
        .unwrap();
    assert!(key.is_full_access());
    assert_eq!(key.nonce, 0);
    let none: Option<String> = rpc
        .view_json(STATUS, "get_status", &json!({"account_id": ALICE}))
        .await
        .unwrap();
    assert_eq!(none, None);
    let echoed = rpc
        .view_function(STATUS, "echo", &json!({"value": "hi"}))
        .await
        .unwrap();
    assert_eq!(echoed, b"\"hi\"");

    assert!(matches!(
        rpc.view_account("nobody.test").await,
        Err(ChainError::UnknownAccount { account }) if account == "nobody.test"
    ));
    let stranger = SecretKey::from_seed([9; 32]).public_key();
    assert!(matches!(
        rpc.view_access_key(ALICE, &stranger).await,
        Err(ChainError::AccessKeyNotFound { .. })
    ));
    match rpc
        .view_function(STATUS, "no_such_method", &json!({}))
        .await
    {
        Err(ChainError::ViewFailed {
            method, message, ..
        }) => {
            assert_eq!(method, "no_such_method");
            // nearcore's text: the `{:?}` of its `FunctionCallError`.
            assert!(
                message.contains("MethodResolveError(MethodNotFound)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_attach_deposits_and_return_values_and_events() {
    let chain = status_chain().await;
    let alice = chain.signer(ALICE);
    let before = chain.rpc().view_account(ALICE).await.unwrap().amount;
    let outcome = alice
        .call(STATUS, "deposit", &json!({}), GAS, 3 * NEAR)
        .await
        .unwrap();
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_eq!(outcome.json::<String>().unwrap(), (3 * NEAR).to_string());
    assert!(outcome.gas_burnt > 0);
    let after = chain.rpc().view_account(ALICE).await.unwrap().amount;
    assert!(before - after >= 3 * NEAR, "{before} -> {after}");

    let outcome = alice
        .call(STATUS, "set_status", &json!({"message": "ready"}), GAS, 0)
        .await
        .unwrap();
    let events = outcome.events();
    assert_eq!(events.len(), 1, "{:?}", outcome.logs);
    assert_eq!(
        (events[0].standard.as_str(), events[0].event.as_str()),
        ("status", "status_set")
    );
    assert_eq!(events[0].data[0]["message"], "ready");
    let stored: Option<String> = chain
        .rpc()
        .view_json(STATUS, "get_status", &json!({"account_id": ALICE}))
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("ready"));
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_call_reports_nears_error() {
    let chain = status_chain().await;
    let outcome = chain
        .signer(ALICE)
        .call(
            STATUS,
            "set_status_then_fail",
            &json!({"message": "x"}),
            GAS,
            0,
        )
        .await
        .unwrap();
    match &outcome.status {
        TxStatus::Failure(error) => {
            assert!(
                error.contains("Smart contract panicked: failing on purpose"),
                "{error}"
            );
            assert!(error.contains("ActionError"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(matches!(
        outcome.json::<()>(),
        Err(ChainError::TxFailed { .. })
    ));
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_skips_dead_and_failing_endpoints_and_remembers_the_healthy_one() {
    let chain = status_chain().await;
    let urls = vec![dead_url(), unavailable_url().await, chain.url.clone()];
    let rpc = NearRpc::new(urls, quick_policy()).unwrap();
    assert_eq!(rpc.status().await.unwrap().chain_id, "localnet");
    assert!(rpc.healthy_endpoint().starts_with(&chain.url));
    // Signed transactions fail over too, and later calls start at the healthy endpoint.
    let signer = Signer::new(rpc.clone(), ALICE.parse().unwrap(), key_of(ALICE));
    let outcome = signer
        .call(
            STATUS,
            "set_status",
            &json!({"message": "via failover"}),
            GAS,
            0,
        )
        .await
        .unwrap();
    assert!(outcome.is_success());
    assert!(rpc.healthy_endpoint().starts_with(&chain.url));
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pinned_to_a_chain_never_fails_over_to_another() {
    let chain = status_chain().await;
    let other = other_chain_url().await;
    let unpinned = NearRpc::new(vec![other.clone()], quick_policy()).unwrap();
    assert_eq!(unpinned.status().await.unwrap().chain_id, "othernet");

    let rpc = NearRpc::new(vec![other.clone(), chain.url.clone()], quick_policy()).unwrap();
    rpc.pin_chain_id("localnet").unwrap();
    rpc.pin_chain_id("localnet").unwrap();
    assert!(matches!(
        rpc.clone().pin_chain_id("othernet"),
        Err(ChainError::ChainAlreadyPinned { .. })
    ));
    assert_eq!(rpc.status().await.unwrap().chain_id, "localnet");
    assert!(rpc.healthy_endpoint().starts_with(&chain.url));
    let account = rpc.view_account(ALICE).await.unwrap();
    assert_eq!(account.amount, 1000 * NEAR);

    let stranded = NearRpc::new(vec![other.clone()], quick_policy()).unwrap();
    stranded.pin_chain_id("localnet").unwrap();
    let error = stranded.view_account(ALICE).await.unwrap_err();
    match &error {
        ChainError::AllEndpointsFailed { last, .. } => {
            assert!(matches!(**last, ChainError::WrongChain { .. }), "{last:?}")
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&other) && message.contains("serves chain `othernet`, not `localnet`"),
        "{message}"
    );
    chain.shutdown().await;
}

/// An endpoint that lags behind the chain: it answers every request with the view of an
/// account at block 1.
async fn lagging_url() -> String {
    let body = json!({"jsonrpc": "2.0", "id": "sdk", "result": {
        "amount": "1", "locked": "0", "code_hash": "11111111111111111111111111111111",
        "storage_usage": 100, "storage_paid_at": 0,
        "block_height": 1, "block_hash": "11111111111111111111111111111111",
    }})
    .to_string();
    endpoint_answering(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_never_reads_an_older_block_than_already_read() {
    let chain = status_chain().await;
    let lagging = lagging_url().await;
    let rpc = NearRpc::new(vec![chain.url.clone(), lagging.clone()], quick_policy()).unwrap();
    let account = rpc.view_account(ALICE).await.unwrap();
    assert!(account.block_height > 1, "{account:?}");
    assert_eq!(account.amount, 1000 * NEAR);
    chain.shutdown().await;

    // The chain's endpoint is gone; the lagging one still answers, from block 1: refused.
    let error = rpc.view_account(ALICE).await.unwrap_err();
    match &error {
        ChainError::AllEndpointsFailed { last, .. } => match &**last {
            ChainError::BehindChain {
                endpoint,
                answered_at: 1,
                already_read,
            } => {
                assert!(endpoint.starts_with(&lagging), "{endpoint}");
                assert_eq!(*already_read, account.block_height);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // A client that has read nothing newer takes the lagging endpoint's answer.
    let fresh = NearRpc::new(vec![lagging], quick_policy()).unwrap();
    assert_eq!(fresh.view_account(ALICE).await.unwrap().block_height, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_refused_not_held_in_memory() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("100000\r\n{}\r\n", " ".repeat(1 << 20));
        // Until the client hangs up: far more than any NEAR answer.
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let policy = RetryPolicy {
        attempts: 1,
        ..quick_policy()
    };
    let error = NearRpc::new(vec![url], policy)
        .unwrap()
        .status()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("longer than {} bytes", sdk::rpc::MAX_ANSWER_BYTES)),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_chain_is_a_clear_error() {
    let url = dead_url();
    let policy = RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        request_timeout: Duration::from_secs(2),
    };
    let rpc = NearRpc::new(vec![url.clone()], policy).unwrap();
    let error = rpc.status().await.unwrap_err();
    match &error {
        ChainError::AllEndpointsFailed { attempts, last, .. } => {
            assert_eq!(*attempts, 3);
            assert!(matches!(**last, ChainError::Transport { .. }), "{last:?}");
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&url) && message.contains("reachable"),
        "{message}"
    );
    assert!(matches!(
        NearRpc::new(vec![], RetryPolicy::default()),
        Err(ChainError::NoEndpoints)
    ));
    assert!(matches!(
        NearRpc::new(vec!["ftp://x".into()], RetryPolicy::default()),
        Err(ChainError::InvalidUrl { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_from_one_signer_each_get_a_nonce() {
    let chain = status_chain().await;
    let alice = chain.signer(ALICE);
    let calls = 24;
    let mut tasks = Vec::new();
    for i in 0..calls {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            alice
                .call(
                    STATUS,
                    "set_status",
                    &json!({"message": format!("m{i}")}),
                    GAS,
                    0,
                )
                .await
        }));
    }
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert!(outcome.is_success(), "{:?}", outcome.status);
    }
    let writes: u64 = chain
        .rpc()
        .view_json(STATUS, "writes", &json!({}))
        .await
        .unwrap();
    assert_eq!(writes, calls);
    let nonce = chain
        .rpc()
        .view_access_key(ALICE, &alice.public_key())
        .await
        .unwrap()
        .nonce;
    assert!(nonce >= calls, "nonce {nonce}");
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_signers_sharing_a_key_recover_from_taken_nonces() {
    let chain = status_chain().await;
    let first = chain.signer(ALICE);
    let second = chain.signer(ALICE);
    let mut tasks = Vec::new();
    for i in 0..6 {
        // Distinct arguments: the same nonce, block and arguments would be one transaction.
        for (name, signer) in [("first", first.clone()), ("second", second.clone())] {
            tasks.push(tokio::spawn(async move {
                let message = format!("{name} {i}");
                signer
                    .call(STATUS, "set_status", &json!({ "message": message }), GAS, 0)
                    .await
            }));
        }
    }
    for task in tasks {
        assert!(task.await.unwrap().unwrap().is_success());
    }
    let writes: u64 = chain
        .rpc()
        .view_json(STATUS, "writes", &json!({}))
        .await
        .unwrap();
    assert_eq!(writes, 12);
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_transactions_are_followed_by_hash() {
    let chain = status_chain().await;
    let alice = chain.signer(ALICE);
    let hash = alice
        .submit("bob.test", vec![Action::Transfer { deposit: NEAR }])
        .await
        .unwrap();
    let outcome = chain
        .rpc()
        .tx_status(&hash, ALICE, TxWait::Final)
        .await
        .unwrap();
    assert_eq!(outcome.tx_hash, hash);
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_eq!(
        chain.rpc().view_account("bob.test").await.unwrap().amount,
        1001 * NEAR
    );
    // A refused transaction is a typed error, not an outcome.
    let poor = chain.signer(ALICE);
    match poor
        .send(
            "bob.test",
            vec![Action::Transfer {
                deposit: 10_000 * NEAR,
            }],
        )
        .await
    {
        Err(ChainError::InvalidTx(InvalidTxError::NotEnoughBalance { .. })) => {}
        other => panic!("{other:?}"),
    }
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_waiting_early_is_polled_by_hash() {
    let config = RpcConfig {
        tx_timeout: Duration::from_millis(1),
        ..RpcConfig::default()
    };
    let chain = Localnet::start_with(&[ALICE, "bob.test"], config).await;
    let outcome = chain
        .signer(ALICE)
        .send("bob.test", vec![Action::Transfer { deposit: NEAR }])
        .await
        .unwrap();
    assert!(outcome.is_success(), "{:?}", outcome.status);
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_with_a_stale_nonce_lands_and_a_refused_one_is_an_error() {
    let chain = Localnet::start(&[ALICE, "bob.test"]).await;
    let transfer = |deposit| vec![Action::Transfer { deposit }];
    // `stale` reads the key's nonce once, then another signer of the key uses the next ones.
    let stale = chain.signer(ALICE);
    assert!(stale
        .send("bob.test", transfer(1))
        .await
        .unwrap()
        .is_success());
    let other = chain.signer(ALICE);
    for _ in 0..2 {
        assert!(other
            .send("bob.test", transfer(1))
            .await
            .unwrap()
            .is_success());
    }
    // Its next nonce is taken: the chain refuses it, and the submit re-signs rather than hand
    // back the hash of a transaction that never lands.
    let hash = stale.submit("bob.test", transfer(NEAR)).await.unwrap();
    let outcome = chain
        .rpc()
        .tx_status(&hash, ALICE, TxWait::Final)
        .await
        .unwrap();
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_eq!(
        chain.rpc().view_account("bob.test").await.unwrap().amount,
        1001 * NEAR + 3
    );
    // A transaction the chain refuses outright is an error, not a hash.
    match stale.submit("bob.test", transfer(10_000 * NEAR)).await {
        Err(ChainError::InvalidTx(InvalidTxError::NotEnoughBalance { .. })) => {}
        other => panic!("{other:?}"),
    }
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_after_an_endpoint_may_have_taken_the_send_is_not_final() {
    let chain = status_chain().await;
    // The first endpoint passes the transaction on and hangs up; the next refuses the call it
    // gets (a lagging node's `Expired`, a key-gated provider's error): the transaction landed
    // all the same, so the refusal must not read as final, nor lead to a second signature.
    let taken =
        common::proxy::proxy_endpoint(chain.url.clone(), |call| call["method"] != "send_tx").await;
    let refusing = common::proxy::proxy_endpoint(chain.url.clone(), |call| {
        if call["method"] == "send_tx" {
            call["params"]["signed_tx_base64"] = serde_json::json!("not base64!");
        }
        true
    })
    .await;
    let rpc = NearRpc::new(vec![taken, refusing], quick_policy()).unwrap();
    let alice = Signer::new(rpc, ALICE.parse().unwrap(), common::key_of(ALICE));
    let error = alice
        .submit("bob.test", vec![Action::Transfer { deposit: NEAR }])
        .await
        .unwrap_err();
    let ChainError::SendUnconfirmed { tx_hash, source } = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(**source, ChainError::Rpc { .. }), "{source:?}");
    assert_landed_once(&chain, tx_hash).await;
    chain.shutdown().await;
}

/// Alice's 1 NEAR transfer `tx_hash` succeeded, and Bob holds its NEAR once.
async fn assert_landed_once(chain: &Localnet, tx_hash: &str) {
    let outcome = chain
        .rpc()
        .tx_status(tx_hash, ALICE, TxWait::Final)
        .await
        .unwrap();
    assert!(outcome.is_success(), "{:?}", outcome.status);
    assert_eq!(
        chain.rpc().view_account("bob.test").await.unwrap().amount,
        1001 * NEAR,
        "sent once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_nobody_confirmed_names_its_hash_and_is_not_sent_again() {
    let chain = status_chain().await;
    // An endpoint that passes every call on but hangs up without answering `send_tx`: the
    // transaction lands, its sender never hears so.
    let url =
        common::proxy::proxy_endpoint(chain.url.clone(), |call| call["method"] != "send_tx").await;
    let rpc = NearRpc::new(vec![url], quick_policy()).unwrap();
    let alice = Signer::new(rpc, ALICE.parse().unwrap(), common::key_of(ALICE));
    let error = alice
        .submit("bob.test", vec![Action::Transfer { deposit: NEAR }])
        .await
        .unwrap_err();
    let ChainError::SendUnconfirmed { tx_hash, source } = &error else {
        panic!("{error:?}");
    };
    assert!(
        matches!(**source, ChainError::AllEndpointsFailed { .. }),
        "{source:?}"
    );
    assert!(
        error.to_string().contains("look it up by its hash"),
        "{error}"
    );
    // It did land, once (the resends carried the same bytes), and the hash finds it.
    assert_landed_once(&chain, tx_hash).await;
    chain.shutdown().await;
}

/// NEAR's JSON-RPC error of `cause` (a handler error).
fn handler_error(cause: &str) -> serde_json::Value {
    serde_json::json!({
        "name": "HANDLER_ERROR", "cause": {"name": cause, "info": {}},
        "code": -32000, "message": "Server error", "data": cause,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_timed_out_is_followed_by_hash_through_endpoints_that_fail_for_a_while() {
    let chain = status_chain().await;
    // `send_tx` lands but answers NEAR's TIMEOUT_ERROR; the first polls of `tx` meet an
    // endpoint in trouble (INTERNAL_ERROR), the later ones the outcome.
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = polls.clone();
    let url = common::proxy::proxy_endpoint_replying(chain.url.clone(), move |call| {
        match call["method"].as_str() {
            Some("send_tx") => Reply::Error(handler_error("TIMEOUT_ERROR")),
            Some("tx") if seen.fetch_add(1, Ordering::SeqCst) < 6 => {
                Reply::Error(serde_json::json!({
                    "name": "INTERNAL_ERROR", "cause": {"name": "INTERNAL_ERROR", "info": {}},
                    "code": -32000, "message": "Server error", "data": "busy",
                }))
            }
            _ => Reply::Upstream,
        }
    })
    .await;
    let rpc = NearRpc::new(vec![url], quick_policy()).unwrap();
    let alice = Signer::new(rpc, ALICE.parse().unwrap(), common::key_of(ALICE));
    let outcome = alice
        .send_until(
            "bob.test",
            vec![Action::Transfer { deposit: NEAR }],
            TxWait::ExecutedOptimistic,
        )
        .await
        .unwrap();
    assert!(polls.load(Ordering::SeqCst) > 6);
    assert_landed_once(&chain, &outcome.tx_hash).await;
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_timed_out_and_cannot_be_looked_up_names_its_hash() {
    let chain = status_chain().await;
    // The send timed out, and the endpoint answers polls with an error retrying cannot fix:
    // the transaction may have run, so the caller gets its hash, never a bare error.
    let url = common::proxy::proxy_endpoint_replying(chain.url.clone(), |call| {
        match call["method"].as_str() {
            Some("send_tx") => Reply::Error(handler_error("TIMEOUT_ERROR")),
            Some("tx") => Reply::Error(handler_error("REQUEST_ROUTED")),
            _ => Reply::Upstream,
        }
    })
    .await;
    let rpc = NearRpc::new(vec![url], quick_policy()).unwrap();
    let alice = Signer::new(rpc, ALICE.parse().unwrap(), common::key_of(ALICE));
    let error = alice
        .submit("bob.test", vec![Action::Transfer { deposit: NEAR }])
        .await
        .unwrap_err();
    let ChainError::SendUnconfirmed { tx_hash, .. } = &error else {
        panic!("{error:?}");
    };
    assert_landed_once(&chain, tx_hash).await;
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_probe_that_failed_delivered_nothing() {
    let chain = status_chain().await;
    // The first endpoint cannot be reached, so its chain-id probe fails before any `send_tx`
    // goes out; the next one refuses the transaction. The refusal is final: nothing may have
    // landed (it was read as a send that may have landed, and never signed again).
    let rpc = NearRpc::new(vec![dead_url(), chain.url.clone()], quick_policy()).unwrap();
    rpc.pin_chain_id("localnet").unwrap();
    let key = key_of(ALICE);
    let tx = sdk::wire::Transaction {
        signer_id: ALICE.parse().unwrap(),
        public_key: key.public_key(),
        nonce: 0,
        receiver_id: "bob.test".parse().unwrap(),
        // Read elsewhere: `rpc` starts at its first endpoint.
        block_hash: chain.rpc().final_block_hash().await.unwrap(),
        actions: vec![Action::Transfer { deposit: NEAR }],
    };
    let error = rpc
        .send_tx(&tx.sign(&key), TxWait::Included)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ChainError::InvalidTx(InvalidTxError::InvalidNonce { .. })
        ),
        "{error:?}"
    );
    chain.shutdown().await;
}
