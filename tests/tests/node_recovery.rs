//! kill -9 recovery: a node that aborts right after sending its attestation (fault injection
//! `crash_after = "submit"`), one that aborts right after journaling its result
//! (`crash_after = "compute"`), one that aborts between its commitment and its reveal
//! (`crash_after = "commit"`) and one killed with SIGKILL mid-job are restarted; each finishes
//! its job with exactly one commitment and one attestation on chain and no refused duplicate. Then SIGTERM stops a
//! node promptly with status 0 and its journal consistent.

use e2e_tests::cluster::{Cluster, OracleSettings};
use oracle::journal::{Finished, JobState};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_nodes_resume_without_losing_or_repeating_work() {
    let dir = tempfile::tempdir().unwrap();
    // Quorum 4 of 4: the request resolves only if every node (every crashed one) attests.
    let settings = OracleSettings {
        committee_size: 4,
        quorum: 4,
    };
    // 200 ms blocks: a 30 s commit window, room for the restarted nodes to load their model.
    let mut cluster = Cluster::new(dir.path(), 4, 200, settings).await.unwrap();
    cluster.nodes[0]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_CRASH_AFTER", "submit")])
        .unwrap();
    cluster.nodes[1].start(&[]).unwrap();
    cluster.nodes[2]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_CRASH_AFTER", "compute")])
        .unwrap();
    cluster.nodes[3]
        .start(&[("ORACLE_NODE_FAULT_INJECTION_CRASH_AFTER", "commit")])
        .unwrap();
    cluster
        .deployment
        .ask("What is two plus two?", 8)
        .await
        .unwrap();

    // node1: SIGKILL as soon as it has journaled the job (mid-job), then restart.
    let started = Instant::now();
    let jobs = loop {
        if let Ok(jobs) = cluster.nodes[1].jobs().await {
            if !jobs.is_empty() {
                break jobs;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "node1 took no job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        jobs.iter().all(|job| job.state.name() != "finished"),
        "node1 finished its job before the SIGKILL could interrupt it: {jobs:?}"
    );
    cluster.nodes[1].process().kill9();
    cluster.nodes[1].start(&[]).unwrap();

    // node2 aborts by itself once its result is journaled; restarted, it commits to that
    // result and submits it.
    let exited = cluster.nodes[2]
        .process()
        .wait_exit(Duration::from_secs(180))
        .expect("node2 aborts after computing");
    assert!(!exited.success());
    cluster.nodes[2].start(&[]).unwrap();
    // node3 aborts once its commitment is on chain and journaled; restarted, it reveals.
    let exited = cluster.nodes[3]
        .process()
        .wait_exit(Duration::from_secs(180))
        .expect("node3 aborts after committing");
    assert!(!exited.success());
    cluster.nodes[3].start(&[]).unwrap();
    // node0 aborts by itself after sending its attestation (once all committed and the reveal
    // opened); restart it without the fault.
    let exited = cluster.nodes[0]
        .process()
        .wait_exit(Duration::from_secs(180))
        .expect("node0 aborts after submitting");
    assert!(!exited.success());
    cluster.nodes[0].start(&[]).unwrap();

    let request = cluster
        .deployment
        .wait_request(0, Duration::from_secs(180), |r| r["status"] == "resolved")
        .await
        .unwrap();
    let mut attested: Vec<String> = serde_json::from_value(request["attested"].clone()).unwrap();
    attested.sort();
    assert_eq!(
        attested,
        ["node0.test", "node1.test", "node2.test", "node3.test"]
    );
    assert_eq!(request["commitments"].as_array().unwrap().len(), 4);
    for node in &cluster.nodes {
        let started = Instant::now();
        let jobs = loop {
            let jobs = node.jobs().await.unwrap();
            if jobs.iter().all(|j| j.state.name() == "finished") {
                break jobs;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{jobs:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(jobs.len(), 1, "{}: {jobs:?}", node.account);
        assert_eq!(jobs[0].state, JobState::Finished(Finished::Attested));
        let log = node.log();
        assert!(!log.contains("refused"), "{}:\n{log}", node.account);
        assert!(
            log.matches("committing to the attestation").count() <= 1,
            "{}: one commitment transaction at most:\n{log}",
            node.account
        );
    }
    assert!(cluster.nodes[0]
        .log()
        .contains("the journaled attestation transaction has landed"));
    assert!(cluster.nodes[2]
        .log()
        .contains("FAULT INJECTION: crash_after = compute"));
    // The journal node1 was killed with held its job unfinished: the restarted node resumed it.
    assert!(
        cluster.nodes[1].log().contains("resuming unfinished jobs"),
        "{}",
        cluster.nodes[1].log()
    );
    let resumed = cluster.nodes[3].log();
    assert!(resumed.contains("FAULT INJECTION: crash_after = commit"));
    assert_eq!(
        resumed.matches("committing to the attestation").count(),
        1,
        "restarted between commit and reveal, node3 did not commit again:\n{resumed}"
    );

    // SIGTERM: a prompt, clean exit; the journal (read directly once the daemon let it go)
    // still holds the finished job.
    let node = &mut cluster.nodes[2];
    node.process().terminate();
    let asked = Instant::now();
    let exited = node
        .process()
        .wait_exit(Duration::from_secs(20))
        .expect("node2 stops on SIGTERM");
    assert!(exited.success(), "{exited:?}\n{}", node.log());
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    let (status, text) = node.run_command(&["status"]).unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains(r#"{"finished (attested)": 1}"#), "{text}");
    assert!(node.log().contains("pipeline stopped"), "{}", node.log());
}
