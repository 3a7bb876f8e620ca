//! `oracle-node`: the operator's command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use kernels::model_cache::{resolve_model, sha256_file};
use kernels::model_info::GgufSummary;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "oracle-node", version, about = "AI oracle node for NEAR")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node home: config.toml, an account key and an attestation key.
    Init {
        /// The node's home directory.
        #[arg(long, env = "ORACLE_NODE_HOME", default_value = "oracle-node")]
        home: PathBuf,
        /// The node's NEAR account id.
        #[arg(long, env = "ORACLE_NODE_ACCOUNT_ID")]
        account_id: String,
    },
    /// Make sure a model is present and verified (fetching the default one if needed), and
    /// describe it.
    Model {
        /// A local GGUF file; the default model (SmolLM2-135M-Instruct Q4_1) when absent.
        #[arg(long, env = "AI_ORACLE_MODEL")]
        path: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Init { home, account_id } => {
            let created = oracle::init::init_home(&home, &account_id)?;
            println!("node home:       {}", home.display());
            println!("account:         {}", created.config.account_id);
            println!("account key:     {}", created.account_public_key);
            println!("attestation key: {}", created.attestation_public_key);
        }
        Command::Model { path } => {
            let path = resolve_model(path.as_deref())?;
            let sha = hex_string(&sha256_file(&path, true)?);
            let summary = GgufSummary::read(&path)?;
            println!("model:       {}", path.display());
            println!("model id:    {sha}");
            println!(
                "arch:        {}",
                summary.architecture.as_deref().unwrap_or("unknown")
            );
            println!(
                "tensors:     {} {:?}",
                summary.tensor_count, summary.tensors_by_type
            );
            println!("parameters:  {}", summary.parameter_count);
        }
    }
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
