//! The RPC endpoint disappears (localnet killed) while a request is open and comes back (same
//! data directory and port): the nodes report degraded health, recover, and the request
//! resolves. Only one node runs when the chain dies (the others are frozen with SIGSTOP until
//! it is back), so the request cannot have reached its quorum before the outage.

use e2e_tests::cluster::{Cluster, OracleNode, OracleSettings};
use oracle::health::HealthReport;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_ride_out_an_rpc_outage() {
    let dir = tempfile::tempdir().unwrap();
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 2,
    };
    let mut cluster = Cluster::new(dir.path(), 3, 100, settings).await.unwrap();
    for node in &mut cluster.nodes {
        node.start(&[]).unwrap();
    }
    // Every daemon has loaded the model (it writes its address then) before two of them freeze.
    let addr = cluster.nodes[0]
        .http_addr(Duration::from_secs(120))
        .unwrap();
    for node in &mut cluster.nodes[1..] {
        node.http_addr(Duration::from_secs(120)).unwrap();
        signal(node, libc::SIGSTOP);
    }
    cluster.deployment.ask("Say hello.", 8).await.unwrap();
    let request = cluster
        .deployment
        .wait_request(0, Duration::from_secs(30), |r| r["status"] == "pending")
        .await
        .unwrap();
    // node0 alone can attest until the chain is back: one attestation, short of the quorum.
    assert!(
        request["attested"].as_array().unwrap().len() < 2,
        "{request}"
    );
    cluster.localnet.kill9();
    let started = Instant::now();
    loop {
        let health: HealthReport = oracle::commands::status::fetch_json(&addr, "/health")
            .await
            .unwrap();
        if health.status == "degraded" {
            assert!(!health.rpc_reachable);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{health:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.localnet.restart().unwrap();
    for node in &mut cluster.nodes[1..] {
        signal(node, libc::SIGCONT);
    }
    let request = cluster
        .deployment
        .wait_request(0, Duration::from_secs(180), |r| r["status"] != "pending")
        .await
        .unwrap();
    assert_eq!(
        request["status"],
        "resolved",
        "{request}\n{}",
        cluster.log_tails(80)
    );
    assert!(request["attested"].as_array().unwrap().len() >= 2);
    // node0 reports healthy again once it has seen the chain's new blocks.
    let started = Instant::now();
    loop {
        let health: HealthReport = oracle::commands::status::fetch_json(&addr, "/health")
            .await
            .unwrap();
        if health.status == "ok" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{health:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = {
        let started = Instant::now();
        loop {
            let text = raw_metrics(&addr).await;
            if text.contains("oracle_node_rpc_errors_total") || started.elapsed().as_secs() > 5 {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(
        metrics.contains("oracle_node_rpc_errors_total"),
        "{metrics}"
    );
}

/// Sends `signal` to `node`'s running daemon.
fn signal(node: &mut OracleNode, signal: libc::c_int) {
    let pid = node.process().id().expect("the daemon runs");
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) touches no memory of ours; the daemon is not reaped (only its handle
    // reaps it, and it was running just now), so `pid` still names it.
    unsafe { libc::kill(pid, signal) };
}

async fn raw_metrics(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}
