//! `localnet`: a local NEAR-compatible chain that other processes reach over NEAR's JSON-RPC.
//!
//! - `localnet run --data-dir D --rpc-addr 127.0.0.1:3030 --block-time-ms 1000
//!   --genesis-account alice.test:1000 …` opens the chain in `D` (creating it, with the genesis
//!   accounts, if `D` holds none), writes each genesis account's key to `D/keys/<account>.json`
//!   in NEAR's credentials format, writes the RPC address to `D/rpc.addr`, and serves until
//!   SIGINT or SIGTERM. `--block-time-ms 0` produces blocks on demand (and, while yields wait,
//!   one a second, NEAR's pace, so that they time out). On SIGINT/SIGTERM the node accepts no
//!   more transactions, includes the accepted ones in final blocks, and tells whoever still
//!   waits that it is shutting down.
//!   A genesis account's key is read from its file if there is one; otherwise, when the chain is
//!   created, it is made and written before the chain is created with it.
//! - `localnet reset --data-dir D` deletes the chain and `D/rpc.addr` (keys stay); it refuses
//!   while a node runs on `D`.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};
use wasm_host::abi::AccountId;
use wasm_host::chain::ONE_NEAR;
use wasm_host::node::{BlockMode, GenesisAccount, Node};
use wasm_host::rpc::{run_node, RpcConfig};
use wasm_host::store::Store;
use wasm_host::tx::{Credentials, SecretKey};

#[derive(Parser)]
#[command(
    name = "localnet",
    about = "A local NEAR-compatible chain with NEAR's JSON-RPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open (or create) the chain and serve JSON-RPC.
    Run {
        /// Where the chain and the genesis keys live.
        #[arg(long)]
        data_dir: PathBuf,
        /// Address of the JSON-RPC server (port 0: any free port, see DATA_DIR/rpc.addr).
        #[arg(long, default_value = "127.0.0.1:3030")]
        rpc_addr: SocketAddr,
        /// Milliseconds between blocks; 0 produces blocks only when there is work.
        #[arg(long, default_value_t = 1000)]
        block_time_ms: u64,
        /// `account[:balance in NEAR]` (default 1000 NEAR) created with a full access key when
        /// the chain is created; repeatable.
        #[arg(long = "genesis-account", value_parser = parse_genesis)]
        genesis_accounts: Vec<(String, u128)>,
        /// Seconds transaction requests wait before NEAR's TIMEOUT_ERROR.
        #[arg(long, default_value_t = 10)]
        tx_timeout_secs: u64,
    },
    /// Delete the chain in the data directory (keys stay).
    Reset {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

/// Default balance of a genesis account, NEAR.
const DEFAULT_GENESIS_NEAR: u128 = 1000;

fn parse_genesis(text: &str) -> Result<(String, u128), String> {
    let (name, balance) = match text.split_once(':') {
        Some((name, balance)) => {
            let near: u128 = balance
                .parse()
                .map_err(|_| format!("balance `{balance}` is not a whole number of NEAR"))?;
            (name, near)
        }
        None => (text, DEFAULT_GENESIS_NEAR),
    };
    let yocto = balance
        .checked_mul(ONE_NEAR)
        .ok_or_else(|| format!("balance of {name} is too large"))?;
    Ok((name.to_string(), yocto))
}

/// A genesis account named on the command line and its key file.
struct Named {
    account_id: AccountId,
    balance: u128,
    key_file: PathBuf,
}

fn named(keys_dir: &Path, name: &str, balance: u128) -> Result<Named, String> {
    let account_id: AccountId = name
        .parse()
        .map_err(|_| format!("`{name}` is not a valid NEAR account id"))?;
    Ok(Named {
        key_file: keys_dir.join(format!("{name}.json")),
        account_id,
        balance,
    })
}

/// The genesis accounts of a chain about to be created: each key is read from its file, or
/// made and written (atomically) before the chain is created with it, so that no account
/// exists with a key nobody kept.
fn genesis_with_keys(accounts: &[Named]) -> Result<Vec<GenesisAccount>, String> {
    let mut genesis = Vec::new();
    for account in accounts {
        let key = if account.key_file.exists() {
            Credentials::read(&account.key_file)
                .map_err(|e| e.to_string())?
                .1
        } else {
            let key = SecretKey::generate();
            Credentials::new(account.account_id.clone(), &key)
                .write(&account.key_file)
                .map_err(|e| e.to_string())?;
            info!(path = %account.key_file.display(), "wrote key");
            key
        };
        genesis.push(GenesisAccount {
            account_id: account.account_id.clone(),
            balance: account.balance,
            public_key: key.public_key(),
        });
    }
    Ok(genesis)
}

/// Says which genesis accounts named for a chain that already existed are not usable here:
/// those it lacks (they are not created now) and those whose key file is missing.
fn warn_about_existing(node: &Node, accounts: &[Named]) {
    let state = node.head_state();
    for account in accounts {
        if state.account(account.account_id.as_str()).is_none() {
            warn!(
                account = %account.account_id,
                "the chain exists without this genesis account: it is not created"
            );
        } else if !account.key_file.exists() {
            warn!(
                account = %account.account_id,
                path = %account.key_file.display(),
                "key file missing; the on-chain key is unknown"
            );
        }
    }
}

/// Opens the chain in `data_dir`, or creates it with `accounts` (their keys written first).
fn open_node(data_dir: &Path, accounts: &[Named]) -> Result<Node, String> {
    let store = Store::open(data_dir).map_err(|e| e.to_string())?;
    if store.has_chain().map_err(|e| e.to_string())? {
        let node = Node::with_store(store, data_dir, &[]).map_err(|e| e.to_string())?;
        warn_about_existing(&node, accounts);
        Ok(node)
    } else {
        let genesis = genesis_with_keys(accounts)?;
        Node::with_store(store, data_dir, &genesis).map_err(|e| e.to_string())
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(
    data_dir: PathBuf,
    rpc_addr: SocketAddr,
    block_time_ms: u64,
    genesis_accounts: Vec<(String, u128)>,
    tx_timeout_secs: u64,
) -> Result<(), String> {
    let keys_dir = data_dir.join("keys");
    let accounts = genesis_accounts
        .iter()
        .map(|(name, balance)| named(&keys_dir, name, *balance))
        .collect::<Result<Vec<_>, _>>()?;
    let node = Arc::new(open_node(&data_dir, &accounts)?);
    let listener = tokio::net::TcpListener::bind(rpc_addr)
        .await
        .map_err(|e| format!("binding {rpc_addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let addr_file = data_dir.join("rpc.addr");
    std::fs::write(&addr_file, bound.to_string())
        .map_err(|e| format!("{}: {e}", addr_file.display()))?;
    let mode = match block_time_ms {
        0 => BlockMode::on_demand(),
        ms => BlockMode::Every(Duration::from_millis(ms)),
    };
    let config = RpcConfig {
        tx_timeout: Duration::from_secs(tx_timeout_secs),
        ..RpcConfig::default()
    };
    let outcome = run_node(node.clone(), listener, mode, config, stop_signal())
        .await
        .map_err(|e| e.to_string());
    info!(height = node.chain().head().height, "stopped");
    outcome
}

/// Deletes the chain in `data_dir` (refused while a node runs on it) and the stale `rpc.addr`.
fn reset(data_dir: &Path) -> Result<bool, String> {
    let deleted = wasm_host::store::reset(data_dir).map_err(|e| e.to_string())?;
    let addr_file = data_dir.join("rpc.addr");
    match std::fs::remove_file(&addr_file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", addr_file.display())),
    }
    Ok(deleted)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal (not in node.log files), and not with NO_COLOR.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Run {
            data_dir,
            rpc_addr,
            block_time_ms,
            genesis_accounts,
            tx_timeout_secs,
        } => tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())
            .and_then(|runtime| {
                runtime.block_on(run(
                    data_dir,
                    rpc_addr,
                    block_time_ms,
                    genesis_accounts,
                    tx_timeout_secs,
                ))
            }),
        Command::Reset { data_dir } => match reset(&data_dir) {
            Ok(true) => {
                info!(dir = %data_dir.display(), "chain deleted");
                Ok(())
            }
            Ok(false) => {
                info!(dir = %data_dir.display(), "no chain to delete");
                Ok(())
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}
