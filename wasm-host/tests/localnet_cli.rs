//! The `localnet` binary: genesis keys in NEAR's credentials format, a chain that survives
//! `kill -9` with every committed block intact (and nothing of a half-made one), and `reset`.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasm_host::chain::ONE_NEAR;
use wasm_host::rpc::{ClientError, RpcClient};
use wasm_host::tx::{Action, Credentials, SecretKey, SignedTransaction, Transaction};
use wasm_host::views::{base64, hash58, parse_hash58};

/// A running `localnet`, killed with SIGKILL when dropped (so a failing test leaves none).
struct Running(Child);

impl Running {
    /// `kill -9`, and reap it.
    fn kill9(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `localnet run` on `dir` with 50 ms blocks and genesis accounts `alice.test` (100
/// NEAR) and `bob.test` (1000); returns it and its RPC address.
fn start(dir: &Path) -> (Running, std::net::SocketAddr) {
    start_with(dir, &[])
}

/// As [`start`], with `more` genesis accounts.
fn start_with(dir: &Path, more: &[&str]) -> (Running, std::net::SocketAddr) {
    let addr_file = dir.join("rpc.addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_localnet"))
            .args(["run", "--data-dir"])
            .arg(dir)
            .args(["--rpc-addr", "127.0.0.1:0", "--block-time-ms", "50"])
            .args([
                "--genesis-account",
                "alice.test:100",
                "--genesis-account",
                "bob.test",
            ])
            .args(more.iter().flat_map(|name| ["--genesis-account", name]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("localnet starts"),
    );
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&addr_file) {
            if let Ok(addr) = text.parse() {
                return (child, addr);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "localnet did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Alice {
    client: RpcClient,
    key: SecretKey,
}

impl Alice {
    async fn view(&self, request: Value) -> Value {
        self.client.call("query", request).await.unwrap()
    }

    async fn nonce(&self) -> u64 {
        let key = self.key.public_key().to_string();
        let view = self
            .view(
                json!({"request_type": "view_access_key", "finality": "final",
                          "account_id": "alice.test", "public_key": key}),
            )
            .await;
        view["nonce"].as_u64().unwrap()
    }

    async fn balance(&self, account: &str) -> u128 {
        let view = self
            .view(
                json!({"request_type": "view_account", "finality": "final", "account_id": account}),
            )
            .await;
        view["amount"].as_str().unwrap().parse().unwrap()
    }

    async fn transfer(&self, nonce: u64) -> SignedTransaction {
        let block = self
            .client
            .call("block", json!({"finality": "final"}))
            .await
            .unwrap();
        Transaction {
            signer_id: "alice.test".parse().unwrap(),
            public_key: self.key.public_key(),
            nonce,
            receiver_id: "bob.test".parse().unwrap(),
            block_hash: parse_hash58(block["header"]["hash"].as_str().unwrap()).unwrap(),
            actions: vec![Action::Transfer { deposit: ONE_NEAR }],
        }
        .sign(&self.key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_survives_kill_9_and_resets() {
    let dir = tempfile::tempdir().unwrap();
    let (node, addr) = start(dir.path());
    let (credentials, key) = Credentials::read(&dir.path().join("keys/alice.test.json")).unwrap();
    assert_eq!(credentials.account_id.as_str(), "alice.test");
    assert!(credentials.private_key.starts_with("ed25519:"));
    let alice = Alice {
        client: RpcClient::new(addr),
        key,
    };
    assert_eq!(alice.balance("alice.test").await, 100 * ONE_NEAR);
    assert_eq!(alice.balance("bob.test").await, 1000 * ONE_NEAR);
    let mut committed = Vec::new();
    for nonce in 1..=3 {
        let signed = alice.transfer(nonce).await;
        let outcome = alice
            .client
            .call("broadcast_tx_commit", json!([base64(&signed.to_bytes())]))
            .await
            .unwrap();
        assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
        committed.push((signed.hash(), outcome));
    }
    // More transfers, then kill -9 while blocks are being made.
    let mut sent = Vec::new();
    for nonce in 4..=40 {
        let signed = alice.transfer(nonce).await;
        let hash = alice
            .client
            .call("broadcast_tx_async", json!([base64(&signed.to_bytes())]))
            .await
            .unwrap();
        assert_eq!(hash, hash58(&signed.hash()));
        sent.push(signed.hash());
    }
    node.kill9();

    let (node, addr) = start(dir.path());
    let alice = Alice {
        client: RpcClient::new(addr),
        key: alice.key,
    };
    for (hash, outcome) in &committed {
        let fetched = alice
            .client
            .call("tx", json!([hash58(hash), "alice.test"]))
            .await
            .unwrap();
        assert_eq!(&fetched, outcome);
    }
    // Every block is whole: the transfers it included run (those of the last block before the
    // kill in the block after it, as on NEAR: their receipts were stored with it), those after
    // it left no trace.
    let included = alice.nonce().await - 3;
    let expected = (1003 + u128::from(included)) * ONE_NEAR;
    let waiting = Instant::now();
    while alice.balance("bob.test").await != expected {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "bob has {} yoctoNEAR, not {expected}",
            alice.balance("bob.test").await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, hash) in sent.iter().enumerate() {
        // At level NONE: at the others an unknown transaction is waited for, then times out.
        let status = alice
            .client
            .call(
                "tx",
                json!({"tx_hash": hash58(hash), "sender_account_id": "alice.test",
                    "wait_until": "NONE"}),
            )
            .await;
        match status {
            Ok(outcome) => {
                assert!(
                    (i as u64) < included,
                    "tx {i} ran but nonce says {included}"
                );
                assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
            }
            Err(ClientError::Rpc(error)) => {
                assert!((i as u64) >= included, "tx {i} lost: {error}");
                assert_eq!(error["cause"]["name"], "UNKNOWN_TRANSACTION");
            }
            Err(other) => panic!("{other}"),
        }
    }
    // The chain goes on.
    let next = alice.transfer(4 + included).await;
    let outcome = alice
        .client
        .call("broadcast_tx_commit", json!([base64(&next.to_bytes())]))
        .await
        .unwrap();
    assert_eq!(outcome["status"], json!({"SuccessValue": ""}));
    node.kill9();

    let reset = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["reset", "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(reset.success());
    let (node, addr) = start(dir.path());
    let alice = Alice {
        client: RpcClient::new(addr),
        key: alice.key,
    };
    assert_eq!(alice.balance("bob.test").await, 1000 * ONE_NEAR);
    assert_eq!(alice.nonce().await, 0, "a new chain, with the same keys");
    node.kill9();
}

/// `localnet reset --data-dir dir`: whether it succeeded, and its log.
fn reset(dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["reset", "--data-dir"])
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_written_only_for_accounts_the_chain_has_and_reset_waits_for_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (node, addr) = start(dir.path());
    // A running chain is not deleted from under its node.
    let (deleted, log) = reset(dir.path());
    assert!(!deleted, "{log}");
    assert!(log.contains("in use by a running node"), "{log}");
    assert!(dir.path().join("chain.redb").exists());
    let client = RpcClient::new(addr);
    assert!(client.call("status", json!([])).await.is_ok());
    node.kill9();
    // The chain exists: an account named now is not created, so no key is written for it.
    let (node, addr) = start_with(dir.path(), &["carol.test"]);
    assert!(!dir.path().join("keys/carol.test.json").exists());
    let Err(ClientError::Rpc(error)) = RpcClient::new(addr)
        .call(
            "query",
            json!({"request_type": "view_account", "finality": "final", "account_id": "carol.test"}),
        )
        .await
    else {
        panic!("carol.test is not on the chain")
    };
    assert_eq!(error["cause"]["name"], "UNKNOWN_ACCOUNT");
    node.kill9();
    // Stopped (even by kill -9): reset deletes the chain and the stale address.
    assert!(dir.path().join("rpc.addr").exists());
    let (deleted, log) = reset(dir.path());
    assert!(deleted, "{log}");
    assert!(!dir.path().join("chain.redb").exists());
    assert!(!dir.path().join("rpc.addr").exists());
    assert!(dir.path().join("keys/alice.test.json").exists());
}

/// `localnet run` on `dir` with genesis account `alice.test`, expected to fail at once: its log.
fn run_failing(dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["run", "--data-dir"])
        .arg(dir)
        .args([
            "--rpc-addr",
            "127.0.0.1:0",
            "--genesis-account",
            "alice.test",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{log}");
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_chain_is_created_with_a_key_that_could_not_be_saved() {
    let dir = tempfile::tempdir().unwrap();
    // `keys` is a file: no key can be written under it.
    std::fs::write(dir.path().join("keys"), "").unwrap();
    let log = run_failing(dir.path());
    assert!(log.contains("keys"), "{log}");
    std::fs::remove_file(dir.path().join("keys")).unwrap();
    // The chain was not created: now it is, with the key written this time.
    let (node, addr) = start(dir.path());
    let (_, key) = Credentials::read(&dir.path().join("keys/alice.test.json")).unwrap();
    let alice = Alice {
        client: RpcClient::new(addr),
        key,
    };
    assert_eq!(alice.nonce().await, 0, "alice.test holds the key written");
    node.kill9();
    // A key file lost later is reported as such, not as an account the chain lacks.
    std::fs::remove_file(dir.path().join("keys/bob.test.json")).unwrap();
    let (log, node) = start_logged(dir.path());
    node.kill9();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("key file missing; the on-chain key is unknown") && log.contains("bob.test"),
        "{log}"
    );
    assert!(!log.contains("the chain exists without"), "{log}");
    assert!(!dir.path().join("keys/bob.test.json").exists());
}

/// As [`start`], logging to `dir/node.log`; returns the log's path once the node serves.
fn start_logged(dir: &Path) -> (std::path::PathBuf, Running) {
    let log = dir.join("node.log");
    let addr_file = dir.join("rpc.addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = Running(
        Command::new(env!("CARGO_BIN_EXE_localnet"))
            .args(["run", "--data-dir"])
            .arg(dir)
            .args(["--rpc-addr", "127.0.0.1:0"])
            .args([
                "--genesis-account",
                "alice.test",
                "--genesis-account",
                "bob.test",
            ])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("localnet starts"),
    );
    let started = Instant::now();
    while !addr_file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "localnet did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (log, child)
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["reset", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("no chain to delete"), "{log}");
    assert!(!log.contains("\x1b["), "{log:?}");
}
