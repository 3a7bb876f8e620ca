//! Benchmark of the whole network as real processes: localnet + three `oracle-node` daemons on
//! the real model; N users' requests through the example dApp; prints requests per minute and
//! the p50/p95 latency from asking to resolution.
//!
//! `cargo build -p oracle -p wasm-host && cargo run -p e2e-tests --example node_bench --
//! [requests] [max_tokens]` (defaults 12 and 16; the engine is optimised even in dev builds).

use anyhow::Result;
use e2e_tests::cluster::{Cluster, OracleSettings};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let requests: u64 = args.next().map_or(Ok(12), |a| a.parse())?;
    let max_tokens: u32 = args.next().map_or(Ok(16), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let settings = OracleSettings {
        committee_size: 3,
        quorum: 2,
    };
    let mut cluster = Cluster::new(dir.path(), 3, 100, settings).await?;
    for node in &mut cluster.nodes {
        node.start(&[])?;
    }
    for node in &cluster.nodes {
        node.http_addr(Duration::from_secs(120))?;
    }
    // Warm-up: the first request pays for loading the model in each node.
    let deployment = &cluster.deployment;
    deployment.ask("Warm up.", 4).await?;
    deployment
        .wait_request(0, Duration::from_secs(300), |r| r["status"] == "resolved")
        .await?;
    println!("{requests} requests, max_tokens {max_tokens}, 3 nodes (committee 3, quorum 2)");
    let started = Instant::now();
    let mut asked = Vec::new();
    for i in 0..requests {
        deployment
            .ask(&format!("Question {i}: name a fruit."), max_tokens)
            .await?;
        asked.push(Instant::now());
    }
    let mut latencies = Vec::new();
    let mut open: Vec<(u64, Instant)> = (1..).zip(asked).collect();
    while !open.is_empty() {
        if started.elapsed() > Duration::from_secs(900) {
            anyhow::bail!("{} requests still open after 15 minutes", open.len());
        }
        let mut still_open = Vec::new();
        for (request_id, at) in open {
            if deployment.request(request_id).await?["status"] == "resolved" {
                latencies.push(at.elapsed());
            } else {
                still_open.push((request_id, at));
            }
        }
        open = still_open;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let total = started.elapsed();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "throughput: {:.1} requests/min ({requests} in {:.1} s)",
        requests as f64 / total.as_secs_f64() * 60.0,
        total.as_secs_f64()
    );
    println!(
        "request → resolution latency: p50 {:.2} s, p95 {:.2} s (resolution seen by polling every 250 ms)",
        pick(0.5).as_secs_f64(),
        pick(0.95).as_secs_f64()
    );
    Ok(())
}
