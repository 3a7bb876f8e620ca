//! A byzantine node (fault injection `corrupt_output`) commits to and attests a different
//! result; the two honest nodes outvote it, the request resolves to their answer and the liar
//! is slashed.

use e2e_tests::cluster::{Cluster, OracleSettings};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_node_is_outvoted_and_slashed() {
    let dir = tempfile::tempdir().unwrap();
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 2,
    };
    // 200 ms blocks: a 30 s commit window, room for the liar to start and commit last.
    let mut cluster = Cluster::new(dir.path(), 3, 200, settings).await.unwrap();
    let deployment = &cluster.deployment;
    let liar = cluster.nodes[0].account.clone();
    let stake_before = deployment.stake(&liar).await.unwrap();
    // Commit–reveal: the honest nodes commit first and read the request every 3 s; the liar
    // commits last, which opens the reveal phase, and reveals at once, so its attestation is
    // on chain before the honest nodes' reveals (up to 3 s later) complete the quorum.
    for node in &mut cluster.nodes[1..] {
        node.start(&[("ORACLE_NODE_POLL_INTERVAL_MS", "3000")])
            .unwrap();
    }
    deployment.ask("Name a primary colour.", 8).await.unwrap();
    deployment
        .wait_request(0, Duration::from_secs(180), |r| {
            r["commitments"].as_array().is_some_and(|c| c.len() == 2)
        })
        .await
        .unwrap();
    cluster.nodes[0]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_CORRUPT_OUTPUT", "true")])
        .unwrap();
    let request = deployment
        .wait_request(0, Duration::from_secs(180), |r| r["status"] == "resolved")
        .await
        .unwrap();
    assert_eq!(request["slashed"], json!([liar]), "{request}");
    let stake_after = deployment.stake(&liar).await.unwrap();
    assert_eq!(
        stake_after,
        stake_before - stake_before / 10,
        "slash_bps 1000"
    );
    let answer = deployment
        .wait_answer(0, Duration::from_secs(30))
        .await
        .unwrap();
    let output = answer["answer"]["answered"]["output"].as_str().unwrap();
    assert!(!output.contains("[corrupted]"), "{answer}");
    assert!(cluster.nodes[0].log().contains("FAULT INJECTION"));
    let honest = cluster.nodes[1].jobs().await.unwrap();
    assert_eq!(
        honest[0].result_digest.as_deref(),
        request["answer"]["result_digest"].as_str()
    );
}
