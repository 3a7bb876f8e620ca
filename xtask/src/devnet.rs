//! The main command: set up (contracts, model), build the binaries the devnet runs, and run the
//! devnet (`e2e_tests::devnet`): a local chain with the oracle, the example dApp and the vault,
//! three nodes on the real model with different engine configurations, a demo question and
//! claim, then the devnet keeps running until Ctrl-C.

use crate::{cargo, contracts, fetch_model, step};
use anyhow::Result;
use clap::Args;
use e2e_tests::devnet::{self, DevnetOptions};
use e2e_tests::layout::workspace_root;
use std::path::PathBuf;

#[derive(Args)]
pub struct DevnetArgs {
    /// The chain's RPC port on 127.0.0.1.
    #[arg(long, default_value_t = 3030)]
    rpc_port: u16,
    /// The devnet's folder (chain data, account keys, node homes); wiped at each start.
    /// Default: target/devnet.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Milliseconds between blocks. A request times out after 200 blocks, and the scalar node on
    /// one thread needs about 40 s for the vault's verdict on this kind of machine.
    #[arg(long, default_value_t = 500)]
    block_time_ms: u64,
    /// Tokens the demo question may generate.
    #[arg(long, default_value_t = 16)]
    max_tokens: u32,
    /// Stop after the demo's answers instead of running until Ctrl-C.
    #[arg(long)]
    exit_after_demo: bool,
}

pub fn run(args: DevnetArgs) -> Result<()> {
    contracts::build_all()?;
    fetch_model()?;
    step("build localnet, oracle-node and oracle-client");
    cargo(&[
        "build",
        "--locked",
        "--bin",
        "localnet",
        "--bin",
        "oracle-node",
        "--bin",
        "oracle-client",
    ])?;
    let options = DevnetOptions {
        dir: args
            .dir
            .unwrap_or_else(|| workspace_root().join("target").join("devnet")),
        rpc_port: args.rpc_port,
        block_time_ms: args.block_time_ms,
        max_tokens: args.max_tokens,
        exit_after_demo: args.exit_after_demo,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        tokio::select! {
            report = devnet::run(&options) => report.map(|_| ()),
            // Ctrl-C at any point: dropping the devnet (or what had started of it) stops it.
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
