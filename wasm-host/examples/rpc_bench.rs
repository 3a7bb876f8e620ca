//! Transactions per second over JSON-RPC: a node on 127.0.0.1 (blocks on demand, store in a
//! temporary directory), several clients each sending signed transfers with
//! `broadcast_tx_async`; prints how fast they were accepted and executed.
//! `cargo run --release -p wasm-host --example rpc_bench [transactions] [clients]`.

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wasm_host::chain::ONE_NEAR;
use wasm_host::node::{run_producer, BlockMode, GenesisAccount, Node};
use wasm_host::rpc::{serve, RpcClient, RpcConfig};
use wasm_host::tx::{Action, SecretKey, Transaction};
use wasm_host::views::base64;

fn key(i: usize) -> SecretKey {
    let mut seed = [1; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    SecretKey::from_seed(seed)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map_or(4000, |a| a.parse().expect("transactions"));
    let clients: usize = args.next().map_or(8, |a| a.parse().expect("clients"));
    let per_client = total / clients;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut genesis: Vec<GenesisAccount> = (0..clients)
        .map(|i| GenesisAccount {
            account_id: format!("sender{i}.test").parse().unwrap(),
            balance: 1_000_000 * ONE_NEAR,
            public_key: key(i).public_key(),
        })
        .collect();
    genesis.push(GenesisAccount {
        account_id: "sink.test".parse().unwrap(),
        balance: ONE_NEAR,
        public_key: key(usize::MAX).public_key(),
    });
    let node = Arc::new(Node::open(dir.path(), &genesis).expect("node"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    let producer = tokio::spawn(run_producer(
        node.clone(),
        BlockMode::on_demand(),
        stopped.clone(),
    ));
    let mut server_stop = stopped.clone();
    let server = tokio::spawn(serve(
        node.clone(),
        listener,
        RpcConfig::default(),
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    ));
    let block_hash = node.chain().head().hash;
    // Sign everything first: the benchmark measures the node, not the signing.
    let batches: Vec<Vec<String>> = (0..clients)
        .map(|i| {
            (1..=per_client as u64)
                .map(|nonce| {
                    let signed = Transaction {
                        signer_id: format!("sender{i}.test").parse().unwrap(),
                        public_key: key(i).public_key(),
                        nonce,
                        receiver_id: "sink.test".parse().unwrap(),
                        block_hash,
                        actions: vec![Action::Transfer { deposit: 1 }],
                    }
                    .sign(&key(i));
                    base64(&signed.to_bytes())
                })
                .collect()
        })
        .collect();
    let sent = (per_client * clients) as f64;
    let start_height = node.chain().head().height;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in batches {
        tasks.push(tokio::spawn(async move {
            let client = RpcClient::new(addr);
            for tx in batch {
                client
                    .call("broadcast_tx_async", json!([tx]))
                    .await
                    .expect("accepted");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let accepted = started.elapsed();
    let expected = ONE_NEAR + (per_client * clients) as u128;
    loop {
        let received = node.chain().balance("sink.test");
        if received >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let executed = started.elapsed();
    let blocks = node.chain().head().height - start_height;
    println!("rpc_bench: {sent} signed transfers from {clients} clients over JSON-RPC (broadcast_tx_async), blocks on demand, redb store");
    println!(
        "  accepted: {:>8.0} tx/s ({:.2} s)",
        sent / accepted.as_secs_f64(),
        accepted.as_secs_f64()
    );
    println!(
        "  executed: {:>8.0} tx/s ({:.2} s, {blocks} blocks)",
        sent / executed.as_secs_f64(),
        executed.as_secs_f64()
    );
    stop.send(true).unwrap();
    producer.await.unwrap().unwrap();
    server.await.unwrap().unwrap();
}
