//! `oracle-node verify` against a scripted chain where a request resolved: the answer the local
//! re-execution reproduces is verified (exit 0); an answer whose result digest, or whose output,
//! is not what the engine gives is a MISMATCH (exit 1); one it could not check is an error
//! (exit 2).

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{node_home, oracle_node, request, save_config, CHAIN_ID};
use oracle::config::NodeConfig;
use oracle_protocol::{Digest32, RequestParams, RequestPhase, ResolvedOutput};
use sdk::inference::{engine_request, RequestKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

const REQUEST_ID: u64 = 7;
const VERIFIED: &str = "verified: the local re-execution gives the quorum's digest";
const MISMATCH: &str = "MISMATCH: the local re-execution differs from the quorum's answer";

/// `text` as a resolved answer with `result_digest`: its hash and length are `text`'s own.
fn answer(text: &str, result_digest: Digest32) -> ResolvedOutput {
    ResolvedOutput {
        output: text.to_string(),
        output_truncated: false,
        output_bytes: u32::try_from(text.len()).unwrap(),
        result_digest,
        output_hash: Digest32(Sha256::digest(text.as_bytes()).into()),
    }
}

/// The answer a node with `config` computes for the request `view`.
fn computed_answer(home: &Path, config: &NodeConfig, view: &Value) -> ResolvedOutput {
    let (engine, _) = oracle::engine::load(home, config).unwrap();
    let params: RequestParams = serde_json::from_value(view["params"].clone()).unwrap();
    let key = RequestKey {
        chain_id: CHAIN_ID,
        oracle_contract: &config.oracle_contract,
        request_id: REQUEST_ID,
    };
    let input = view["input"].as_str().unwrap();
    let generation = engine
        .generate(&engine_request(&key, input, &params).unwrap())
        .unwrap();
    answer(&generation.text, Digest32(generation.digest))
}

/// `oracle-node verify` of the request `view`, resolved with `resolved`, on a chain that
/// answers only `status` and that request: its exit code and standard output.
async fn verify(
    home: &Path,
    config: &NodeConfig,
    view: &Value,
    resolved: &ResolvedOutput,
) -> (Option<i32>, String) {
    let mut view = view.clone();
    view["answer"] = serde_json::to_value(resolved).unwrap();
    let rpc = FakeRpc::start(move |method, args| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_request" if args["request_id"] == REQUEST_ID => Ok(view.clone()),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await;
    save_config(
        home,
        &NodeConfig {
            rpc_urls: vec![rpc.url.clone()],
            ..config.clone()
        },
    );
    let mut command = oracle_node([
        "verify".as_ref(),
        REQUEST_ID.to_string().as_ref(),
        "--home".as_ref(),
        home.as_os_str(),
    ]);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.starts_with(&format!("request {REQUEST_ID}\n")),
        "{stdout}\n{stderr}"
    );
    (output.status.code(), stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_answer_the_engine_does_not_reproduce_is_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());
    let view = request(REQUEST_ID, model_id, RequestPhase::Resolved);
    let computed = computed_answer(dir.path(), &config, &view);

    // The engine's own answer: verified.
    let (code, stdout) = verify(dir.path(), &config, &view, &computed).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains(VERIFIED), "{stdout}");
    assert!(!stdout.contains("MISMATCH"), "{stdout}");

    // The same output under another result digest.
    let mut digest = computed.result_digest;
    digest.0[0] ^= 1;
    let wrong_digest = answer(&computed.output, digest);
    let (code, stdout) = verify(dir.path(), &config, &view, &wrong_digest).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains(MISMATCH), "{stdout}");
    assert!(!stdout.contains(VERIFIED), "{stdout}");

    // The engine's digest with another output (and that output's hash).
    let other_output = format!("{} — or so they say", computed.output);
    let wrong_output = answer(&other_output, computed.result_digest);
    let (code, stdout) = verify(dir.path(), &config, &view, &wrong_output).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains(MISMATCH), "{stdout}");
    assert!(
        stdout.contains("or so they say"),
        "the chain's output is shown: {stdout}"
    );
    assert!(!stdout.contains(VERIFIED), "{stdout}");
}

/// A verify that could not check (here: no RPC endpoint answers) exits with 2, not the 1 of a
/// mismatch, after the config's RPC attempts (not the client's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_that_cannot_check_exits_with_2_after_the_configured_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = node_home(dir.path(), Vec::new());
    let failing = FakeRpc::start(|_, _| {
        Err(serde_json::json!({"name": "INTERNAL_ERROR", "cause": {"name": "INTERNAL_ERROR"}}))
    })
    .await;
    for rpc_urls in [
        vec!["http://127.0.0.1:1".to_string()],
        vec![failing.url.clone()],
    ] {
        save_config(
            dir.path(),
            &NodeConfig {
                rpc_urls,
                rpc_attempts: 2,
                ..config.clone()
            },
        );
        let mut command = oracle_node([
            "verify".as_ref(),
            REQUEST_ID.to_string().as_ref(),
            "--home".as_ref(),
            dir.path().as_os_str(),
        ]);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("Error: "), "{stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains(MISMATCH));
    }
    assert_eq!(failing.calls("status"), 2, "rpc_attempts = 2");
}
