//! A local chain for the SDK's tests: wasm-host's node with its JSON-RPC server on a free
//! loopback port, genesis accounts with seeded keys, and the contracts that
//! `cargo xtask build-contracts` built.

#![allow(dead_code)]

use sdk::rpc::{NearRpc, RetryPolicy};
use sdk::signer::Signer;
use sdk::wire::{Action, SecretKey};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use wasm_host::chain::{ONE_NEAR, TGAS};
use wasm_host::node::{run_producer, BlockMode, GenesisAccount, Node};
use wasm_host::rpc::{serve, RpcConfig};

pub const GAS: u64 = 100 * TGAS;
pub const NEAR: u128 = ONE_NEAR;

/// A running local chain.
pub struct Localnet {
    pub url: String,
    pub node: Arc<Node>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// The key of a genesis account, derived from its name.
pub fn key_of(account: &str) -> SecretKey {
    let mut seed = [0; 32];
    let n = account.len().min(32);
    seed[..n].copy_from_slice(&account.as_bytes()[..n]);
    SecretKey::from_seed(seed)
}

/// The wasm `cargo xtask build-contracts` built for crate `name` (underscored).
pub fn contract(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sdk sits in the workspace root")
        .join("target/contracts")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo xtask build-contracts` first",
            path.display()
        )
    })
}

/// A loopback URL nobody listens on.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A retry policy quick enough for tests.
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        request_timeout: Duration::from_secs(20),
    }
}

impl Localnet {
    /// A chain whose `accounts` hold 1000 NEAR each, serving RPC with `config`.
    pub async fn start_with(accounts: &[&str], config: RpcConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let genesis: Vec<GenesisAccount> = accounts
            .iter()
            .map(|name| GenesisAccount {
                account_id: name.parse().unwrap(),
                balance: 1000 * ONE_NEAR,
                public_key: key_of(name).public_key(),
            })
            .collect();
        let node = Arc::new(Node::open(dir.path(), &genesis).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = watch::channel(false);
        let producer = run_producer(node.clone(), BlockMode::on_demand(), stopped.clone());
        let mut server_stop = stopped;
        let server = serve(node.clone(), listener, config, async move {
            let _ = server_stop.wait_for(|s| *s).await;
        });
        let tasks = vec![
            tokio::spawn(async move { producer.await.unwrap() }),
            tokio::spawn(async move { server.await.unwrap() }),
        ];
        Self {
            url,
            node,
            stop,
            tasks,
            _dir: dir,
        }
    }

    pub async fn start(accounts: &[&str]) -> Self {
        Self::start_with(accounts, RpcConfig::default()).await
    }

    pub fn rpc(&self) -> NearRpc {
        NearRpc::new(vec![self.url.clone()], quick_policy()).unwrap()
    }

    /// A signer for genesis account `account`.
    pub fn signer(&self, account: &str) -> Signer {
        Signer::new(self.rpc(), account.parse().unwrap(), key_of(account))
    }

    /// Deploys contract `name` on genesis account `account` and calls `init` with `args`.
    pub async fn deploy(&self, account: &str, name: &str, init: Option<(&str, serde_json::Value)>) {
        let signer = self.signer(account);
        let mut actions = vec![Action::DeployContract {
            code: contract(name),
        }];
        if let Some((method, args)) = init {
            actions.push(Action::FunctionCall(Box::new(
                sdk::wire::FunctionCallAction {
                    method_name: method.into(),
                    args: args.to_string().into_bytes(),
                    gas: GAS,
                    deposit: 0,
                },
            )));
        }
        let outcome = signer.send(account, actions).await.unwrap();
        assert!(outcome.is_success(), "deploy {name}: {:?}", outcome.status);
    }

    pub async fn shutdown(self) {
        self.stop.send(true).unwrap();
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}
pub mod oracle_net;
pub mod proxy;
