//! A byzantine node (fault injection `corrupt_output`) attests a different result; the two
//! honest nodes outvote it, the request resolves to their answer and the liar is slashed.

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
    let mut cluster = Cluster::new(dir.path(), 3, 100, settings).await.unwrap();
    let deployment = &cluster.deployment;
    let liar = cluster.nodes[0].account.clone();
    let stake_before = deployment.stake(&liar).await.unwrap();
    // The liar runs first, so its attestation is on chain before the quorum forms.
    cluster.nodes[0]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_CORRUPT_OUTPUT", "true")])
        .unwrap();
    deployment.ask("Name a primary colour.", 8).await.unwrap();
    deployment
        .wait_request(0, Duration::from_secs(180), |r| {
            r["attested"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(liar)))
        })
        .await
        .unwrap();
    for node in &mut cluster.nodes[1..] {
        node.start(&[]).unwrap();
    }
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
