//! The main command: set up (contracts, model), build the binaries the devnet runs, and run the
//! devnet (`e2e_tests::devnet`): a local chain with the oracle, the example dApp and the vault,
//! three nodes on the real model with different engine configurations, a demo question and
//! claim, then the devnet keeps running until Ctrl-C, SIGTERM or SIGHUP (ignored under `nohup`).

use crate::{cargo, contracts, fetch_model, step};
use anyhow::{bail, Result};
use clap::Args;
use e2e_tests::devnet::{self, DevnetOptions};
use e2e_tests::layout::workspace_root;
use kernels::model_cache::MODEL_PATH_ENV;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long blocking work still running at the end (a model load, a re-execution) may hold
/// the exit up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

#[derive(Args)]
pub struct DevnetArgs {
    /// The chain's RPC port on 127.0.0.1.
    #[arg(long, default_value_t = 3030, value_parser = clap::value_parser!(u16).range(1..))]
    rpc_port: u16,
    /// The devnet's folder (chain data, account keys, node homes); wiped at each start.
    /// Default: target/devnet.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Milliseconds between blocks. Every node must commit within a request's commit window
    /// (150 blocks on the devnet) and the request times out after 200; the scalar node on one
    /// thread needs about 40 s for the vault's verdict on this kind of machine (raise this on a
    /// slower or busy one).
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
    devnet_model()?;
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
    let ended = runtime.block_on(async {
        tokio::select! {
            report = devnet::run(&options) => report.map(|_| ()),
            // Ctrl-C, SIGTERM or SIGHUP (unless started under `nohup`) at any point: dropping
            // the devnet (or what had started of it) stops it. Its processes have process
            // groups of their own: the terminal's signals reach only this process.
            signal = devnet::stop_signal() => {
                signal.map(|signal| devnet::say(&format!("  stopped on {signal}")))
            }
        }
    });
    // Without a bound, a model load or a re-execution on the blocking pool would hold the exit
    // until it finished; the devnet is already stopped by then.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    ended
}

/// The model the devnet's nodes run: `AI_ORACLE_MODEL` when set (nothing is fetched), else the
/// default model, fetched into the cache if missing.
fn devnet_model() -> Result<()> {
    match std::env::var_os(MODEL_PATH_ENV) {
        Some(path) => chosen_model(Path::new(&path)),
        None => fetch_model().map(|_| ()),
    }
}

/// Checks that `path`, the model `AI_ORACLE_MODEL` names, is a file, and says it is used.
fn chosen_model(path: &Path) -> Result<()> {
    step("model");
    if !path.is_file() {
        bail!(
            "{MODEL_PATH_ENV} is {}, which is not a file; unset it to use the default model",
            path.display()
        );
    }
    println!("model: {} (from {MODEL_PATH_ENV})", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{chosen_model, DevnetArgs};
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        devnet: DevnetArgs,
    }

    #[test]
    fn the_rpc_port_is_one_or_more() {
        let error = Command::try_parse_from(["devnet", "--rpc-port", "0"])
            .err()
            .expect("port 0 is refused");
        assert!(error.to_string().contains("--rpc-port"), "{error}");
        let command = Command::try_parse_from(["devnet", "--rpc-port", "1"]).unwrap();
        assert_eq!(command.devnet.rpc_port, 1);
        let default = Command::try_parse_from(["devnet"]).unwrap();
        assert_eq!(default.devnet.rpc_port, 3030);
    }

    #[test]
    fn a_chosen_model_must_be_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = chosen_model(&dir.path().join("missing.gguf")).unwrap_err();
        assert!(error.to_string().contains("AI_ORACLE_MODEL"), "{error}");
        let model = dir.path().join("model.gguf");
        std::fs::write(&model, b"GGUF").unwrap();
        chosen_model(&model).unwrap();
    }
}
