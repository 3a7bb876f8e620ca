//! oracle-client: ask the oracle from the command line and check its answers — list models and
//! nodes, price a request, ask (paying the fee and waiting for the quorum's answer), read a
//! request, and verify it offline or by re-running the model; and call or view any contract's
//! methods. Every option can also come from the environment.

mod contract;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use kernels::engine::Engine;
use kernels::quant::KernelPath;
use oracle_protocol::{ModelId, RequestParams, RequestPhase, RequestView, ResponseStatus};
use sdk::oracle::OracleClient;
use sdk::rpc::{NearRpc, RetryPolicy};
use sdk::signer::Signer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "oracle-client",
    version,
    about = "Ask the AI oracle on NEAR and verify its answers"
)]
struct Cli {
    #[command(flatten)]
    chain: ChainArgs,
    #[command(subcommand)]
    command: Command,
}

/// The chain options, given before or after the subcommand (`global`). Clap cannot require a
/// global option, so [`Cli::checked`] refuses a missing `--rpc` or `--oracle` after parsing.
#[derive(Args)]
struct ChainArgs {
    /// NEAR RPC endpoint; repeat (or separate with commas) for failover. Required.
    #[arg(long = "rpc", env = "ORACLE_RPC", value_delimiter = ',', global = true)]
    rpc: Vec<String>,
    /// The oracle contract's account. Required, except by `call` and `view`.
    #[arg(long, env = "ORACLE_CONTRACT", global = true)]
    oracle: Option<String>,
    /// NEAR credentials file of the account that pays requests (`ask`) or signs calls (`call`).
    #[arg(long, env = "ORACLE_CREDENTIALS", global = true)]
    credentials: Option<PathBuf>,
}

impl Cli {
    /// The command line's options, with the required global ones present.
    fn checked(self) -> Result<Self, clap::Error> {
        let missing = |what: &str| {
            Cli::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("{what} is required (before or after the subcommand)"),
            )
        };
        if self.chain.rpc.is_empty() {
            return Err(missing("--rpc <URL> (or ORACLE_RPC)"));
        }
        let names_its_contract =
            matches!(self.command, Command::Call { .. } | Command::View { .. });
        if self.chain.oracle.is_none() && !names_its_contract {
            return Err(missing("--oracle <ACCOUNT> (or ORACLE_CONTRACT)"));
        }
        Ok(self)
    }

    /// The oracle contract's account (present once [`Cli::checked`]).
    fn oracle(&self) -> &str {
        self.chain.oracle.as_deref().unwrap_or_default()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Registered models.
    Models,
    /// Registered nodes.
    Nodes,
    /// What a request costs.
    Fee {
        #[command(flatten)]
        request: RequestArgs,
        /// Input length in bytes.
        #[arg(long, env = "ORACLE_INPUT_BYTES", default_value_t = 256)]
        input_bytes: u32,
    },
    /// Ask a model, pay the fee and wait for the answer.
    Ask {
        input: String,
        #[command(flatten)]
        request: RequestArgs,
        /// How long to wait for the answer, seconds (a request lives 200 blocks, about
        /// three minutes on NEAR, before it times out on chain; `get` shows it later).
        #[arg(long, env = "ORACLE_WAIT_SECS", default_value_t = 300)]
        wait_secs: u64,
    },
    /// A request with its answer and attestations.
    Get { request_id: u64 },
    /// Check a request's answer offline: signatures, committee, quorum, output hash.
    Verify {
        request_id: u64,
        /// Also re-run the request on the model and compare the result digest and the output.
        #[arg(long, env = "ORACLE_REEXECUTE")]
        reexecute: bool,
        /// The model's GGUF for --reexecute (default: $AI_ORACLE_MODEL or the model cache).
        #[arg(long, env = "ORACLE_MODEL_PATH")]
        model_path: Option<PathBuf>,
        /// Check the signatures against these nodes' attestation keys, obtained elsewhere than
        /// the RPC endpoint: a JSON object `{"node.near": "ed25519:…", …}` (pinned keys; the
        /// endpoint's are not read). Needs --chain-id.
        #[arg(long, requires = "chain_id")]
        node_keys: Option<PathBuf>,
        /// The chain id the signatures must name (with --node-keys; `mainnet`, `testnet`, …).
        #[arg(long, requires = "node_keys")]
        chain_id: Option<String>,
        /// The least quorum to accept: no signature covers a request's committee and quorum, so
        /// an endpoint could shrink both; pin the oracle's `quorum` setting here.
        #[arg(long)]
        min_quorum: Option<u32>,
    },
    /// Call any contract's method as the --credentials account and print its events and
    /// return value (e.g. the vault's `file_claim`).
    Call {
        contract: String,
        method: String,
        /// The arguments, as JSON.
        #[arg(default_value = "{}")]
        args: String,
        /// NEAR to attach, as a decimal (`2`, `0.5`).
        #[arg(long, default_value = "0", value_parser = contract::parse_near)]
        deposit: u128,
        /// Gas to attach, in TGas (1 to 300).
        #[arg(long, default_value = "300", value_parser = contract::parse_tgas)]
        tgas: u64,
    },
    /// Call any contract's view method and print its return value (e.g. the vault's `get_vault`).
    View {
        contract: String,
        method: String,
        /// The arguments, as JSON.
        #[arg(default_value = "{}")]
        args: String,
    },
}

#[derive(Args)]
struct RequestArgs {
    /// Model id (64 hex characters); default: the first registered model.
    #[arg(long, env = "ORACLE_MODEL")]
    model: Option<ModelId>,
    #[arg(long, env = "ORACLE_MAX_TOKENS", default_value_t = 64)]
    max_tokens: u32,
    /// JSON schema the output must follow (JSON text, or a file holding it).
    #[arg(long, env = "ORACLE_SCHEMA")]
    schema: Option<String>,
    #[arg(long, env = "ORACLE_TEMPERATURE_MILLI", default_value_t = 0)]
    temperature_milli: u32,
    #[arg(long, env = "ORACLE_SEED", default_value_t = 0)]
    seed: u64,
}

impl RequestArgs {
    fn params(&self) -> Result<RequestParams> {
        let output_schema =
            match &self.schema {
                None => None,
                Some(text) if text.trim_start().starts_with('{') => Some(text.clone()),
                Some(file) => Some(std::fs::read_to_string(file).with_context(|| {
                    format!("--schema {file}: neither JSON nor a readable file")
                })?),
            };
        let params = RequestParams {
            temperature_milli: self.temperature_milli,
            top_k: 0,
            top_p_milli: oracle_protocol::TOP_P_ALL_MILLI,
            max_tokens: self.max_tokens,
            seed: self.seed,
            output_schema,
        };
        params.check().map_err(anyhow::Error::msg)?;
        Ok(params)
    }

    async fn model(&self, client: &OracleClient) -> Result<ModelId> {
        if let Some(model) = self.model {
            return Ok(model);
        }
        let models = client.list_models(0, 1).await?;
        match models.first() {
            Some(model) => Ok(model.model_id),
            None => bail!("{} has no registered model", client.contract()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::try_parse()
        .and_then(Cli::checked)
        .unwrap_or_else(|error| error.exit());
    let rpc = NearRpc::new(cli.chain.rpc.clone(), RetryPolicy::default())?;
    let mut client = OracleClient::new(rpc.clone(), cli.oracle().to_string());
    let account = match &cli.chain.credentials {
        Some(path) => Some(signer(rpc.clone(), path)?),
        None => None,
    };
    if let Some(account) = &account {
        client = client.with_signer(account.clone());
    }
    match cli.command {
        Command::Models => {
            for model in client.all_models().await? {
                println!(
                    "{}  {}  {}  max input {} B, max output {} tokens, price {} yoctoNEAR{}",
                    model.model_id,
                    model.name,
                    model.spec_version,
                    model.max_input_bytes,
                    model.max_output_tokens,
                    model.price,
                    size_pricing(&model)
                );
            }
        }
        Command::Nodes => {
            for node in client.all_nodes().await? {
                println!(
                    "{}  key {}  stake {} yoctoNEAR  {:?}  models {}",
                    node.account_id,
                    node.attestation_key,
                    node.stake,
                    node.status,
                    node.models.len()
                );
            }
        }
        Command::Fee {
            request,
            input_bytes,
        } => {
            let model = request.model(&client).await?;
            let fee = client
                .estimate_fee(&model, &request.params()?, input_bytes)
                .await?;
            println!(
                "fee {} + storage {} ({} bytes) = total {} yoctoNEAR",
                fee.fee, fee.storage, fee.storage_bytes, fee.total
            );
        }
        Command::Ask {
            input,
            request,
            wait_secs,
        } => {
            if cli.chain.credentials.is_none() {
                bail!("ask pays a fee: give --credentials (or ORACLE_CREDENTIALS)");
            }
            let model = request.model(&client).await?;
            let pending = client.request(&model, &input, &request.params()?).await?;
            println!(
                "request {} (tx {}, paid {} yoctoNEAR)",
                pending.request_id, pending.tx_hash, pending.paid
            );
            let response = pending.wait(Duration::from_secs(wait_secs)).await?;
            print_status(&response.status);
            print_attestations(&client.get_request(pending.request_id).await?);
            // No answer is a failure for a script that uses the answer.
            if let ResponseStatus::TimedOut { .. } = response.status {
                bail!(
                    "request {} timed out on chain without an answer (its fee was refunded); \
                     check that the model's nodes are running, then ask again",
                    pending.request_id
                );
            }
        }
        Command::Get { request_id } => {
            let view = client.get_request(request_id).await?;
            println!(
                "request {}  model {}  status {:?}  requester {}",
                view.request_id, view.model_id, view.status, view.requester
            );
            println!("input: {}", view.input);
            println!("{}", committee_line(&view));
            if let Some(answer) = &view.answer {
                print_status(&ResponseStatus::Resolved(answer.clone()));
            }
            print_attestations(&view);
        }
        Command::Call {
            contract,
            method,
            args,
            deposit,
            tgas,
        } => {
            let Some(account) = &account else {
                bail!("call signs a transaction: give --credentials (or ORACLE_CREDENTIALS)");
            };
            contract::call(account, &contract, &method, &args, deposit, tgas).await?;
        }
        Command::View {
            contract,
            method,
            args,
        } => contract::view(&rpc, &contract, &method, &args).await?,
        Command::Verify {
            request_id,
            reexecute,
            model_path,
            node_keys,
            chain_id,
            min_quorum,
        } => {
            let pinned = match (node_keys, chain_id) {
                (Some(path), Some(chain_id)) => Some((read_node_keys(&path)?, chain_id)),
                _ => None,
            };
            let engine = if reexecute {
                let path = kernels::model_cache::resolve_model(model_path.as_deref())?;
                Some(Arc::new(Engine::load(
                    &path,
                    KernelPath::detect(),
                    threads(),
                )?))
            } else {
                None
            };
            let verification = match (&pinned, engine) {
                (Some((keys, chain_id)), Some(engine)) => {
                    client
                        .verify_pinned_by_reexecution(request_id, chain_id, keys, engine)
                        .await?
                }
                (Some((keys, chain_id)), None) => {
                    client.verify_pinned(request_id, chain_id, keys).await?
                }
                (None, Some(engine)) => client.verify_by_reexecution(request_id, engine).await?,
                (None, None) => client.verify(request_id).await?,
            };
            if let Some(least) = min_quorum.filter(|&least| verification.quorum < least) {
                bail!(
                    "request {request_id}: the endpoint reports a quorum of {}, below the \
                     --min-quorum {least}: it may have shrunk the committee and quorum, which no \
                     signature covers",
                    verification.quorum
                );
            }
            if !verification.output_checked {
                bail!(
                    "request {request_id}: its answer holds a truncated output, whose SHA-256 \
                     (the signed output hash) cannot be checked from what the chain returns: the \
                     shown prefix could be anything. Run with --reexecute (and the model) to \
                     check the output against the signed hash"
                );
            }
            match &pinned {
                Some((_, chain_id)) => {
                    println!("against pinned node keys and chain `{chain_id}`")
                }
                None => println!(
                    "UNPINNED: node keys and chain id are the RPC endpoint's, so this proves only \
                     what that endpoint reports; pin them with --node-keys and --chain-id"
                ),
            }
            if min_quorum.is_none() {
                println!(
                    "committee and quorum as the endpoint reports them (no signature covers them; \
                     --min-quorum pins the least quorum)"
                );
            }
            println!(
                "verified request {}: {} of quorum {} agree ({}), result digest {}, output hash {}{}{}",
                verification.request_id,
                verification.agreeing.len(),
                verification.quorum,
                verification.agreeing.join(", "),
                verification.result_digest,
                verification.output_hash,
                if verification.answer.output_truncated { " (output truncated on chain)" } else { "" },
                if reexecute { "; re-execution gives the same digest and output" } else { "" },
            );
            // The whole output when re-executed (the answer's may be a prefix of it).
            let output = verification
                .reexecution
                .as_ref()
                .map_or(&verification.answer.output, |re| &re.output);
            println!("output: {output:?}");
            if !verification.unchecked.is_empty() {
                println!(
                    "not checked (no usable key known for the request's time: withdrawn, registered again since, or a weak key): {}",
                    verification.unchecked.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// The `--node-keys` file: a JSON object of node accounts and their attestation keys.
fn read_node_keys(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read --node-keys {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--node-keys {} is not a JSON object of node accounts and `ed25519:…` keys: {e}",
            path.display()
        )
    })
}

/// The signer of the `--credentials` file; an unreadable file is one line that says which
/// option named it.
fn signer(rpc: NearRpc, path: &Path) -> Result<Signer> {
    Signer::from_credentials_file(rpc, path)
        .map_err(|error| anyhow!("{error} (from --credentials / ORACLE_CREDENTIALS)"))
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn print_status(status: &ResponseStatus) {
    match status {
        ResponseStatus::Resolved(answer) => {
            println!("answer: {}", answer.output);
            println!(
                "result digest {}  output hash {}  {} bytes{}",
                answer.result_digest,
                answer.output_hash,
                answer.output_bytes,
                if answer.output_truncated {
                    " (truncated)"
                } else {
                    ""
                }
            );
        }
        ResponseStatus::TimedOut {
            message,
            refunded,
            refunded_to,
        } => match refunded_to {
            Some(account) => {
                println!("timed out: {message} (refunded {refunded} yoctoNEAR to {account})")
            }
            None => println!("timed out: {message} (nothing refunded now)"),
        },
    }
}

/// Who must answer and who has: the committee, the quorum, the nodes still awaited while the
/// request is pending (the ones to look at when it stalls), how far its commit–reveal is, and
/// its deadline.
fn committee_line(view: &RequestView) -> String {
    let mut line = format!(
        "committee {} (quorum {}), attested {}/{}",
        view.committee.join(", "),
        view.quorum,
        view.attested.len(),
        view.committee.len()
    );
    if view.status == RequestPhase::Pending {
        let awaited: Vec<&str> = view
            .committee
            .iter()
            .filter(|node| !view.attested.contains(node))
            .map(String::as_str)
            .collect();
        let reveal = if view.reveal_open {
            "reveal open".to_string()
        } else {
            format!("reveal opens at block {}", view.reveal_opens_at)
        };
        line.push_str(&format!(
            ", awaiting {}; committed {}/{}, {reveal}; times out at block {}",
            awaited.join(", "),
            view.commitments.len(),
            view.committee.len(),
            view.expires_at
        ));
    }
    if !view.slashed.is_empty() {
        line.push_str(&format!(", slashed {}", view.slashed.join(", ")));
    }
    line
}

fn print_attestations(view: &RequestView) {
    for attestation in &view.attestations {
        println!(
            "attestation {}  result {}  output {}  signature {}",
            attestation.node,
            attestation.result_digest,
            attestation.output_hash,
            attestation.signature
        );
    }
}

/// A model's fees by size as `models` prints them after its flat price (nothing without any).
fn size_pricing(model: &oracle_protocol::ModelView) -> String {
    if model.price_per_input_byte == 0 && model.price_per_output_token == 0 {
        return String::new();
    }
    format!(
        " + {} per input byte + {} per max_tokens token",
        model.price_per_input_byte, model.price_per_output_token
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("oracle-client").chain(args.iter().copied()))
            .and_then(Cli::checked)
    }

    #[test]
    fn a_pending_request_names_the_committee_nodes_still_awaited() {
        let mut view = RequestView {
            request_id: 8,
            model_id: oracle_protocol::Digest32([1; 32]),
            requester: "alice.test".into(),
            storage_refund_to: "alice.test".into(),
            input: "q".into(),
            params: RequestParams {
                temperature_milli: 0,
                top_k: 0,
                top_p_milli: 1000,
                max_tokens: 8,
                seed: 0,
                output_schema: None,
            },
            fee: 10,
            held_fee: 0,
            storage_deposit: 20,
            committee: vec!["n2.test".into(), "n0.test".into(), "n1.test".into()],
            quorum: 3,
            commitments: ["n0.test", "n1.test"]
                .map(|node| oracle_protocol::CommitmentView {
                    node: node.into(),
                    commitment: oracle_protocol::Digest32([1; 32]),
                })
                .to_vec(),
            reveal_opens_at: 41,
            reveal_open: false,
            attested: vec!["n0.test".into(), "n1.test".into()],
            attestations: Vec::new(),
            slashed: Vec::new(),
            created_at: 1,
            expires_at: 201,
            status: RequestPhase::Pending,
            answer: None,
            cleanable_at: None,
        };
        assert_eq!(
            committee_line(&view),
            "committee n2.test, n0.test, n1.test (quorum 3), attested 2/3, awaiting n2.test; \
             committed 2/3, reveal opens at block 41; times out at block 201"
        );
        view.reveal_open = true;
        assert!(committee_line(&view).contains("committed 2/3, reveal open; times out"));
        view.status = RequestPhase::TimedOut;
        view.slashed = vec!["n1.test".into()];
        assert_eq!(
            committee_line(&view),
            "committee n2.test, n0.test, n1.test (quorum 3), attested 2/3, slashed n1.test"
        );
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn chain_options_go_before_or_after_the_subcommand() {
        let after = parse(&[
            "--rpc",
            "http://127.0.0.1:3030",
            "--oracle",
            "oracle.test",
            "ask",
            "hi",
            "--credentials",
            "keys/alice.json",
            "--max-tokens",
            "4",
        ])
        .unwrap();
        assert_eq!(after.chain.rpc, ["http://127.0.0.1:3030"]);
        assert_eq!(after.oracle(), "oracle.test");
        assert_eq!(
            after.chain.credentials.as_deref(),
            Some(std::path::Path::new("keys/alice.json"))
        );
        assert!(matches!(after.command, Command::Ask { request, .. } if request.max_tokens == 4));

        let all_after = parse(&[
            "models",
            "--rpc",
            "http://a:3030,http://b:3030",
            "--oracle",
            "oracle.test",
        ])
        .unwrap();
        assert_eq!(all_after.chain.rpc, ["http://a:3030", "http://b:3030"]);
        assert_eq!(all_after.oracle(), "oracle.test");
        assert!(matches!(all_after.command, Command::Models));
    }

    #[test]
    fn an_unreadable_credentials_file_is_one_line_naming_the_option() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bob.test.json");
        let rpc =
            NearRpc::new(vec!["http://127.0.0.1:3030".into()], RetryPolicy::default()).unwrap();
        let error = signer(rpc, &path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read the credentials file {}: No such file or directory \
                 (from --credentials / ORACLE_CREDENTIALS)",
                path.display()
            )
        );
        // Nothing for `Caused by:` to repeat.
        assert_eq!(error.chain().count(), 1);
    }
}
