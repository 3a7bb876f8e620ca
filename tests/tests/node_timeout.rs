//! A request nobody serves (registered nodes, none running) times out after 200 blocks: the
//! dApp's callback gets the failure and the fee goes back to the asker.

use e2e_tests::cluster::{Cluster, OracleSettings, USER};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_request_times_out_and_is_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 2,
    };
    // 20 ms blocks: the 200-block yield timeout passes in about 4 s.
    let cluster = Cluster::new(dir.path(), 3, 20, settings).await.unwrap();
    let deployment = &cluster.deployment;
    let balance = || async { deployment.rpc.view_account(USER).await.unwrap().amount };
    let before = balance().await;
    let estimate = deployment
        .view(
            "oracle.test",
            "estimate_fee",
            json!({"model_id": deployment.model_id, "params": {"temperature_milli": 0,
                "top_k": 0, "top_p_milli": 1000, "max_tokens": 8, "seed": "0"},
                "input_bytes": 9}),
        )
        .await
        .unwrap();
    let fee: u128 = estimate["fee"].as_str().unwrap().parse().unwrap();
    deployment.ask("Anybody?!", 8).await.unwrap();
    let question = deployment
        .wait_answer(0, Duration::from_secs(120))
        .await
        .unwrap();
    let reason = question["answer"]["failed"]["reason"]
        .as_str()
        .unwrap_or("");
    assert!(reason.contains("timed out"), "{question}");
    let request = deployment.request(0).await.unwrap();
    assert_eq!(request["status"], "timed_out", "{request}");
    // The asker paid storage and gas, but got the fee back.
    let spent = before - balance().await;
    let storage: u128 = request["storage_deposit"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        spent < storage + fee / 2,
        "spent {spent}, storage {storage}, fee {fee}"
    );
}
