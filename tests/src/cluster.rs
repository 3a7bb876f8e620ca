//! A local oracle network of real processes, for the node tests and the benchmark: a `localnet`
//! chain (wasm-host's binary) reached over NEAR RPC, the oracle contract and the example dApp
//! deployed through the sdk's signer, and `oracle-node` processes (init, register, run), each
//! in its own home. Every process is killed when its handle is dropped, and dies with the
//! thread that started it if this process is killed outright.

use crate::freshness::newer_source;
use crate::layout::{contracts_dir, workspace_root};
use crate::process::dies_with_parent;
use crate::process::Process;
use anyhow::{bail, Context, Result};
use kernels::model_cache::{resolve_model, sha256_file};
use oracle::config::{NodeConfig, CONFIG_FILE};
use oracle_protocol::{Digest32, ModelId};
use sdk::rpc::{NearRpc, RetryPolicy, TxStatus};
use sdk::signer::Signer;
use sdk::wire::{Action, SecretKey};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const ONE_NEAR: u128 = 1_000_000_000_000_000_000_000_000;
pub const TGAS: u64 = 1_000_000_000_000;
pub const OWNER: &str = "owner.test";
pub const ORACLE: &str = "oracle.test";
pub const DAPP: &str = "dapp.test";
pub const USER: &str = "alice.test";

/// Where cargo put the workspace's binary `name`: next to the running test executable's
/// folder. Missing, or older than a workspace source it is built from, is an error.
pub fn binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("test executable has a folder")?;
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir = dir.parent().context("target profile folder")?;
    }
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build the binaries first (cargo build --workspace --bins; cargo xtask test does)",
            path.display()
        );
    }
    if let Some(source) = newer_source(&path, &workspace_root())? {
        bail!(
            "{} is stale: {} changed since it was built; run cargo build --workspace --bins \
             (cargo test does not rebuild the binaries the tests start; cargo xtask test does)",
            path.display(),
            source.display()
        );
    }
    Ok(path)
}

/// A free TCP port on 127.0.0.1 (so a restarted process can come back on the same one).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `localnet` process on a fixed port, restartable on the same data directory.
pub struct Localnet {
    pub dir: PathBuf,
    pub port: u16,
    pub block_time_ms: u64,
    accounts: Vec<String>,
    process: Process,
}

impl Localnet {
    /// Starts a chain in `dir` on a free port with `accounts` (1000 NEAR each) as genesis
    /// accounts.
    pub fn start(dir: &Path, block_time_ms: u64, accounts: &[String]) -> Result<Self> {
        Self::start_on(dir, free_port()?, block_time_ms, accounts)
    }

    /// Starts a chain in `dir` serving RPC on 127.0.0.1:`port`; its log goes to `dir`.log.
    pub fn start_on(
        dir: &Path,
        port: u16,
        block_time_ms: u64,
        accounts: &[String],
    ) -> Result<Self> {
        let mut localnet = Self {
            dir: dir.to_path_buf(),
            port,
            block_time_ms,
            accounts: accounts.to_vec(),
            process: Process::default(),
        };
        localnet.restart()?;
        Ok(localnet)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `kill -9` the chain (its RPC endpoint disappears).
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// The chain's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.process.exited()
    }

    /// (Re)starts the chain on the same data directory and port; waits until it answers.
    pub fn restart(&mut self) -> Result<()> {
        self.process.kill9();
        let addr_file = self.dir.join("rpc.addr");
        let _ = std::fs::remove_file(&addr_file);
        let mut command = Command::new(binary("localnet")?);
        command
            .args(["run", "--data-dir"])
            .arg(&self.dir)
            .args(["--rpc-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--block-time-ms", &self.block_time_ms.to_string()])
            .stdout(Stdio::null())
            .stderr(self.log_file()?);
        for account in &self.accounts {
            command.args(["--genesis-account", account]);
        }
        self.process = Process::spawn(&mut command).context("starting localnet")?;
        let started = Instant::now();
        while !addr_file.exists() {
            if let Some(status) = self.process.exited() {
                bail!(
                    "localnet exited ({status}) before serving 127.0.0.1:{}; see {}",
                    self.port,
                    self.log_path().display()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "localnet did not start serving 127.0.0.1:{} within 60 s; see {}",
                    self.port,
                    self.log_path().display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Where the chain's log goes: next to its data directory.
    pub fn log_path(&self) -> PathBuf {
        self.dir.with_extension("log")
    }

    fn log_file(&self) -> Result<std::fs::File> {
        Ok(std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?)
    }

    /// SIGTERM, then `kill -9` after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        self.process.stop(grace);
    }

    pub fn rpc(&self) -> Result<NearRpc> {
        Ok(NearRpc::new(vec![self.url()], RetryPolicy::default())?)
    }

    /// A signer for genesis account `account` (its key from the data directory).
    pub fn signer(&self, account: &str) -> Result<Signer> {
        Ok(Signer::from_credentials_file(
            self.rpc()?,
            &self.key_file(account),
        )?)
    }

    pub fn key_file(&self, account: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{account}.json"))
    }
}

/// The oracle's settings for a test network.
#[derive(Debug, Clone, Copy)]
pub struct OracleSettings {
    pub committee_size: u32,
    pub quorum: u32,
}

/// The contracts on a chain: the oracle (with the default model registered) and the dApp.
pub struct Deployment {
    pub rpc: NearRpc,
    pub owner: Signer,
    pub user: Signer,
    pub model_id: ModelId,
}

/// `outcome`, or an error naming `what` when the transaction failed.
pub fn succeed(outcome: sdk::rpc::TxOutcome, what: &str) -> Result<sdk::rpc::TxOutcome> {
    if let TxStatus::Failure(error) = &outcome.status {
        bail!("{what} failed: {error}");
    }
    Ok(outcome)
}

/// A built contract's wasm from `target/contracts`.
pub fn contract_wasm(file: &str) -> Result<Vec<u8>> {
    let path = contracts_dir().join(file);
    std::fs::read(&path).with_context(|| {
        format!(
            "{}: build the contracts first (cargo xtask build-contracts)",
            path.display()
        )
    })
}

/// Deploys and initialises the oracle and the dApp, and registers the default model.
pub async fn deploy(localnet: &Localnet, settings: OracleSettings) -> Result<Deployment> {
    let oracle = localnet.signer(ORACLE)?;
    let config = json!({
        "committee_size": settings.committee_size, "quorum": settings.quorum,
        "min_stake": (5 * ONE_NEAR).to_string(), "unbonding_blocks": 1000, "slash_bps": 1000,
        "reporter_bps": 5000, "max_output_bytes": 4096, "max_inline_output_bytes": 1024,
        "retention_blocks": 100,
        // The longest commit window: the cluster's blocks come fast (100 ms), and a node
        // (re)started with the request pending loads its model first.
        "commit_window_blocks": 150,
    });
    let code = contract_wasm("oracle_contract.wasm")?;
    succeed(
        oracle
            .send(ORACLE, vec![Action::DeployContract { code }])
            .await?,
        "deploying the oracle",
    )?;
    succeed(
        oracle
            .call(
                ORACLE,
                "new",
                &json!({"owner": OWNER, "config": config}),
                100 * TGAS,
                0,
            )
            .await?,
        "oracle new",
    )?;
    let model_path = resolve_model(None)?;
    let model_id = Digest32(sha256_file(&model_path, false)?);
    let owner = localnet.signer(OWNER)?;
    let model = json!({"model": {
        "model_id": model_id, "name": "SmolLM2-135M-Instruct-Q4_1",
        "spec_version": kernels::SPEC_VERSION, "max_input_bytes": 4096,
        "max_output_tokens": 256, "price": (ONE_NEAR / 100).to_string(),
    }});
    succeed(
        owner
            .call(ORACLE, "register_model", &model, 100 * TGAS, ONE_NEAR)
            .await?,
        "register_model",
    )?;
    let dapp = localnet.signer(DAPP)?;
    let code = contract_wasm("example_dapp.wasm")?;
    succeed(
        dapp.send(DAPP, vec![Action::DeployContract { code }])
            .await?,
        "deploying the dApp",
    )?;
    succeed(
        dapp.call(
            DAPP,
            "new",
            &json!({"oracle": ORACLE, "model_id": model_id}),
            100 * TGAS,
            0,
        )
        .await?,
        "dApp new",
    )?;
    Ok(Deployment {
        rpc: localnet.rpc()?,
        owner,
        user: localnet.signer(USER)?,
        model_id,
    })
}

impl Deployment {
    /// A view call on the final head.
    pub async fn view(&self, contract: &str, method: &str, args: Value) -> Result<Value> {
        Ok(self.rpc.view_json(contract, method, &args).await?)
    }

    /// `alice.test` asks the dApp `question` (greedy, `max_tokens`), paying the oracle's
    /// estimate for a request the dApp makes on her behalf plus the dApp's storage deposit for
    /// the question; returns the ask transaction's hash (its outcome waits for the answer).
    pub async fn ask(&self, question: &str, max_tokens: u32) -> Result<String> {
        let estimate = self
            .view(
                ORACLE,
                "estimate_fee",
                json!({"model_id": self.model_id, "params": {"temperature_milli": 0, "top_k": 0,
                    "top_p_milli": 1000, "max_tokens": max_tokens, "seed": "0"},
                    "input_bytes": question.len(), "storage_refund_to": USER}),
            )
            .await?;
        let storage = self
            .view(
                DAPP,
                "question_storage_deposit",
                json!({"question_bytes": question.len()}),
            )
            .await?;
        let deposit: u128 = estimate["total"]
            .as_str()
            .context("estimate_fee.total")?
            .parse::<u128>()?
            + storage
                .as_str()
                .context("question_storage_deposit")?
                .parse::<u128>()?;
        let args = json!({"question": question, "max_tokens": max_tokens});
        let action = Action::FunctionCall(Box::new(sdk::wire::FunctionCallAction {
            method_name: "ask".into(),
            args: serde_json::to_vec(&args)?,
            gas: 200 * TGAS,
            deposit,
        }));
        Ok(self.user.submit(DAPP, vec![action]).await?)
    }

    /// The oracle's request `request_id` (`null` when it does not exist).
    pub async fn request(&self, request_id: u64) -> Result<Value> {
        self.view(ORACLE, "get_request", json!({"request_id": request_id}))
            .await
    }

    /// Waits until `check` holds for request `request_id`, or `timeout`.
    pub async fn wait_request(
        &self,
        request_id: u64,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let started = Instant::now();
        loop {
            if let Ok(request) = self.request(request_id).await {
                if check(&request) {
                    return Ok(request);
                }
                if started.elapsed() > timeout {
                    bail!("request {request_id} after {timeout:?}: {request}");
                }
            } else if started.elapsed() > timeout {
                bail!("request {request_id}: chain unreachable for {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The dApp's question `question_id`, once it is no longer waiting.
    pub async fn wait_answer(&self, question_id: u64, timeout: Duration) -> Result<Value> {
        let started = Instant::now();
        loop {
            let question = self
                .view(DAPP, "get_question", json!({"question_id": question_id}))
                .await
                .unwrap_or(Value::Null);
            if !question.is_null() && question["answer"] != json!("waiting") {
                return Ok(question);
            }
            if started.elapsed() > timeout {
                bail!("question {question_id} unanswered after {timeout:?}: {question}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The stake of node `account` (yoctoNEAR).
    pub async fn stake(&self, account: &str) -> Result<u128> {
        let node = self
            .view(ORACLE, "get_node", json!({"account_id": account}))
            .await?;
        Ok(node["stake"].as_str().context("stake")?.parse()?)
    }
}

/// An `oracle-node` home and, while it runs, its process.
pub struct OracleNode {
    pub account: String,
    pub home: PathBuf,
    env: Vec<(String, String)>,
    process: Process,
}

impl OracleNode {
    /// `oracle-node init` for genesis account `account` of `localnet` (whose key becomes the
    /// node's account key), configured for the chain through the environment.
    pub fn init(localnet: &Localnet, home: &Path, account: &str) -> Result<Self> {
        let status = dies_with_parent(&mut Command::new(binary("oracle-node")?))
            .args(["init", "--home"])
            .arg(home)
            .args(["--account-id", account])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("oracle-node init failed for {account}");
        }
        std::fs::copy(localnet.key_file(account), home.join("keys/account.json"))?;
        let env = [
            ("ORACLE_NODE_RPC_URLS", localnet.url()),
            ("ORACLE_NODE_ORACLE_CONTRACT", ORACLE.to_string()),
            ("ORACLE_NODE_HTTP_ADDR", "127.0.0.1:0".to_string()),
            ("ORACLE_NODE_POLL_INTERVAL_MS", "200".to_string()),
            ("ORACLE_NODE_THREADS", "1".to_string()),
            ("ORACLE_NODE_RPC_ATTEMPTS", "2".to_string()),
            ("ORACLE_NODE_RPC_TIMEOUT_SECS", "15".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(Self {
            account: account.to_string(),
            home: home.to_path_buf(),
            env,
            process: Process::default(),
        })
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut command = Command::new(binary("oracle-node")?);
        command.args(args).arg("--home").arg(&self.home);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        Ok(command)
    }

    /// `oracle-node register --stake N`; its standard output.
    pub fn register(&self, stake_near: u32) -> Result<String> {
        let mut command = self.command(&["register", "--stake", &stake_near.to_string()])?;
        let output = dies_with_parent(&mut command).output()?;
        if !output.status.success() {
            bail!(
                "oracle-node register failed for {}: {}",
                self.account,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `oracle-node run` with `faults` (`ORACLE_NODE_*` variables) on top of the node's env;
    /// its log goes to `home/node.log`.
    pub fn start(&mut self, faults: &[(&str, &str)]) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("node.log"))?;
        let _ = std::fs::remove_file(self.home.join("http.addr"));
        let mut command = self.command(&["run"])?;
        command
            .envs(faults.iter().copied())
            .stdout(Stdio::null())
            .stderr(log);
        self.process = Process::spawn(&mut command)
            .with_context(|| format!("starting oracle-node for {}", self.account))?;
        Ok(())
    }

    /// Writes the chain settings (and every other option the environment set) into the home's
    /// `config.toml`, with `edit` applied, and stops passing them through the environment: then
    /// `oracle-node <command> --home H` needs nothing else.
    pub fn write_config(&mut self, edit: impl FnOnce(&mut NodeConfig)) -> Result<()> {
        let mut config = NodeConfig::load_with_env(&self.home, self.env.clone())?;
        edit(&mut config);
        std::fs::write(self.home.join(CONFIG_FILE), config.to_toml())?;
        self.env.clear();
        Ok(())
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// The running daemon's HTTP address (once it has written it).
    pub fn http_addr(&self, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(self.home.join("http.addr")) {
                return Ok(text.trim().to_string());
            }
            if started.elapsed() > timeout {
                bail!("{} wrote no http.addr in {timeout:?}", self.account);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's journal (`/jobs`, every page).
    pub async fn jobs(&self) -> Result<Vec<oracle::journal::Job>> {
        let addr = self.http_addr(Duration::from_secs(120))?;
        let mut jobs: Vec<oracle::journal::Job> = Vec::new();
        loop {
            let path = match jobs.last() {
                Some(last) => format!("/jobs?after={}", last.request_id),
                None => "/jobs".to_string(),
            };
            let page: Vec<oracle::journal::Job> =
                oracle::commands::status::fetch_json(&addr, &path).await?;
            if page.is_empty() {
                return Ok(jobs);
            }
            jobs.extend(page);
        }
    }

    /// `oracle-node <args> --home H` to completion: exit status and standard output.
    pub fn run_command(&self, args: &[&str]) -> Result<(ExitStatus, String)> {
        let mut command = self.command(args)?;
        let output = dies_with_parent(&mut command)
            .stderr(Stdio::null())
            .output()?;
        Ok((
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ))
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("node.log")).unwrap_or_default()
    }

    /// The node key's secret, for tests that sign as the node.
    pub fn account_key(&self) -> Result<SecretKey> {
        Ok(sdk::wire::Credentials::read(&self.home.join("keys/account.json"))?.1)
    }
}

/// A whole network: a chain with the contracts deployed and `nodes` initialised and registered
/// node homes (not yet running).
pub struct Cluster {
    pub localnet: Localnet,
    pub deployment: Deployment,
    pub nodes: Vec<OracleNode>,
}

impl Cluster {
    /// The last `lines` lines of the chain's log and of every node's, for a failing test to
    /// print (the logs live in the test's temporary directory, gone once it ends).
    pub fn log_tails(&self, lines: usize) -> String {
        let tail = |name: &str, text: &str| {
            let all: Vec<&str> = text.lines().collect();
            let kept = &all[all.len().saturating_sub(lines)..];
            format!(
                "----- {name} (last {} lines)\n{}\n",
                kept.len(),
                kept.join("\n")
            )
        };
        let chain = std::fs::read_to_string(self.localnet.log_path()).unwrap_or_default();
        let mut out = tail("localnet", &chain);
        for (index, node) in self.nodes.iter().enumerate() {
            out += &tail(&format!("node {index}"), &node.log());
        }
        out
    }

    pub async fn new(
        dir: &Path,
        nodes: usize,
        block_time_ms: u64,
        settings: OracleSettings,
    ) -> Result<Self> {
        let names: Vec<String> = (0..nodes).map(|i| format!("node{i}.test")).collect();
        let mut accounts: Vec<String> = [OWNER, ORACLE, DAPP, USER]
            .iter()
            .map(|a| a.to_string())
            .collect();
        accounts.extend(names.iter().cloned());
        let localnet = Localnet::start(&dir.join("chain"), block_time_ms, &accounts)?;
        let deployment = deploy(&localnet, settings).await?;
        let mut homes = Vec::new();
        for name in &names {
            let node = OracleNode::init(&localnet, &dir.join(name), name)?;
            node.register(10)?;
            homes.push(node);
        }
        Ok(Self {
            localnet,
            deployment,
            nodes: homes,
        })
    }
}
