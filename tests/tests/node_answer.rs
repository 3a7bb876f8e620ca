//! Real processes: a localnet chain, three `oracle-node` daemons on the real model. A user asks
//! the example dApp; every committee node computes the same digest, the quorum resolves the
//! request and the dApp's callback stores the answer; `verify` re-executes it.

use e2e_tests::cluster::{Cluster, OracleSettings};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_answer_the_dapp_with_one_digest() {
    let dir = tempfile::tempdir().unwrap();
    // Quorum 3 of 3: the request resolves only once every node attested.
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 3,
    };
    let mut cluster = Cluster::new(dir.path(), 3, 100, settings).await.unwrap();
    let again = cluster.nodes[0].register(10).unwrap();
    assert!(again.contains("already registered"), "{again}");
    for node in &mut cluster.nodes {
        node.start(&[]).unwrap();
    }
    let deployment = &cluster.deployment;
    deployment
        .ask("What is the capital of France?", 12)
        .await
        .unwrap();
    let question = deployment
        .wait_answer(0, Duration::from_secs(240))
        .await
        .unwrap();
    let answered = &question["answer"]["answered"];
    assert!(answered.is_object(), "{question}");
    let request_id = answered["oracle_request_id"].as_u64().unwrap();
    let request = deployment.request(request_id).await.unwrap();
    assert_eq!(request["status"], "resolved", "{request}");
    assert_eq!(request["attested"].as_array().unwrap().len(), 3);
    let resolved_digest = request["answer"]["result_digest"]
        .as_str()
        .unwrap()
        .to_string();

    for node in &cluster.nodes {
        let jobs = node.jobs().await.unwrap();
        assert_eq!(jobs.len(), 1, "{}: {jobs:?}", node.account);
        assert_eq!(
            jobs[0].result_digest.as_deref(),
            Some(resolved_digest.as_str())
        );
        assert_eq!(jobs[0].state.name(), "finished");
    }
    let health: oracle::health::HealthReport = oracle::commands::status::fetch_json(
        &cluster.nodes[0].http_addr(Duration::from_secs(1)).unwrap(),
        "/health",
    )
    .await
    .unwrap();
    assert_eq!(health.status, "ok");
    assert!(health.last_block_height > 0);

    let (status, text) = cluster.nodes[1].run_command(&["status"]).unwrap();
    assert!(status.success(), "{text}");
    let line = |label: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} line: {text}"))
            .trim_start()
    };
    assert_eq!(line("journal:"), r#"{"finished (attested)": 1}"#, "{text}");
    let daemon = line("daemon:");
    let block = daemon
        .strip_prefix("ok — block ")
        .and_then(|rest| rest.strip_suffix(", rpc reachable true, queue depth 0, standing active"))
        .unwrap_or_else(|| panic!("not a healthy, idle daemon: {text}"));
    assert!(block.parse::<u64>().unwrap() > 0, "{text}");

    let (status, text) = cluster.nodes[2]
        .run_command(&["verify", &request_id.to_string()])
        .unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("verified"), "{text}");
}
