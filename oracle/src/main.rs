//! `oracle-node`: the operator's command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use kernels::engine::Engine;
use kernels::model_cache::{resolve_model, sha256_file};
use kernels::model_info::GgufSummary;
use kernels::quant::KernelPath;
use oracle_protocol::RequestParams;
use sdk::inference::{engine_request, RequestKey};
use sha2::{Digest, Sha256};
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
    /// Run the engine locally on a prompt exactly as a node would for an on-chain request, and
    /// print the answer, its result digest and the speed.
    Infer {
        /// The request's input (the user message).
        input: String,
        /// A local GGUF file; the default model when absent.
        #[arg(long, env = "AI_ORACLE_MODEL")]
        model: Option<PathBuf>,
        /// The chain id, oracle contract and request id the run is bound to (they key the
        /// random stream and enter the digest).
        #[arg(long, default_value = "localnet")]
        chain_id: String,
        #[arg(long, default_value = "oracle.test")]
        oracle_contract: String,
        #[arg(long, default_value_t = 0)]
        request_id: u64,
        /// Sampling temperature in thousandths; 0 is greedy.
        #[arg(long, default_value_t = 0)]
        temperature_milli: u32,
        #[arg(long, default_value_t = 0)]
        top_k: u32,
        #[arg(long, default_value_t = 1000)]
        top_p_milli: u32,
        #[arg(long, default_value_t = 64)]
        max_tokens: u32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, env = "ORACLE_NODE_THREADS", default_value_t = default_threads())]
        threads: usize,
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
        Command::Infer {
            input,
            model,
            chain_id,
            oracle_contract,
            request_id,
            temperature_milli,
            top_k,
            top_p_milli,
            max_tokens,
            seed,
            threads,
        } => {
            let params = RequestParams {
                temperature_milli,
                top_k,
                top_p_milli,
                max_tokens,
                seed,
                output_schema: None,
            };
            params.check().map_err(anyhow::Error::msg)?;
            let path = resolve_model(model.as_deref())?;
            let engine = Engine::load(&path, KernelPath::detect(), threads)?;
            let key = RequestKey {
                chain_id: &chain_id,
                oracle_contract: &oracle_contract,
                request_id,
            };
            let generation = engine.generate(&engine_request(&key, &input, &params)?)?;
            let decode = generation.timings.decode.as_secs_f64().max(1e-9);
            println!("{}", generation.text);
            println!("---");
            println!("result digest: {}", hex_string(&generation.digest));
            println!(
                "output hash:   {}",
                hex_string(&Sha256::digest(generation.text.as_bytes()))
            );
            println!("model id:      {}", hex_string(&engine.model_sha256()));
            println!(
                "tokens:        {} prompt, {} generated ({:.1} tok/s)",
                generation.prompt_tokens.len(),
                generation.output_tokens.len(),
                generation.output_tokens.len() as f64 / decode
            );
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

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
