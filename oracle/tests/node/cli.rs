//! The `oracle-node` binary as an operator meets it: a second `run` on a home that a node runs
//! with, a home that does not exist, logs written to a file (without a result before its
//! reveal), and `init`'s hint.

use crate::common::{eventually, oracle_node, quiet_node, save_config, spawn_node};
use oracle::daemon::HTTP_ADDR_FILE;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_home_is_refused_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, rpc) = quiet_node(dir.path()).await;
    save_config(dir.path(), &config);
    let (stop, daemon) = spawn_node(dir.path(), config);
    let addr_file = dir.path().join(HTTP_ADDR_FILE);
    eventually("the first node's HTTP address", || {
        std::fs::read_to_string(&addr_file).is_ok_and(|addr| !addr.is_empty())
    })
    .await;
    let addr = std::fs::read_to_string(&addr_file).unwrap();
    let chain_reads = rpc.calls("get_node");

    let started = Instant::now();
    let second = tokio::task::spawn_blocking({
        let home = dir.path().to_path_buf();
        move || {
            oracle_node(["run".as_ref(), "--home".as_ref(), home.as_os_str()])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    let expected = format!(
        "another oracle-node is already running with the home {} (its HTTP server: http://{addr})",
        dir.path().display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
    // It failed first thing: no chain checks, no model.
    assert_eq!(rpc.calls("get_node"), chain_reads, "{stderr}");
    assert!(!stderr.contains("loading the model"), "{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
}

#[test]
fn every_command_on_a_missing_home_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nope");
    let expected = format!(
        "Error: no node home at {0} (no config.toml): create one with \
         `oracle-node init --home {0} --account-id <id>`\n",
        home.display()
    );
    for command in [&["status"][..], &["run"], &["register"], &["verify", "1"]] {
        let output = oracle_node(
            command
                .iter()
                .map(AsRef::as_ref)
                .chain(["--home".as_ref(), home.as_os_str()]),
        )
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command:?}: {stderr}");
        assert_eq!(stderr, expected, "{command:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _, _rpc) = quiet_node(dir.path()).await;
    save_config(dir.path(), &config);
    let log_path = dir.path().join("node.log");
    let mut node = oracle_node(["run".as_ref(), "--home".as_ref(), dir.path().as_os_str()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap();
    let mut running = false;
    for _ in 0..1000 {
        running = log().contains("node running");
        if running || node.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill().unwrap();
    node.wait().unwrap();
    let log = log();
    assert!(running, "the node did not start: {log}");
    assert!(log.contains("loading the model"), "{log}");
    assert!(!log.contains("\x1b["), "{log:?}");
}

#[test]
fn init_says_where_an_existing_accounts_key_goes() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("node1");
    let output = oracle_node([
        "init".as_ref(),
        "--home".as_ref(),
        home.as_os_str(),
        "--account-id".as_ref(),
        "node1.test".as_ref(),
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let register = format!("oracle-node register --home {}", home.display());
    let existing = format!(
        "for an account that already exists, put its credentials file at {} or point account_key at it",
        home.join("keys/account.json").display()
    );
    assert!(stdout.contains(&register), "{stdout}");
    assert!(stdout.contains(&existing), "{stdout}");
}

/// Sends `signal` (`TERM`, `INT`) to process `pid`.
#[cfg(unix)]
fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_signal_exits_at_once_while_the_first_waits_for_the_jobs_in_hand() {
    use crate::common::fake_rpc::FakeRpc;
    use crate::common::{node_home, quiet_chain, registered, request};
    use oracle::config::NodeConfig;
    use oracle_protocol::RequestPhase;
    use serde_json::json;
    use std::io::{BufRead, BufReader};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    // The node's attestation takes long to send: a graceful stop waits for it.
    let rpc = FakeRpc::start(move |method, args| match method {
        "list_pending_assignments" => Ok(crate::common::fake_rpc::assignments(&[request(
            3,
            model_id,
            RequestPhase::Pending,
        )])),
        "get_request" => Ok(request(3, model_id, RequestPhase::Pending)),
        "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
        "query" => Ok(
            json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
            "block_hash": "11111111111111111111111111111111"}),
        ),
        "send_tx" => {
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_secs(6)));
            Err(json!({"name": "INTERNAL_ERROR", "cause": {"name": "INTERNAL_ERROR"}}))
        }
        _ => quiet_chain(node.clone())(method, args),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        rpc_timeout_secs: 30,
        ..config
    };
    save_config(dir.path(), &config);
    let mut node = oracle_node(["run".as_ref(), "--home".as_ref(), dir.path().as_os_str()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The node's log, as it comes.
    let log = Arc::new(Mutex::new(String::new()));
    let reading = {
        let (log, stderr) = (log.clone(), node.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        })
    };
    let log_now = || log.lock().unwrap().clone();
    eventually("the attestation being sent", || rpc.calls("send_tx") > 0).await;
    signal(node.id(), "TERM");
    // The second signal comes once the node is stopping, the job still in hand.
    eventually("the node stopping", || log_now().contains("stopping:")).await;
    assert!(
        node.try_wait().unwrap().is_none(),
        "stopped before the job in hand was done: {}",
        log_now()
    );
    signal(node.id(), "INT");
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || node.wait())
        .await
        .unwrap()
        .unwrap();
    let waited = started.elapsed();
    reading.join().unwrap();
    let log = log_now();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(waited < Duration::from_secs(3), "{log}");
    assert!(log.contains("second signal"), "{log}");
}

/// An API key as providers put it in the path (`/v3/<key>`).
const PATH_KEY: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn status_never_shows_the_api_keys_in_rpc_urls() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, _, rpc) = runtime.block_on(quiet_node(dir.path()));
    let live = rpc.url.replace("http://", "http://user:PASSWORD@");
    let config = oracle::config::NodeConfig {
        // A dead endpoint first: its failure is logged and failed over.
        rpc_urls: vec![
            format!("http://127.0.0.1:1/v3/{PATH_KEY}?apiKey=SECRET"),
            format!("{live}/?apiKey=SECRET"),
        ],
        rpc_attempts: 2,
        ..config
    };
    save_config(dir.path(), &config);
    let output = oracle_node(["status".as_ref(), "--home".as_ref(), dir.path().as_os_str()])
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(shown.contains("on chain:  stake"), "{shown}");
    assert!(shown.contains("RPC attempt failed"), "{shown}");
    for secret in ["SECRET", "PASSWORD", "user", PATH_KEY] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

/// The `result digest:` line of an `oracle-node infer` run with `args`.
fn infer_digest(args: &[&std::ffi::OsStr]) -> String {
    let output = oracle_node(
        ["infer".as_ref(), "the capital of France".as_ref()]
            .into_iter()
            .chain(args.iter().copied())
            .chain(["--max-tokens".as_ref(), "4".as_ref()]),
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find(|line| line.starts_with("result digest:"))
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_string()
}

#[test]
fn infer_with_a_home_runs_as_that_node_would() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, _, _rpc) = runtime.block_on(quiet_node(dir.path()));
    let config = oracle::config::NodeConfig {
        oracle_contract: "other-oracle.test".into(),
        threads: 0,
        ..config
    };
    save_config(dir.path(), &config);
    let model = dir.path().join("tiny.gguf");
    let as_the_node = infer_digest(&["--home".as_ref(), dir.path().as_os_str()]);
    let spelled_out = infer_digest(&[
        "--model".as_ref(),
        model.as_os_str(),
        "--chain-id".as_ref(),
        crate::common::CHAIN_ID.as_ref(),
        "--oracle-contract".as_ref(),
        "other-oracle.test".as_ref(),
    ]);
    assert_eq!(as_the_node, spelled_out);
    let defaults = infer_digest(&["--model".as_ref(), model.as_os_str()]);
    assert_ne!(as_the_node, defaults, "bound to localnet and oracle.test");
}

/// The log says nothing of a result before its reveal: whoever reads it (a log shipper, another
/// user of the machine) could commit to this node's answer without computing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_shows_no_result_before_it_is_revealed() {
    use crate::common::fake_rpc::{self, FakeRpc};
    use crate::common::{node_home, quiet_chain, registered, uncommitted_request};
    use oracle::config::NodeConfig;
    use oracle_protocol::{RequestParams, RequestPhase};
    use sdk::inference::{engine_request, RequestKey};
    use serde_json::json;
    use sha2::{Digest, Sha256};

    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let node = registered(dir.path(), &config, vec![model_id]);
    let view = uncommitted_request(3, model_id, RequestPhase::Pending);
    let rpc = FakeRpc::start({
        let view = view.clone();
        move |method, args| match method {
            "list_pending_assignments" => Ok(fake_rpc::assignments(std::slice::from_ref(&view))),
            "get_request" => Ok(view.clone()),
            "get_config" => Ok(
                json!({"committee_size": 1, "quorum": 1, "min_stake": "1", "unbonding_blocks": 1000,
                "slash_bps": 1000, "reporter_bps": 5000, "max_output_bytes": 4096,
                "max_inline_output_bytes": 4096, "retention_blocks": 100,
                "commit_window_blocks": 40}),
            ),
            "block" => Ok(json!({"header": {"hash": "11111111111111111111111111111111"}})),
            "query" => Ok(
                json!({"nonce": 5, "permission": "FullAccess", "block_height": 1,
                "block_hash": "11111111111111111111111111111111"}),
            ),
            "send_tx" => {
                Err(json!({"name": "INTERNAL_ERROR", "cause": {"name": "INTERNAL_ERROR"}}))
            }
            _ => quiet_chain(node.clone())(method, args),
        }
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    save_config(dir.path(), &config);
    let log_path = dir.path().join("node.log");
    let mut running = oracle_node(["run".as_ref(), "--home".as_ref(), dir.path().as_os_str()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap();
    let mut committing = false;
    for _ in 0..1000 {
        committing = log().contains("committing to the attestation");
        if committing || running.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.kill().unwrap();
    running.wait().unwrap();
    let log = log();
    assert!(committing, "the node did not commit: {log}");

    let (engine, _) = oracle::engine::load(dir.path(), &config).unwrap();
    let params: RequestParams = serde_json::from_value(view["params"].clone()).unwrap();
    let key = RequestKey {
        chain_id: crate::common::CHAIN_ID,
        oracle_contract: &config.oracle_contract,
        request_id: 3,
    };
    let generation = engine
        .generate(&engine_request(&key, view["input"].as_str().unwrap(), &params).unwrap())
        .unwrap();
    let digest = hex::encode(generation.digest);
    let output_hash = hex::encode(Sha256::digest(generation.text.as_bytes()));
    assert!(!log.contains(&digest), "the result digest in {log}");
    assert!(!log.contains(&output_hash), "the output hash in {log}");
}
