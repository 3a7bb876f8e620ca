//! A request nobody serves times out after 200 blocks: the dApp's callback gets the failure and
//! the fee goes back to the asker. The one node running signs with a bad key (fault injection
//! `bad_signature`): the contract refuses its attestation, and the node ends the job as
//! refused instead of retrying it. One commitment is fewer than the quorum, so the two silent
//! members are not counted as missing it; on a second request a healthy node commits too, and
//! when that request times out the member still silent is jailed (the oracle jails at the first
//! miss here), and so is the faulty node, whose commitment was never revealed — while the
//! healthy node, which revealed, is not. Started then, the silent node unjails itself once its
//! jail time is over.

use e2e_tests::cluster::{succeed, Cluster, OracleSettings, TGAS, USER};
use oracle::journal::{Finished, JobState};
use serde_json::json;
use std::time::{Duration, Instant};

/// Blocks a jailed node waits before it may unjail.
const JAIL_BLOCKS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_request_times_out_and_is_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 2,
    };
    // 50 ms blocks: the 200-block yield timeout passes in about 10 s, time enough for the
    // faulty node to compute and have its attestation refused even on a loaded machine.
    let mut cluster = Cluster::new(dir.path(), 3, 50, settings).await.unwrap();
    let deployment = &cluster.deployment;
    let mut config = deployment
        .view("oracle.test", "get_config", json!({}))
        .await
        .unwrap();
    config["max_missed_commits"] = json!(1);
    config["jail_blocks"] = json!(JAIL_BLOCKS);
    let updated = deployment
        .owner
        .call(
            "oracle.test",
            "update_config",
            &json!({ "config": config }),
            30 * TGAS,
            0,
        )
        .await
        .unwrap();
    succeed(updated, "update_config").unwrap();
    cluster.nodes[0]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_BAD_SIGNATURE", "true")])
        .unwrap();
    // The daemon writes its address once the model is loaded: it is ready before the request.
    cluster.nodes[0]
        .http_addr(Duration::from_secs(120))
        .unwrap();
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
    // The asker paid storage (the oracle's request, the dApp's question) and gas, but got the
    // fee back: the dApp's callback sends it (and its unused gas comes back) in receipts that
    // land a block or more after the answer is stored, so look every 100 ms, for 10 s at most.
    let yocto = |value: &serde_json::Value| value.as_str().unwrap().parse::<u128>().unwrap();
    let storage = yocto(&request["storage_deposit"]) + yocto(&question["storage_deposit"]);
    let refunded_by = Instant::now() + Duration::from_secs(10);
    loop {
        let spent = before - balance().await;
        if spent < storage + fee / 2 {
            break;
        }
        assert!(
            Instant::now() < refunded_by,
            "no refund after 10 s: spent {spent}, storage {storage}, fee {fee}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(request["attested"], json!([]), "{request}");

    let node = &cluster.nodes[0];
    let jobs = node.jobs().await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let JobState::Finished(Finished::Refused(reason)) = &jobs[0].state else {
        panic!(
            "the bad signature was not refused: {jobs:?}\n{}",
            node.log()
        );
    };
    assert!(reason.contains("signature"), "{reason}");
    let log = node.log();
    assert_eq!(
        log.matches("submitting attestation").count(),
        1,
        "sent once, not retried:\n{log}"
    );
    assert!(log.contains("refused: not retrying"), "{log}");

    // Node 0 committed (to its badly signed attestation), fewer than the quorum: nodes 1 and 2
    // are not counted as silent.
    let deployment = &cluster.deployment;
    let entry = |account: &'static str| async move {
        deployment
            .view("oracle.test", "get_node", json!({ "account_id": account }))
            .await
            .unwrap()
    };
    for account in ["node0.test", "node1.test", "node2.test"] {
        let view = entry(account).await;
        assert_eq!(view["status"], "active", "{view}");
        assert_eq!(view["missed_commits"], 0, "{view}");
    }
    // Node 2 serves the next request with node 0: a quorum of commitments (node 0's reveal is
    // refused again, so it times out). Node 1, silent, is jailed, and node 0 too: it committed
    // and never revealed. Node 2 revealed: not counted.
    cluster.nodes[2].start(&[]).unwrap();
    cluster.nodes[2]
        .http_addr(Duration::from_secs(120))
        .unwrap();
    let deployment = &cluster.deployment;
    deployment.ask("Anybody else?", 8).await.unwrap();
    let question = deployment
        .wait_answer(1, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(
        question["answer"]["failed"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("timed out"),
        "{question}"
    );
    let request = deployment.request(1).await.unwrap();
    assert_eq!(
        request["commitments"].as_array().unwrap().len(),
        2,
        "{request}"
    );
    let view = entry("node2.test").await;
    assert_eq!(
        (&view["status"], &view["missed_commits"]),
        (&json!("active"), &json!(0)),
        "{view}"
    );
    for account in ["node0.test", "node1.test"] {
        let view = entry(account).await;
        assert!(view["status"]["jailed"]["until"].is_u64(), "{view}");
        assert_eq!(view["missed_commits"], 1, "{view}");
    }
    // Node 1 starts jailed, says so, and sends unjail_node itself once its time is over.
    let node = &mut cluster.nodes[1];
    node.write_config(|config| config.standing_interval_ms = 200)
        .unwrap();
    node.start(&[]).unwrap();
    let active_by = Instant::now() + Duration::from_secs(120);
    while entry("node1.test").await["status"] != "active" {
        assert!(
            Instant::now() < active_by,
            "node 1 did not unjail itself:\n{}",
            cluster.log_tails(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = cluster.nodes[1].log();
    assert!(log.contains("this node is jailed"), "{log}");
    assert!(log.contains("sending unjail_node"), "{log}");
    assert_eq!(entry("node1.test").await["missed_commits"], 0);
}
