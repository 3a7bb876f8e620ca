//! `oracle-node`: the operator's command line.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kernels::model_cache::{resolve_model, sha256_file};
use kernels::model_info::GgufSummary;
use oracle::commands::{infer, register, status, verify};
use oracle::config::NodeConfig;
use oracle_protocol::{NodeStatus, RequestParams};
use sdk::inference::{engine_request, RequestKey};
use sdk::rpc::redact_url;
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The exit code of a command that failed (`verify` exits with 1 when it found a mismatch).
const ERROR_EXIT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "oracle-node",
    version,
    about = "AI oracle node for NEAR",
    after_help = "Exit codes: 0 done; 1 `verify` found a mismatch; 2 an error (the command \
                  could not do its work; usage errors too); 130 `run` stopped by a second signal."
)]
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
    /// Stake and register the node with the oracle contract (its attestation key and served
    /// model); says so and sends nothing if the account is registered already with this key
    /// and model, and fails naming the difference if it is registered otherwise.
    Register {
        #[arg(long, env = "ORACLE_NODE_HOME", default_value = "oracle-node")]
        home: PathBuf,
        /// Deposit in NEAR: the node entry's storage, the rest staked (at least the
        /// contract's min_stake).
        #[arg(long, default_value_t = 10)]
        stake: u128,
    },
    /// Run the node: watch for requests, compute, attest, submit; until SIGTERM or Ctrl-C.
    Run {
        #[arg(long, env = "ORACLE_NODE_HOME", default_value = "oracle-node")]
        home: PathBuf,
    },
    /// Show the node: its config, its registration on chain, its journal's jobs and the
    /// running daemon's health.
    Status {
        #[arg(long, env = "ORACLE_NODE_HOME", default_value = "oracle-node")]
        home: PathBuf,
    },
    /// Re-execute a resolved request with the local engine and compare its digest with the
    /// one the quorum agreed on; exits with 1 on a mismatch, 2 if it could not check.
    Verify {
        /// The request id.
        request_id: u64,
        #[arg(long, env = "ORACLE_NODE_HOME", default_value = "oracle-node")]
        home: PathBuf,
    },
    /// Run the engine locally on a prompt exactly as a node would for an on-chain request, and
    /// print the answer, its result digest and the speed. With --home, as that node would: its
    /// model, kernels, threads and oracle contract, and the chain id its RPC reports.
    Infer {
        /// The request's input (the user message).
        input: String,
        /// A node home whose config sets the model, kernels, threads, contract and chain.
        #[arg(long)]
        home: Option<PathBuf>,
        /// A local GGUF file; else the home's model, else AI_ORACLE_MODEL, else the default
        /// model.
        #[arg(long)]
        model: Option<PathBuf>,
        /// The chain id, oracle contract and request id the run is bound to (they key the
        /// random stream and enter the digest). Defaults: the home's, else localnet and
        /// oracle.test.
        #[arg(long)]
        chain_id: Option<String>,
        #[arg(long)]
        oracle_contract: Option<String>,
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
        /// Engine threads; 0 is every core. Default: the home's, else every core.
        #[arg(long, env = "ORACLE_NODE_THREADS")]
        threads: Option<usize>,
    },
    /// Make sure a model is present and verified (fetching the default one if needed), and
    /// describe it.
    Model {
        /// A local GGUF file; the default model (SmolLM2-135M-Instruct Q4_1) when absent.
        #[arg(long, env = "AI_ORACLE_MODEL")]
        path: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run_command() {
        Ok(code) => code,
        Err(error) => {
            // As `main` returning the error prints it, but with its own exit code: a script
            // tells "verify found a mismatch" (1) from "could not check" (2).
            eprintln!("Error: {error:?}");
            ExitCode::from(ERROR_EXIT)
        }
    }
}

fn run_command() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ORACLE_NODE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs())
        .init();
    match Cli::parse().command {
        Command::Register { home, stake } => {
            let config = NodeConfig::load(&home)?;
            match runtime()?.block_on(register::register(&home, &config, stake))? {
                register::Registered::Now { tx_hash, model_id } => {
                    println!("registered {} (transaction {tx_hash})", config.account_id);
                    println!("serving model {model_id}; deposit {stake} NEAR");
                }
                register::Registered::Already(node) => {
                    println!(
                        "{} is already registered: stake {} yoctoNEAR, status {}, models {:?}",
                        node.account_id,
                        node.stake,
                        node.status,
                        node.models.iter().map(|m| m.to_hex()).collect::<Vec<_>>()
                    );
                }
            }
        }
        Command::Run { home } => {
            let config = NodeConfig::load(&home)?;
            let runtime = runtime()?;
            let ran = runtime.block_on(oracle::daemon::run(&home, config));
            // A model still loading (the node was stopped while it started) holds no exit up.
            runtime.shutdown_background();
            ran?;
        }
        Command::Status { home } => {
            let config = NodeConfig::load(&home)?;
            let found = runtime()?.block_on(status::status(&home, &config));
            print_status(&home, &config, &found);
        }
        Command::Verify { request_id, home } => {
            let config = NodeConfig::load(&home)?;
            let checked = runtime()?.block_on(verify::verify(&home, &config, request_id))?;
            println!("request {request_id}");
            println!(
                "  on chain: {} {:?}",
                checked.on_chain_digest, checked.on_chain_output
            );
            println!(
                "  local:    {} {:?}",
                checked.local_digest, checked.local_output
            );
            if !checked.matches() {
                println!("MISMATCH: the local re-execution differs from the quorum's answer");
                return Ok(ExitCode::FAILURE);
            }
            println!("verified: the local re-execution gives the quorum's digest");
        }
        Command::Init { home, account_id } => {
            let created = oracle::init::init_home(&home, &account_id)?;
            println!("node home:       {}", home.display());
            println!("account:         {}", created.config.account_id);
            println!("account key:     {}", created.account_public_key);
            println!("attestation key: {}", created.attestation_public_key);
            println!(
                "next: fund the account, then `oracle-node register --home {}`",
                home.display()
            );
            println!(
                "      (or, for an account that already exists, put its credentials file at {} \
                 or point account_key at it)",
                home.join(&created.config.account_key).display()
            );
        }
        Command::Infer {
            input,
            home,
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
            let setup = runtime()?.block_on(infer::setup(infer::InferArgs {
                home,
                model,
                chain_id,
                oracle_contract,
                threads,
            }))?;
            let (engine, _) = oracle::engine::load(&setup.home, &setup.config)?;
            let key = RequestKey {
                chain_id: &setup.chain_id,
                oracle_contract: &setup.config.oracle_contract,
                request_id,
            };
            let generation = engine.generate(&engine_request(&key, &input, &params)?)?;
            let decode = generation.timings.decode.as_secs_f64().max(1e-9);
            println!("{}", generation.text);
            println!("---");
            println!("result digest: {}", hex::encode(generation.digest));
            println!(
                "output hash:   {}",
                hex::encode(Sha256::digest(generation.text.as_bytes()))
            );
            println!("model id:      {}", hex::encode(engine.model_sha256()));
            println!(
                "bound to:      chain {}, contract {}, request {request_id}",
                setup.chain_id, setup.config.oracle_contract
            );
            println!(
                "tokens:        {} prompt, {} generated ({:.1} tok/s)",
                generation.prompt_tokens.len(),
                generation.output_tokens.len(),
                generation.output_tokens.len() as f64 / decode
            );
        }
        Command::Model { path } => {
            let path = resolve_model(path.as_deref())?;
            let sha = hex::encode(sha256_file(&path, true)?);
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
    Ok(ExitCode::SUCCESS)
}

/// Colours in the log only on a terminal (never in a file or a pipe), and not with `NO_COLOR`.
fn colour_logs() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn print_status(home: &Path, config: &NodeConfig, found: &status::NodeStatus) {
    println!("home:      {}", home.display());
    println!("account:   {}", config.account_id);
    println!("contract:  {}", config.oracle_contract);
    let rpc_urls: Vec<String> = config.rpc_urls.iter().map(|url| redact_url(url)).collect();
    println!("rpc:       {}", rpc_urls.join(", "));
    if !config.fault_injection.is_off() {
        println!("FAULT INJECTION ON: {:?}", config.fault_injection);
    }
    match &found.node {
        Ok(Some(node)) => {
            println!(
                "on chain:  stake {} yoctoNEAR, status {}",
                node.stake, node.status
            );
            if node.missed_commits > 0 {
                println!(
                    "           {} requests in a row passed without a commitment from this node",
                    node.missed_commits
                );
            }
            if let NodeStatus::Jailed { until } = node.status {
                println!(
                    "           no new committees; a running node sends unjail_node itself from \
                     block {until}"
                );
                println!(
                    "           if its stake is at least the oracle's min_stake (else top it up \
                     with the oracle's add_stake)"
                );
            }
            for model in &node.models {
                println!("           serves {model}");
            }
        }
        Ok(None) => println!("on chain:  not registered (run `oracle-node register`)"),
        Err(e) => println!("on chain:  unknown ({e:#})"),
    }
    match &found.jobs {
        Ok(counts) if counts.is_empty() => println!("journal:   no jobs"),
        Ok(counts) => println!("journal:   {counts:?}"),
        Err(e) => println!("journal:   unreadable ({e:#})"),
    }
    match &found.health {
        Ok(health) => {
            let jailed_until = health
                .jailed_until
                .map(|until| format!(" (until block {until})"))
                .unwrap_or_default();
            println!(
                "daemon:    {} — block {}, rpc reachable {}, queue depth {}, standing {}{jailed_until}",
                health.status,
                health.last_block_height,
                health.rpc_reachable,
                health.queue_depth,
                health.standing
            );
            if let Some(error) = &health.error {
                println!("           fatal error: {error}");
            }
            if health.engine_failures > 0 {
                println!(
                    "engine:    FAILING — {} runs failed on this machine (jobs not yet recovered); last: {}",
                    health.engine_failures,
                    health.engine_error.as_deref().unwrap_or("(no message)")
                );
            }
            if !health.unreadable_jobs.is_empty() {
                println!(
                    "journal:   UNREADABLE unfinished jobs (requests {:?}): not resumed; a newer \
                     oracle-node wrote them, or they are damaged (the node's log says which)",
                    health.unreadable_jobs
                );
            }
            match health.engine_step_seconds {
                Some(seconds) if seconds > oracle::health::ENGINE_STALL_AFTER.as_secs() => {
                    println!(
                        "engine:    STALLED — in one step for {seconds} s (a step takes seconds): \
                         a hung kernel or device; restart the node"
                    )
                }
                _ => {}
            }
        }
        Err(e) => println!("daemon:    not reachable ({e:#})"),
    }
}
