//! The devnet `cargo xtask devnet` runs: a `localnet` chain on a fixed port, the oracle, the
//! example dApp and the smart-asset vault deployed, and three `oracle-node` processes on the real
//! model, each with a different engine configuration. It sends a demo question and a demo claim,
//! prints the answers with their attestations and a verification by re-execution, then (unless
//! told to exit) prints how to send more and runs until Ctrl-C, SIGTERM or SIGHUP (unless
//! started under `nohup`). Every child process is stopped when the devnet (or the part of it
//! started so far) is dropped, whatever the path out, and dies with this process if it is killed
//! outright; the children have process groups of their own, so the terminal's signals reach only
//! this process.

mod demo;
mod folder;
mod report;
mod signals;
mod vault;

pub use demo::{ClaimOutcome, DemoReport, QuestionOutcome};
pub use signals::stop_signal;

use crate::cluster::{
    deploy, Deployment, Localnet, OracleNode, OracleSettings, DAPP, ORACLE, OWNER, USER,
};
use crate::process::stop_all;
use anyhow::{bail, Result};
use folder::FolderLock;
use indicatif::{ProgressBar, ProgressStyle};
use kernels::quant::KernelPath;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A funded genesis account left for the reader's own node (README's operator walkthrough).
pub const OPERATOR: &str = "operator.test";
/// How long the stopping nodes (together), then the chain, get before `kill -9`.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long the nodes get to load the model.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// How to run the devnet.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// The devnet's folder (chain data, keys, node homes); wiped at each start, locked while
    /// the devnet runs.
    pub dir: PathBuf,
    /// The chain's RPC port on 127.0.0.1 (not 0: the nodes and the demo are given it).
    pub rpc_port: u16,
    pub block_time_ms: u64,
    /// Tokens the demo question may generate.
    pub max_tokens: u32,
    /// Stop after the demo instead of running until Ctrl-C.
    pub exit_after_demo: bool,
}

/// One node's engine: the `kernels` and `threads` options of its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSetup {
    pub kernels: &'static str,
    /// 0 uses every core.
    pub threads: usize,
}

impl EngineSetup {
    /// The three configurations the nodes run: SIMD on every core, SIMD on one thread, and the
    /// scalar reference kernels. Every one gives the same bits.
    pub fn three() -> [EngineSetup; 3] {
        [
            EngineSetup {
                kernels: "auto",
                threads: 0,
            },
            EngineSetup {
                kernels: "auto",
                threads: 1,
            },
            EngineSetup {
                kernels: "scalar",
                threads: 1,
            },
        ]
    }

    /// E.g. `avx2 kernels, every core`.
    pub fn describe(&self) -> String {
        let kernels = match self.kernels {
            "auto" => KernelPath::detect().name(),
            other => other,
        };
        match self.threads {
            0 => format!("{kernels} kernels, every core"),
            1 => format!("{kernels} kernels, one thread"),
            n => format!("{kernels} kernels, {n} threads"),
        }
    }
}

/// A running devnet: the chain, the contracts and the nodes.
pub struct Devnet {
    pub dir: PathBuf,
    pub deployment: Deployment,
    /// The chain's block time: what the demo's waits scale with.
    pub block_time: Duration,
    processes: Processes,
}

/// The devnet's processes and its hold on the folder. Dropping it, from a devnet fully started
/// or one whose start failed half-way, stops the nodes started so far and the chain gracefully
/// (one SIGTERM, then SIGKILL after [`STOP_GRACE`]), then releases the folder.
struct Processes {
    localnet: Localnet,
    nodes: Vec<(OracleNode, EngineSetup)>,
    _lock: FolderLock,
}

/// Starts the devnet, runs the demo and prints it; then, unless `exit_after_demo`, prints how to
/// use the devnet and waits for Ctrl-C. The devnet is stopped on every way out.
pub async fn run(options: &DevnetOptions) -> Result<DemoReport> {
    let mut devnet = Devnet::start(options).await?;
    let report = demo::run(&mut devnet, options.max_tokens).await?;
    report::print_demo(&report);
    if !options.exit_after_demo {
        report::print_usage(&devnet);
        let signal = stop_signal().await?;
        say(&format!("  {signal} received"));
    }
    drop(devnet);
    Ok(report)
}

impl Devnet {
    /// A fresh devnet in `options.dir`: chain, contracts, three registered nodes running.
    pub async fn start(options: &DevnetOptions) -> Result<Self> {
        let lock = folder::claim(&options.dir, options.rpc_port)?;
        let address = format!("127.0.0.1:{}", options.rpc_port);
        let engines = EngineSetup::three();
        let names: Vec<String> = (0..engines.len())
            .map(|i| format!("node{i}.test"))
            .collect();
        let mut accounts: Vec<String> = [OWNER, ORACLE, DAPP, vault::VAULT, USER, OPERATOR]
            .iter()
            .map(|a| a.to_string())
            .collect();
        accounts.extend(names.iter().cloned());

        step(&format!(
            "start the chain: localnet on http://{address}, {} ms blocks",
            options.block_time_ms
        ));
        // From here on, a failure drops `processes`: what started stops gracefully.
        let mut processes = Processes {
            localnet: Localnet::start_on(
                &options.dir.join("chain"),
                options.rpc_port,
                options.block_time_ms,
                &accounts,
            )?,
            nodes: Vec::new(),
            _lock: lock,
        };
        let localnet = &processes.localnet;
        step("deploy the oracle (committee 3, quorum 3: every node must agree) and register the model; deploy the example dApp");
        let settings = OracleSettings {
            committee_size: 3,
            quorum: 3,
        };
        let deployment = deploy(localnet, settings).await?;
        println!("  model {}", deployment.model_id);
        step("deploy the smart-asset vault and fund it");
        vault::deploy(localnet, &deployment).await?;
        println!("  rule: {}", vault::RULE);

        step("init, register (10 NEAR stake) and run three oracle-node processes");
        for (name, engine) in names.iter().zip(engines) {
            let mut node = OracleNode::init(&processes.localnet, &options.dir.join(name), name)?;
            node.write_config(|config| {
                config.kernels = engine.kernels.to_string();
                config.threads = engine.threads;
            })?;
            node.register(10)?;
            println!(
                "  {name}: {}, home {}",
                engine.describe(),
                report::shown(&node.home)
            );
            node.start(&[])?;
            processes.nodes.push((node, engine));
        }
        let mut devnet = Self {
            dir: options.dir.clone(),
            deployment,
            block_time: Duration::from_millis(options.block_time_ms),
            processes,
        };
        devnet.wait_until_loaded().await?;
        Ok(devnet)
    }

    pub fn localnet(&self) -> &Localnet {
        &self.processes.localnet
    }

    /// Each node with the engine it runs.
    pub fn nodes(&self) -> &[(OracleNode, EngineSetup)] {
        &self.processes.nodes
    }

    /// An error naming the log of the first devnet process found to have exited.
    pub fn check_running(&mut self) -> Result<()> {
        self.processes.check_running()
    }

    /// Waits (with a progress bar) until every node has loaded the model and serves HTTP.
    async fn wait_until_loaded(&mut self) -> Result<()> {
        let bar = ProgressBar::new(self.nodes().len() as u64).with_style(
            ProgressStyle::with_template(
                "  {spinner} loading the model in the nodes [{bar:20}] {pos}/{len} ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let started = Instant::now();
        loop {
            if let Err(error) = self.check_running() {
                bar.abandon();
                return Err(error.context("while the nodes load the model"));
            }
            let loaded = self
                .nodes()
                .iter()
                .filter(|(node, _)| node.home.join(oracle::daemon::HTTP_ADDR_FILE).exists())
                .count() as u64;
            bar.set_position(loaded);
            if loaded == self.nodes().len() as u64 {
                bar.finish_and_clear();
                println!(
                    "  the model is loaded in every node ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if started.elapsed() > LOAD_TIMEOUT {
                bar.abandon();
                let slow: Vec<String> = self
                    .nodes()
                    .iter()
                    .filter(|(node, _)| !node.home.join(oracle::daemon::HTTP_ADDR_FILE).exists())
                    .map(|(node, _)| node.home.join("node.log").display().to_string())
                    .collect();
                bail!(
                    "the nodes did not load the model in {LOAD_TIMEOUT:?}; see {}",
                    slow.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn rpc_url(&self) -> String {
        self.localnet().url()
    }
}

impl Processes {
    /// An error naming the log of the first of them found to have exited.
    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.localnet.exited() {
            bail!(
                "the chain (localnet) exited ({status}); its log: {}",
                self.localnet.log_path().display()
            );
        }
        for (node, _) in &mut self.nodes {
            if let Some(status) = node.process().exited() {
                bail!(
                    "{} exited ({status}); its log: {}",
                    node.account,
                    node.home.join("node.log").display()
                );
            }
        }
        Ok(())
    }
}

impl Drop for Processes {
    /// Stops the nodes (one SIGTERM each, then `kill -9` to those still running after one
    /// shared grace period), then the chain (the same): at most twice [`STOP_GRACE`].
    fn drop(&mut self) {
        step("stop the nodes and the chain");
        stop_all(
            self.nodes.iter_mut().map(|(node, _)| node.process()),
            STOP_GRACE,
        );
        self.localnet.stop(STOP_GRACE);
    }
}

/// A step's headline.
fn step(text: &str) {
    say(&format!("==> {text}"));
}

/// Prints `line` on standard output, ignoring a failure: the terminal may be gone (after
/// SIGHUP), and a panic on the way out would skip stopping the devnet gracefully.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::{say, step};
    use std::process::{Command, Stdio};

    /// Set when this test binary runs as the speaker of the test below.
    const SPEAKER_ROLE: &str = "E2E_TESTS_SPEAK_TO_NOBODY";
    const TEST_NAME: &str = "devnet::tests::printing_to_a_gone_terminal_does_not_panic";

    #[test]
    fn printing_to_a_gone_terminal_does_not_panic() {
        if std::env::var_os(SPEAKER_ROLE).is_some() {
            // Standard output becomes a pipe nobody reads (as a terminal that hung up: every
            // write fails).
            let mut ends = [0; 2];
            // SAFETY: pipe(2) writes two descriptors into `ends`; close(2) and dup2(2) touch
            // only descriptors.
            unsafe {
                assert_eq!(libc::pipe(ends.as_mut_ptr()), 0);
                libc::close(ends[0]);
                assert_eq!(
                    libc::dup2(ends[1], libc::STDOUT_FILENO),
                    libc::STDOUT_FILENO
                );
            }
            step("stop the nodes and the chain");
            say("  SIGHUP received");
            std::process::exit(0);
        }
        let status = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(SPEAKER_ROLE, "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "the speaker panicked: {status}");
    }
}
