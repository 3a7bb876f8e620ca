//! The `oracle-client` command end to end against the oracle on a local chain: list, price, ask
//! (answered by scripted nodes while the command waits), read and verify.

mod common;

use common::key_of;
use common::oracle_net::{deploy, params, ORACLE};
use oracle_protocol::Digest32;
use sdk::wire::Credentials;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn client(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oracle-client"));
    command
        .env_clear()
        .env("ORACLE_RPC", url)
        .env("ORACLE_CONTRACT", ORACLE)
        .args(args);
    command
}

/// Alice's NEAR credentials file, written in `dir`.
fn alice_credentials(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("alice.test.json");
    Credentials::new("alice.test".parse().unwrap(), &key_of("alice.test"))
        .write(&path)
        .unwrap();
    path
}

fn text(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_get_and_verify_from_the_command_line() {
    let model_id = Digest32([42; 32]);
    let net = deploy(model_id).await;
    let url = net.chain.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let credentials = alice_credentials(dir.path());

    let models = text(&client(&url, &["models"]).output().unwrap());
    assert!(models.contains(&model_id.to_string()), "{models}");
    let nodes = text(&client(&url, &["nodes"]).output().unwrap());
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    let fee = text(
        &client(&url, &["fee", "--max-tokens", "8"])
            .output()
            .unwrap(),
    );
    assert!(fee.contains("total"), "{fee}");

    // No credentials: a clear refusal.
    let refused = client(&url, &["ask", "hi"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--credentials"));

    let mut asking = client(
        &url,
        &[
            "ask",
            "What is 2+2?",
            "--max-tokens",
            "8",
            "--wait-secs",
            "60",
        ],
    )
    .env("ORACLE_CREDENTIALS", &credentials)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Play the committee once the request exists; a command that gave up first is a failure
    // with its own words, not a wait without end.
    let deadline = Instant::now() + Duration::from_secs(60);
    let request = loop {
        let pending = net.client.list_pending_requests(0, 10).await.unwrap();
        if let Some(request) = pending.into_iter().next() {
            break request;
        }
        if let Some(status) = asking.try_wait().unwrap() {
            let mut stderr = String::new();
            asking
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("oracle-client ask exited ({status}) before its request was pending: {stderr}");
        }
        assert!(
            Instant::now() < deadline,
            "no pending request 60 s after oracle-client ask started"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let digest = Digest32([7; 32]);
    // Every member (the committee may not be drawn yet: `committee_attests` waits for it).
    net.committee_attests(request.request_id, usize::MAX, model_id, "4", digest)
        .await;
    let asked = tokio::task::spawn_blocking(move || asking.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let asked = text(&asked);
    assert!(asked.contains("answer: 4"), "{asked}");
    assert!(asked.contains(&digest.to_string()), "{asked}");
    // The quorum's two at least (the third may land after the answer is printed).
    assert!(asked.matches("attestation ").count() >= 2, "{asked}");

    let id = request.request_id.to_string();
    let got = text(&client(&url, &["get", &id]).output().unwrap());
    assert!(
        got.contains("What is 2+2?") && got.contains("answer: 4"),
        "{got}"
    );
    let verified = text(&client(&url, &["verify", &id]).output().unwrap());
    assert!(
        verified.contains("verified request")
            && verified.contains("3 of quorum 2")
            && verified.contains("UNPINNED")
            && verified.contains("--min-quorum pins"),
        "{verified}"
    );
    // No signature covers the quorum: --min-quorum pins the least one to accept.
    let at_least_two = ["verify", &id, "--min-quorum", "2"];
    let verified = text(&client(&url, &at_least_two).output().unwrap());
    assert!(!verified.contains("--min-quorum pins"), "{verified}");
    let at_least_three = client(&url, &["verify", &id, "--min-quorum", "3"])
        .output()
        .unwrap();
    assert!(!at_least_three.status.success());
    assert!(String::from_utf8_lossy(&at_least_three.stderr).contains("below the --min-quorum 3"));
    // Against keys and a chain id obtained elsewhere (pinned), not the endpoint's.
    let keys: serde_json::Map<String, serde_json::Value> = net
        .client
        .list_nodes(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|node| (node.account_id, node.attestation_key.into()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("node-keys.json");
    std::fs::write(&keys_file, serde_json::Value::Object(keys).to_string()).unwrap();
    let keys_arg = keys_file.to_str().unwrap();
    let pinned = [
        "verify",
        &id,
        "--node-keys",
        keys_arg,
        "--chain-id",
        "localnet",
    ];
    let verified = text(&client(&url, &pinned).output().unwrap());
    assert!(
        verified.contains("against pinned node keys and chain `localnet`")
            && verified.contains("3 of quorum 2")
            && !verified.contains("UNPINNED"),
        "{verified}"
    );
    let other_chain = [
        "verify",
        &id,
        "--node-keys",
        keys_arg,
        "--chain-id",
        "mainnet",
    ];
    let refused = client(&url, &other_chain).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not verify"));
    let half = client(&url, &["verify", &id, "--node-keys", keys_arg])
        .output()
        .unwrap();
    assert!(!half.status.success());
    assert!(String::from_utf8_lossy(&half.stderr).contains("--chain-id"));
    // A truncated answer: the signed hash covers the whole output, which the chain does not
    // return, so the shown prefix is not verified without re-running the request.
    let long = net
        .client
        .request(&model_id, "Write a long story.", &params())
        .await
        .unwrap();
    let story = "once upon a time ".repeat(120);
    net.committee_attests(long.request_id, usize::MAX, model_id, &story, digest)
        .await;
    long.wait(Duration::from_secs(60)).await.unwrap();
    let truncated = client(&url, &["verify", &long.request_id.to_string()])
        .output()
        .unwrap();
    assert!(!truncated.status.success());
    assert!(
        String::from_utf8_lossy(&truncated.stderr).contains("Run with --reexecute"),
        "{}",
        String::from_utf8_lossy(&truncated.stderr)
    );
    let unknown = client(&url, &["verify", "999"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("does not exist"));
    net.chain.shutdown().await;
}

/// The walkthrough's command line: chain options before the subcommand, `--credentials` after
/// it; the file is missing, which is said once, on one line, with the option that named it.
#[test]
fn a_missing_credentials_file_after_the_subcommand_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("bob.test.json");
    let output = Command::new(env!("CARGO_BIN_EXE_oracle-client"))
        .env_clear()
        .args(["--rpc", "http://127.0.0.1:3030", "--oracle", "oracle.test"])
        .args(["ask", "hi", "--credentials"])
        .arg(&missing)
        .args(["--max-tokens", "4"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "Error: cannot read the credentials file {}: No such file or directory \
             (from --credentials / ORACLE_CREDENTIALS)",
            missing.display()
        )
    );
}

/// The walkthrough's wrong RPC path: the server answers 404 with nothing; the message says the
/// body is empty and where NEAR serves JSON-RPC.
#[test]
fn a_wrong_rpc_path_says_the_body_is_empty_and_hints() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/rpc", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer);
            let _ = socket.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let output = client(&url, &["models"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "Error: {url}: HTTP 404 with an empty body: is this a NEAR JSON-RPC endpoint? \
             (NEAR serves JSON-RPC at the URL's root path)"
        )
    );
}

/// `call` and `view` drive any contract: Alice registers as a node (deposit, JSON arguments,
/// the event and return value printed), sees herself with `view` (no `--oracle` needed), and a
/// call the contract refuses fails with the contract's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_view_drive_any_contract_method() {
    let model_id = Digest32([42; 32]);
    let net = deploy(model_id).await;
    let url = net.chain.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let credentials = alice_credentials(dir.path());
    let credentials = credentials.to_str().unwrap();
    let key = key_of("bob.test").public_key().to_string();
    let args = format!(r#"{{"attestation_key":"{key}","models":["{model_id}"]}}"#);
    let call = |args: &[&str]| {
        let mut command = client(&url, args);
        command.env_remove("ORACLE_CONTRACT");
        command.output().unwrap()
    };

    let registered = call(&[
        "--credentials",
        credentials,
        "call",
        ORACLE,
        "register_node",
        &args,
        "--deposit",
        "6.5",
        "--tgas",
        "100",
    ]);
    let printed = text(&registered);
    assert!(printed.starts_with("tx "), "{printed}");
    assert!(printed.contains("event node_registered"), "{printed}");
    assert!(
        printed.contains("\"account_id\": \"alice.test\""),
        "{printed}"
    );

    let viewed = text(&call(&[
        "view",
        ORACLE,
        "get_node",
        r#"{"account_id":"alice.test"}"#,
    ]));
    assert!(viewed.contains(&key), "{viewed}");

    let refused = call(&[
        "--credentials",
        credentials,
        "call",
        ORACLE,
        "register_node",
        &args,
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("oracle.test.register_node failed")
            && stderr.contains("alice.test is already registered as a node"),
        "{stderr}"
    );
    let unsigned = call(&["call", ORACLE, "unregister_node"]);
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("give --credentials"));
}

/// `--rpc` and `--oracle` are required (before or after the subcommand): a command without one
/// exits with clap's usage status and names it. The environment is cleared, so an
/// `ORACLE_RPC` or `ORACLE_CONTRACT` of the developer's cannot stand in for the missing option.
#[test]
fn missing_chain_options_are_refused_by_name() {
    let refused = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_oracle-client"))
            .env_clear()
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let no_oracle = refused(&["models", "--rpc", "http://127.0.0.1:3030"]);
    assert!(
        no_oracle.starts_with(
            "error: --oracle <ACCOUNT> (or ORACLE_CONTRACT) is required \
             (before or after the subcommand)"
        ),
        "{no_oracle}"
    );
    let no_rpc = refused(&["--oracle", "oracle.test", "nodes"]);
    assert!(
        no_rpc.starts_with(
            "error: --rpc <URL> (or ORACLE_RPC) is required (before or after the subcommand)"
        ),
        "{no_rpc}"
    );
    // `call` names its own contract: only the RPC endpoint is required.
    let call = refused(&["call", "oracle.test", "unregister_node"]);
    assert!(call.starts_with("error: --rpc <URL>"), "{call}");
}
