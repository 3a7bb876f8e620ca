//! The node's configuration: `config.toml` in the node's home directory, every option
//! overridable from the environment as `ORACLE_NODE_<OPTION>` (upper case; options of the
//! `[fault_injection]` section as `ORACLE_NODE_FAULT_INJECTION_<OPTION>`). The environment wins
//! over the file; options absent from both take the defaults documented on each field (and in
//! the commented example `init` writes).

use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

pub const CONFIG_FILE: &str = "config.toml";
/// Prefix of the environment variables that override options.
pub const ENV_PREFIX: &str = "ORACLE_NODE_";
/// Most pending requests one `list_pending_assignments` page scans: the oracle contract's
/// `MAX_PAGE` (contract/oracle/src/models.rs).
pub const MAX_PAGE_SIZE: u32 = 200;
/// Most gas a NEAR function call may attach, in TGas.
pub const MAX_ATTESTATION_TGAS: u64 = 300;
/// The least gas an attestation may carry, in TGas: the attestation that resolves a request
/// (quorum, payments, the requester's callback resumed) with the longest output must fit; one
/// that runs out lands as a failure, and a reveal lost that way is slashed.
pub const MIN_ATTESTATION_TGAS: u64 = 30;
/// The longest wait between two looks at the pending requests, in milliseconds: a request's
/// commit window can be as short as 10 blocks (about 6 s on NEAR).
pub const MAX_POLL_INTERVAL_MS: u64 = 5000;
/// The longest `batch_window_ms`: every request that finds the engine idle waits it before
/// computing, and a request's commit window can be as short as 10 blocks (about 6 s on NEAR),
/// which the poll interval, the computation and the commitment share.
pub const MAX_BATCH_WINDOW_MS: u64 = 1000;
/// Environment variables with the prefix that are not options (read by the command line).
const NOT_OPTIONS: [&str; 2] = ["HOME", "LOG"];

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(
        "no node home at {home} (no config.toml): create one with \
         `oracle-node init --home {home} --account-id <id>`"
    )]
    NoHome { home: PathBuf },
    // The cause is in the message and not a `source` too, or `Error: …` would print it twice
    // (`Caused by: …`).
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a valid node config: {error}")]
    Parse {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("environment variable {variable} names no config option (see oracle/README.md)")]
    UnknownVariable { variable: String },
    #[error("environment variable {variable}: {message}")]
    BadVariable { variable: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// Everything a node needs to know. Paths are absolute, `~/…` from the user's home directory, or
/// relative to the node's home directory (`NodeConfig::path_in`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's NEAR account.
    pub account_id: String,
    /// The oracle contract's account. Default: "oracle.test".
    #[serde(default = "default_oracle_contract")]
    pub oracle_contract: String,
    /// NEAR JSON-RPC endpoints, tried in order (failover). Default: ["http://127.0.0.1:3030"].
    /// From the environment: a comma-separated list.
    #[serde(default = "default_rpc_urls")]
    pub rpc_urls: Vec<String>,
    /// The account's full-access key, in NEAR's credentials JSON format.
    /// Default: "keys/account.json".
    #[serde(default = "default_account_key")]
    pub account_key: PathBuf,
    /// The ed25519 key that signs attestations (kept apart from the account key: it may not be
    /// the same file).
    /// Default: "keys/attestation.json".
    #[serde(default = "default_attestation_key")]
    pub attestation_key: PathBuf,
    /// A GGUF file to serve; the default model from the cache when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// The job journal (an embedded database). Default: "journal.redb".
    #[serde(default = "default_journal")]
    pub journal: PathBuf,
    /// Hours a finished job stays in the journal before it is pruned, at least 1 (far longer
    /// than a request stays open, so a pruned request is never accepted again). Default: 168.
    #[serde(default = "default_journal_retention_hours")]
    pub journal_retention_hours: u64,
    /// Address the HTTP server with /metrics and /health listens on: `IP:port` (or
    /// `host:port`). Default: "127.0.0.1:9100".
    #[serde(default = "default_http_addr")]
    pub http_addr: String,
    /// Milliseconds between two looks at the pending requests. Default: 1000.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Milliseconds between two reads of this node's entry on chain (its standing: active,
    /// jailed, unbonding); a jailed node sends `unjail_node` at the first read from the block
    /// it may (stake and engine permitting), and waits this long after a refusal, twice as
    /// long after each further one in a row, at most 1 hour. Default: 10000.
    #[serde(default = "default_standing_interval_ms")]
    pub standing_interval_ms: u64,
    /// Pending requests scanned per `list_pending_assignments` page, 1 to 200 (the contract's
    /// largest page).
    /// Default: 50.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most jobs accepted and not committed yet (to compute or commit) at once; the watcher
    /// accepts no more. Jobs committed and waiting for their reveal phase do not count (they
    /// hold no engine or commit place), up to four times this many unfinished in all (each
    /// reads its request every poll interval). Default: 32.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Kernels: "auto" (the fastest this CPU has), "scalar", "avx2", "avx512", or "cuda" /
    /// "cuda:N" (GPU N; a node built with `--features cuda`). Every choice gives the same bits.
    /// Default: "auto".
    #[serde(default = "default_kernels")]
    pub kernels: String,
    /// Engine threads; 0 uses every core. Default: 0.
    #[serde(default)]
    pub threads: usize,
    /// Most requests the engine runs together. Default: 8.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Milliseconds a request that finds the engine idle waits for company, 0 to 1000
    /// ([`MAX_BATCH_WINDOW_MS`]). Default: 20.
    #[serde(default = "default_batch_window_ms")]
    pub batch_window_ms: u64,
    /// Gas attached to `commit_attestation` and `submit_attestation`, in TGas, 30 to 300.
    /// Default: 100.
    #[serde(default = "default_attestation_tgas")]
    pub attestation_tgas: u64,
    /// Attempts per RPC call across the endpoints before it counts as failed. Default: 4.
    #[serde(default = "default_rpc_attempts")]
    pub rpc_attempts: u32,
    /// Seconds one RPC request may take, at least 1. Default: 20.
    #[serde(default = "default_rpc_timeout_secs")]
    pub rpc_timeout_secs: u64,
    /// Test-only misbehaviour; everything off by default.
    #[serde(default, skip_serializing_if = "FaultInjection::is_off")]
    pub fault_injection: FaultInjection,
}

/// Faults a node can be told to commit, to test the network and the node's recovery. Each one is
/// logged loudly at start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultInjection {
    /// Attest a different output and digest than the engine's: a byzantine node.
    #[serde(default)]
    pub corrupt_output: bool,
    /// Submit attestations with a signature that does not verify.
    #[serde(default)]
    pub bad_signature: bool,
    /// Abort the process right after journaling a computed result ("compute"), right after
    /// journaling its commitment as landed, before the reveal ("commit"), or right after
    /// sending an attestation transaction, before journaling its outcome ("submit").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after: Option<CrashPoint>,
    /// Fail this many inference runs as this machine's fault (as a device error would), one
    /// per try of a job, before computing normally: an engine that keeps failing.
    #[serde(default)]
    pub fail_inferences: u32,
}

/// Where `crash_after` aborts the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    Compute,
    /// Once the commitment is on chain and journaled, before the reveal.
    Commit,
    Submit,
}

impl FaultInjection {
    pub fn is_off(&self) -> bool {
        *self == FaultInjection::default()
    }
}

fn default_oracle_contract() -> String {
    "oracle.test".into()
}
fn default_rpc_urls() -> Vec<String> {
    vec!["http://127.0.0.1:3030".into()]
}
fn default_account_key() -> PathBuf {
    "keys/account.json".into()
}
fn default_attestation_key() -> PathBuf {
    "keys/attestation.json".into()
}
fn default_journal() -> PathBuf {
    "journal.redb".into()
}
fn default_journal_retention_hours() -> u64 {
    168
}
fn default_http_addr() -> String {
    "127.0.0.1:9100".into()
}
fn default_poll_interval_ms() -> u64 {
    1000
}
fn default_standing_interval_ms() -> u64 {
    10_000
}
fn default_page_size() -> u32 {
    50
}
fn default_max_in_flight() -> usize {
    32
}
fn default_kernels() -> String {
    "auto".into()
}
fn default_max_batch() -> usize {
    8
}
fn default_batch_window_ms() -> u64 {
    20
}
fn default_attestation_tgas() -> u64 {
    100
}
fn default_rpc_attempts() -> u32 {
    4
}
fn default_rpc_timeout_secs() -> u64 {
    20
}

impl NodeConfig {
    pub fn new(account_id: String) -> Self {
        toml::from_str(&format!("account_id = {}", toml_string(&account_id)))
            .expect("every other option has a default")
    }

    /// Reads `home/config.toml` and applies the `ORACLE_NODE_*` variables of this process.
    pub fn load(home: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(home, std::env::vars())
    }

    /// Reads `home/config.toml` and applies the `ORACLE_NODE_*` variables among `env`.
    pub fn load_with_env(
        home: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let path = home.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NoHome {
                    home: home.to_path_buf(),
                }
            } else {
                ConfigError::Read {
                    path: path.clone(),
                    error,
                }
            }
        })?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.clone(),
            error,
        })?;
        apply_env(&mut table, env)?;
        let mut config: NodeConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|error| ConfigError::Parse {
                    path: path.clone(),
                    error,
                })?;
        config.move_into_todays_bounds();
        config.check()?;
        Ok(config)
    }

    /// Moves the settings older versions allowed into today's bounds, with a warning, rather
    /// than refuse them: a node upgraded with such a config must still start and reveal what
    /// it committed to. An `attestation_tgas` of 1 to 29 is raised to
    /// [`MIN_ATTESTATION_TGAS`] (unused gas is refunded), a `poll_interval_ms` above
    /// [`MAX_POLL_INTERVAL_MS`] lowered to it, and a `batch_window_ms` above
    /// [`MAX_BATCH_WINDOW_MS`] to that.
    fn move_into_todays_bounds(&mut self) {
        if (1..MIN_ATTESTATION_TGAS).contains(&self.attestation_tgas) {
            tracing::warn!(
                configured = self.attestation_tgas,
                used = MIN_ATTESTATION_TGAS,
                "attestation_tgas is below today's minimum: a reveal that runs out of gas is \
                 lost and slashed; using the minimum (set it in config.toml to silence this)"
            );
            self.attestation_tgas = MIN_ATTESTATION_TGAS;
        }
        if self.poll_interval_ms > MAX_POLL_INTERVAL_MS {
            tracing::warn!(
                configured = self.poll_interval_ms,
                used = MAX_POLL_INTERVAL_MS,
                "poll_interval_ms is above today's maximum: a request's commit window can be as \
                 short as 10 blocks; using the maximum (set it in config.toml to silence this)"
            );
            self.poll_interval_ms = MAX_POLL_INTERVAL_MS;
        }
        if self.batch_window_ms > MAX_BATCH_WINDOW_MS {
            tracing::warn!(
                configured = self.batch_window_ms,
                used = MAX_BATCH_WINDOW_MS,
                "batch_window_ms is above today's maximum: every request that finds the engine \
                 idle waits it, and a commit window can be as short as 10 blocks; using the \
                 maximum (set it in config.toml to silence this)"
            );
            self.batch_window_ms = MAX_BATCH_WINDOW_MS;
        }
    }

    /// Bounds that no valid configuration breaks.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.rpc_urls.is_empty() {
            return invalid("rpc_urls is empty");
        }
        if self.poll_interval_ms == 0 || self.standing_interval_ms == 0 || self.page_size == 0 {
            return invalid(
                "poll_interval_ms, standing_interval_ms and page_size must be at least 1",
            );
        }
        if self.max_in_flight == 0 || self.max_batch == 0 || self.rpc_attempts == 0 {
            return invalid("max_in_flight, max_batch and rpc_attempts must be at least 1");
        }
        if self.page_size > MAX_PAGE_SIZE {
            return invalid(&format!(
                "page_size {} is above {MAX_PAGE_SIZE}, the most the oracle contract returns per page",
                self.page_size
            ));
        }
        if !(MIN_ATTESTATION_TGAS..=MAX_ATTESTATION_TGAS).contains(&self.attestation_tgas) {
            return invalid(&format!(
                "attestation_tgas {} is not between {MIN_ATTESTATION_TGAS} and \
                 {MAX_ATTESTATION_TGAS} (unused gas is refunded: a higher value costs nothing)",
                self.attestation_tgas
            ));
        }
        if self.poll_interval_ms > MAX_POLL_INTERVAL_MS {
            return invalid(&format!(
                "poll_interval_ms {} is above {MAX_POLL_INTERVAL_MS}: a request's commit window \
                 can be as short as 10 blocks, and a node that looks less often misses it",
                self.poll_interval_ms
            ));
        }
        if self.batch_window_ms > MAX_BATCH_WINDOW_MS {
            return invalid(&format!(
                "batch_window_ms {} is above {MAX_BATCH_WINDOW_MS}: every request that finds the \
                 engine idle waits it, and a request's commit window can be as short as 10 \
                 blocks, which a node that waits long misses",
                self.batch_window_ms
            ));
        }
        if let Err(message) = check_listen_addr(&self.http_addr) {
            return invalid(&message);
        }
        if self.rpc_timeout_secs == 0 || self.journal_retention_hours == 0 {
            return invalid("rpc_timeout_secs and journal_retention_hours must be at least 1");
        }
        if self.attestation_key == self.account_key {
            return invalid(
                "attestation_key and account_key are the same file: attestations are signed with \
                 a key of their own (oracle-node init writes one)",
            );
        }
        if let Err(message) = crate::engine::EngineDevice::from_name(&self.kernels) {
            return invalid(&message);
        }
        for (name, path) in self.paths() {
            if let Err(message) = below_user_home(path) {
                return invalid(&format!("{name} {message}"));
            }
        }
        Ok(())
    }

    /// The file as `init` writes it: every option with a comment above it (what it is, its unit,
    /// its bounds and default), set to this config's value; unset options (and an unset
    /// `[fault_injection]` table) are written commented out, with an example value. It reads
    /// back as this config.
    pub fn to_toml(&self) -> String {
        let table = |config: &NodeConfig| match toml::Value::try_from(config) {
            Ok(toml::Value::Table(table)) => table,
            other => panic!("a config serialises to a table, not {other:?}"),
        };
        let mut out = String::from(
            "# oracle-node configuration. Paths are absolute, `~/...` from your home directory, or\n\
             # relative to this directory. Every option can also be set as ORACLE_NODE_<OPTION>\n\
             # (fault_injection options as ORACLE_NODE_FAULT_INJECTION_<OPTION>); the environment\n\
             # wins over this file.\n",
        );
        write_options(
            &mut out,
            "",
            Some(&table(self)),
            &table(&self.with_every_option_set()),
            &table(&NodeConfig::new(String::new()).with_every_option_set()),
        );
        out
    }

    /// This config with its unset options set to example values, so that its serialisation has
    /// every key.
    fn with_every_option_set(&self) -> NodeConfig {
        NodeConfig {
            model: Some(
                self.model
                    .clone()
                    .unwrap_or_else(|| "/path/to/model.gguf".into()),
            ),
            fault_injection: FaultInjection {
                crash_after: Some(
                    self.fault_injection
                        .crash_after
                        .unwrap_or(CrashPoint::Compute),
                ),
                ..self.fault_injection.clone()
            },
            ..self.clone()
        }
    }

    /// A path option resolved: an absolute path as it is, `~` and `~/…` under the user's home
    /// directory (`$HOME`), any other path under the node's `home`. `~user/…` is an error (only
    /// your own home is expanded), and so is `~` while HOME is unset or relative.
    pub fn path_in(home: &Path, path: &Path) -> Result<PathBuf, ConfigError> {
        let user_home = std::env::var_os("HOME").map(PathBuf::from);
        resolve_path(home, user_home.as_deref(), path)
    }

    /// The path options, by name.
    fn paths(&self) -> impl Iterator<Item = (&'static str, &Path)> {
        [
            ("account_key", Some(self.account_key.as_path())),
            ("attestation_key", Some(self.attestation_key.as_path())),
            ("model", self.model.as_deref()),
            ("journal", Some(self.journal.as_path())),
        ]
        .into_iter()
        .filter_map(|(name, path)| Some((name, path?)))
    }
}

/// Whether `addr` is something the HTTP server can listen on: `IP:port`, or `host:port` (the
/// host resolved when the node binds it).
fn check_listen_addr(addr: &str) -> Result<(), String> {
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let host_port = addr.rsplit_once(':').filter(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && port.parse::<u16>().is_ok()
    });
    match host_port {
        Some(_) => Ok(()),
        None => Err(format!(
            "http_addr `{addr}` is not an address to listen on: write IP:port, without \
             `http://` — \"127.0.0.1:9100\" (this machine only), \"0.0.0.0:9100\" (every \
             interface), port 0 for any free port"
        )),
    }
}

/// `path` resolved as `NodeConfig::path_in` does, with `user_home` for `~`.
fn resolve_path(
    node_home: &Path,
    user_home: Option<&Path>,
    path: &Path,
) -> Result<PathBuf, ConfigError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let Some(below_user_home) = below_user_home(path).map_err(ConfigError::Invalid)? else {
        return Ok(node_home.join(path));
    };
    let user_home = user_home.filter(|home| home.is_absolute()).ok_or_else(|| {
        ConfigError::Invalid(format!(
            "`{}`: `~` stands for your home directory, but HOME is not set to an absolute \
                 path; set HOME, or write the absolute path",
            path.display()
        ))
    })?;
    Ok(if below_user_home.as_os_str().is_empty() {
        user_home.to_path_buf()
    } else {
        user_home.join(below_user_home)
    })
}

/// For a path that starts with `~` (the user's home), the rest of it; `None` for any other
/// path. `~user` (another user's home) is refused.
fn below_user_home(path: &Path) -> Result<Option<&Path>, String> {
    let mut components = path.components();
    match components.next() {
        Some(Component::Normal(first)) if first == "~" => Ok(Some(components.as_path())),
        Some(Component::Normal(first)) if first.as_encoded_bytes().starts_with(b"~") => {
            Err(format!(
                "`{}`: only `~` and `~/…` (your own home directory) are expanded, not `~user`; \
                 write the absolute path (or `./{}` for a file in the node's home)",
                path.display(),
                path.display()
            ))
        }
        _ => Ok(None),
    }
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// What the comment above an option says when the option is absent from the file.
enum WhenAbsent {
    /// It takes the value of a new config, written as "Default: <value>.".
    Default,
    /// It is unset; the text says what that means.
    Unset(&'static str),
    /// The file must set it.
    Required,
}

/// The comment `init` writes above an option.
struct OptionDoc {
    /// The option's key; those of a table's options are prefixed with the table's key and a dot.
    key: &'static str,
    /// What the option is, its unit and bounds.
    about: &'static str,
    when_absent: WhenAbsent,
}

/// The comments `init` writes, in the order it writes the options (the fields' order). Every
/// option needs one: the tests fail for an option without.
const OPTION_DOCS: &[OptionDoc] = &[
    OptionDoc {
        key: "account_id",
        about: "The node's NEAR account: it stakes, and sends the attestations.",
        when_absent: WhenAbsent::Required,
    },
    OptionDoc {
        key: "oracle_contract",
        about: "The oracle contract's account.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "rpc_urls",
        about: "NEAR JSON-RPC endpoints, tried in order (failover); at least one.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "account_key",
        about: "The account's full-access key file, in NEAR's credentials JSON format \
                (e.g. ~/.near-credentials/testnet/you.testnet.json).",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "attestation_key",
        about: "The ed25519 key file attestations are signed with (NEAR credentials JSON); not \
                the account key's file.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "model",
        about: "The GGUF model file to serve.",
        when_absent: WhenAbsent::Unset("the default model, from the cache"),
    },
    OptionDoc {
        key: "journal",
        about: "The job journal (an embedded database file).",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "journal_retention_hours",
        about: "Hours a finished job stays in the journal before it is pruned (hourly); at \
                least 1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "http_addr",
        about: "Address the HTTP server with /metrics, /health and /jobs listens on, IP:port \
                (port 0: any free port; the bound address is written to http.addr).",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "poll_interval_ms",
        about: "Milliseconds between two looks at the pending requests; 1 to 5000.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "standing_interval_ms",
        about: "Milliseconds between two reads of this node's entry on chain (active, jailed, \
                unbonding); a jailed node sends unjail_node at the first read from the block it \
                may, and waits this long after a refusal, doubling with each refusal in a row up \
                to 1 hour; at least 1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "page_size",
        about: "Pending requests scanned per list_pending_assignments page, 1 to 200 (the \
                contract's largest page).",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "max_in_flight",
        about: "Most jobs accepted and not committed yet (to compute or commit) at once, and a \
                quarter of the most unfinished in all (back-pressure); at least 1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "kernels",
        about: "Engine kernels: \"auto\" (the fastest this CPU has), \"scalar\", \"avx2\", \
                \"avx512\", or \"cuda\" / \"cuda:N\" (GPU N; a node built with --features cuda). \
                Every choice gives the same bits.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "threads",
        about: "Engine threads; 0 uses every core.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "max_batch",
        about: "Most requests the engine runs together; at least 1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "batch_window_ms",
        about: "Milliseconds a request that finds the engine idle waits for company; 0 to \
                1000.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "attestation_tgas",
        about: "Gas attached to commit_attestation and submit_attestation, in TGas, 30 to 300.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "rpc_attempts",
        about: "Attempts per RPC call across the endpoints before it counts as failed; at least \
                1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "rpc_timeout_secs",
        about: "Seconds one RPC request may take; at least 1.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "fault_injection",
        about: "Test-only faults, to test the network and the node's recovery; a node with any \
                on logs them loudly at start.",
        when_absent: WhenAbsent::Unset("every fault off"),
    },
    OptionDoc {
        key: "fault_injection.corrupt_output",
        about: "Attest a different output and digest than the engine's: a byzantine node.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "fault_injection.bad_signature",
        about: "Submit attestations with a signature that does not verify.",
        when_absent: WhenAbsent::Default,
    },
    OptionDoc {
        key: "fault_injection.crash_after",
        about: "Abort the process right after journaling a computed result (\"compute\"), \
                right after journaling its commitment as landed, before the reveal \
                (\"commit\"), or right after sending an attestation transaction, before \
                journaling its outcome (\"submit\").",
        when_absent: WhenAbsent::Unset("never"),
    },
    OptionDoc {
        key: "fault_injection.fail_inferences",
        about: "Fail this many inference runs as this machine's fault (as a device error would), \
                one per try of a job, before computing normally.",
        when_absent: WhenAbsent::Default,
    },
];

/// Columns of the comments `init` writes, "# " included.
const COMMENT_WIDTH: usize = 96;

/// Writes the options of one table of the config to `out`, each after its comment, the plain
/// values before the tables (as TOML wants). `set` holds the options the config sets (`None`:
/// the table itself is unset), `every` every option with a value (the set one or an example),
/// `defaults` every option of a new config; `prefix` is the table's key and a dot ("" at the
/// top). Options that are not set are written commented out.
fn write_options(
    out: &mut String,
    prefix: &str,
    set: Option<&toml::Table>,
    every: &toml::Table,
    defaults: &toml::Table,
) {
    let documented = OPTION_DOCS
        .iter()
        .filter_map(|doc| doc.key.strip_prefix(prefix))
        .filter(|key| !key.contains('.') && every.contains_key(*key));
    let undocumented = every
        .keys()
        .map(String::as_str)
        .filter(|key| option_doc(&format!("{prefix}{key}")).is_none());
    let keys: Vec<&str> = documented.chain(undocumented).collect();
    let (tables, values): (Vec<&str>, Vec<&str>) =
        keys.into_iter().partition(|key| every[*key].is_table());
    for (index, key) in values.into_iter().enumerate() {
        // A blank line between options, and between the file's header and the first one.
        if index > 0 || prefix.is_empty() {
            out.push('\n');
        }
        let value = set.and_then(|set| set.get(key));
        write_comment(out, &format!("{prefix}{key}"), defaults.get(key));
        let unset_mark = if value.is_some() { "" } else { "# " };
        let value = value.unwrap_or(&every[key]);
        out.push_str(&format!("{unset_mark}{key} = {value}\n"));
    }
    for key in tables {
        let path = format!("{prefix}{key}");
        let table = set
            .and_then(|set| set.get(key))
            .and_then(toml::Value::as_table);
        out.push('\n');
        write_comment(out, &path, None);
        let unset_mark = if table.is_some() { "" } else { "# " };
        out.push_str(&format!("{unset_mark}[{path}]\n"));
        let empty = toml::Table::new();
        write_options(
            out,
            &format!("{path}."),
            table,
            every[key].as_table().expect("partitioned as a table"),
            defaults
                .get(key)
                .and_then(toml::Value::as_table)
                .unwrap_or(&empty),
        );
    }
}

/// The documentation of the option at `path` ("key", or "table.key").
fn option_doc(path: &str) -> Option<&'static OptionDoc> {
    OPTION_DOCS.iter().find(|doc| doc.key == path)
}

/// Writes the comment above the option at `path`, wrapped to `COMMENT_WIDTH`, with `default`,
/// the value of a new config, as its default. Nothing for an undocumented option.
fn write_comment(out: &mut String, path: &str, default: Option<&toml::Value>) {
    let Some(doc) = option_doc(path) else {
        return;
    };
    // The default stays on one line: a value cut in two would read as two comments.
    let absent = match (&doc.when_absent, default) {
        (WhenAbsent::Default, Some(default)) => vec![format!("Default: {default}.")],
        (WhenAbsent::Default, None) => Vec::new(),
        (WhenAbsent::Unset(meaning), _) => format!("Unset by default: {meaning}.")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        (WhenAbsent::Required, _) => vec!["Required.".to_string()],
    };
    let mut line = String::from("#");
    for word in doc
        .about
        .split_whitespace()
        .chain(absent.iter().map(String::as_str))
    {
        if line.len() + 1 + word.len() > COMMENT_WIDTH && line != "#" {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// Overlays the `ORACLE_NODE_*` variables among `env` on `table`. An empty variable counts as
/// unset. Each value is checked alone (on the defaults), so one the config cannot hold is an
/// error naming its variable, never the file.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = toml::Value::try_from(NodeConfig::new(String::new()).with_every_option_set())
        .expect("config serialises");
    for (variable, text) in env {
        let Some(name) = variable.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NOT_OPTIONS.contains(&name) {
            continue;
        }
        let key = name.to_ascii_lowercase();
        let bad = |message: String| ConfigError::BadVariable {
            variable: variable.clone(),
            message,
        };
        let (section, field, example) = match key.strip_prefix("fault_injection_") {
            Some(field) => (
                Some("fault_injection"),
                field,
                defaults["fault_injection"].get(field),
            ),
            None if key == "fault_injection" => (None, key.as_str(), None),
            None => (None, key.as_str(), defaults.get(&key)),
        };
        let Some(example) = example else {
            return Err(ConfigError::UnknownVariable { variable });
        };
        if text.trim().is_empty() {
            continue;
        }
        let value = env_value(example, &text).map_err(bad)?;
        let mut probe = toml::Table::from_iter([("account_id".into(), "probe.test".into())]);
        overlay(&mut probe, section, field, value.clone())?;
        toml::Value::Table(probe)
            .try_into::<NodeConfig>()
            .map_err(|error| bad(format!("not a valid {field}: {}", error.message().trim())))?;
        overlay(table, section, field, value)?;
    }
    Ok(())
}

/// Sets `field` (of table `section`, if any) in `table` to `value`.
fn overlay(
    table: &mut toml::Table,
    section: Option<&str>,
    field: &str,
    value: toml::Value,
) -> Result<(), ConfigError> {
    let table = match section {
        None => table,
        Some(section) => table
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| ConfigError::Invalid(format!("{section} is not a table")))?,
    };
    table.insert(field.to_string(), value);
    Ok(())
}

/// `text` read as a value of the same kind as `example`.
fn env_value(example: &toml::Value, text: &str) -> Result<toml::Value, String> {
    let text = text.trim();
    Ok(match example {
        toml::Value::String(_) => toml::Value::String(text.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(
            text.parse()
                .map_err(|_| format!("`{text}` is not a whole number"))?,
        ),
        toml::Value::Boolean(_) => match text {
            "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
            "0" | "false" | "no" | "off" => toml::Value::Boolean(false),
            _ => return Err(format!("`{text}` is not true/false")),
        },
        toml::Value::Array(_) => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        other => {
            return Err(format!(
                "cannot set a {} from the environment",
                other.type_str()
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn home_with(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        dir
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_missing_config_says_how_to_create_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("nope");
        let error = NodeConfig::load_with_env(&home, []).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "no node home at {0} (no config.toml): create one with \
                 `oracle-node init --home {0} --account-id <id>`",
                home.display()
            )
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let home = home_with("account_id = \"node1.test\"");
        let config = NodeConfig::load_with_env(home.path(), env(&[])).unwrap();
        assert_eq!(config, NodeConfig::new("node1.test".into()));
        assert_eq!(config.poll_interval_ms, 1000);
        assert!(config.fault_injection.is_off());
    }

    /// A valid config with every option set to something else than its default (a struct
    /// literal, so a new field must be added here).
    fn every_option_changed() -> NodeConfig {
        NodeConfig {
            account_id: "node2.testnet".into(),
            oracle_contract: "oracle.testnet".into(),
            rpc_urls: vec![
                "https://rpc.testnet.near.org".into(),
                "http://backup:3030/\"quoted\"\\path".into(),
            ],
            account_key: "~/.near-credentials/testnet/node2.testnet.json".into(),
            attestation_key: "/etc/oracle node/attestation.json".into(),
            model: Some("models/qwen ä.gguf".into()),
            journal: "data/journal.redb".into(),
            journal_retention_hours: 24,
            http_addr: "0.0.0.0:0".into(),
            poll_interval_ms: 250,
            standing_interval_ms: 2500,
            page_size: MAX_PAGE_SIZE,
            max_in_flight: 4,
            kernels: "scalar".into(),
            threads: 3,
            max_batch: 1,
            batch_window_ms: 0,
            attestation_tgas: MAX_ATTESTATION_TGAS,
            rpc_attempts: 9,
            rpc_timeout_secs: 5,
            fault_injection: FaultInjection {
                corrupt_output: true,
                bad_signature: true,
                crash_after: Some(CrashPoint::Submit),
                fail_inferences: 3,
            },
        }
    }

    /// `table`'s values by key, those of nested tables as "table.key".
    fn flatten(prefix: &str, table: &toml::Table) -> BTreeMap<String, toml::Value> {
        let mut flat = BTreeMap::new();
        for (key, value) in table {
            match value {
                toml::Value::Table(inner) => {
                    flat.extend(flatten(&format!("{prefix}{key}."), inner))
                }
                value => {
                    flat.insert(format!("{prefix}{key}"), value.clone());
                }
            }
        }
        flat
    }

    fn every_key_of(config: &NodeConfig) -> BTreeMap<String, toml::Value> {
        let value = toml::Value::try_from(config.with_every_option_set()).unwrap();
        flatten("", value.as_table().unwrap())
    }

    /// One option line of a written config: its key ("table.key" in a table) and whether it is
    /// commented out.
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct WrittenOption {
        key: String,
        commented_out: bool,
    }

    /// The option lines of `text` (a config `to_toml` wrote), after checking that each of them,
    /// and each table header, follows a comment line of its own.
    fn written_options(text: &str) -> Vec<WrittenOption> {
        let is_key = |key: &str| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let mut options = Vec::new();
        let mut table = String::new();
        let mut comment_above = false;
        for line in text.lines() {
            let (commented_out, code) = match line.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let header = code.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
            let assigned = code
                .split_once(" = ")
                .map(|(key, _)| key)
                .filter(|k| is_key(k));
            if let Some(name) = header.or(assigned) {
                assert!(comment_above, "no comment above `{line}` in:\n{text}");
                comment_above = false;
                if let Some(header) = header {
                    table = format!("{header}.");
                } else {
                    options.push(WrittenOption {
                        key: format!("{table}{name}"),
                        commented_out,
                    });
                }
            } else {
                comment_above = line.starts_with('#');
            }
        }
        options
    }

    #[test]
    fn the_written_config_reads_back_as_the_same_config() {
        let partly_faulty = NodeConfig {
            fault_injection: FaultInjection {
                fail_inferences: 2,
                ..FaultInjection::default()
            },
            ..NodeConfig::new("node1.test".into())
        };
        for config in [
            NodeConfig::new("node1.test".into()),
            every_option_changed(),
            partly_faulty,
        ] {
            let text = config.to_toml();
            let home = home_with(&text);
            let read = NodeConfig::load_with_env(home.path(), env(&[]))
                .unwrap_or_else(|e| panic!("{e} in:\n{text}"));
            assert_eq!(read, config, "{text}");
        }
    }

    #[test]
    fn the_changed_config_changes_every_option() {
        let changed = every_key_of(&every_option_changed());
        let defaults = every_key_of(&NodeConfig::new("node1.test".into()));
        assert_eq!(
            changed.keys().collect::<Vec<_>>(),
            defaults.keys().collect::<Vec<_>>()
        );
        for (key, value) in &defaults {
            assert_ne!(&changed[key], value, "every_option_changed keeps {key}");
        }
    }

    #[test]
    fn every_option_is_written_once_after_its_comment() {
        let default = NodeConfig::new("node1.test".into());
        for (config, commented_out) in [
            (
                default.clone(),
                vec![
                    "fault_injection.bad_signature",
                    "fault_injection.corrupt_output",
                    "fault_injection.crash_after",
                    "fault_injection.fail_inferences",
                    "model",
                ],
            ),
            (every_option_changed(), vec![]),
            (
                NodeConfig {
                    fault_injection: FaultInjection {
                        bad_signature: true,
                        ..FaultInjection::default()
                    },
                    ..default
                },
                vec!["fault_injection.crash_after", "model"],
            ),
        ] {
            let mut written = written_options(&config.to_toml());
            written.sort();
            let expected: Vec<WrittenOption> = every_key_of(&config)
                .into_keys()
                .map(|key| WrittenOption {
                    commented_out: commented_out.contains(&key.as_str()),
                    key,
                })
                .collect();
            assert_eq!(written, expected);
        }
    }

    #[test]
    fn every_documented_option_exists_and_says_its_default() {
        let every_key = every_key_of(&NodeConfig::new("node1.test".into()));
        // The defaults of a new config: the options it serialises, and those of its (default,
        // hence skipped) fault_injection table.
        let mut defaults = flatten(
            "",
            toml::Value::try_from(NodeConfig::new(String::new()))
                .unwrap()
                .as_table()
                .unwrap(),
        );
        defaults.extend(flatten(
            "fault_injection.",
            toml::Value::try_from(FaultInjection::default())
                .unwrap()
                .as_table()
                .unwrap(),
        ));
        let text = NodeConfig::new("node1.test".into()).to_toml();
        for doc in OPTION_DOCS {
            let is_table = doc.key == "fault_injection";
            assert!(
                is_table || every_key.contains_key(doc.key),
                "OPTION_DOCS documents {}, which is no option",
                doc.key
            );
            match doc.when_absent {
                WhenAbsent::Default => {
                    let default = &defaults[doc.key];
                    let line = format!("Default: {default}.");
                    assert!(text.contains(&line), "no `{line}` for {}:\n{text}", doc.key);
                }
                WhenAbsent::Unset(_) => assert!(!defaults.contains_key(doc.key), "{}", doc.key),
                WhenAbsent::Required => {
                    let err = toml::from_str::<NodeConfig>("").unwrap_err().to_string();
                    assert!(err.contains(doc.key), "{err}");
                }
            }
        }
    }

    #[test]
    fn the_commented_out_options_are_valid_examples() {
        let text = NodeConfig::new("node1.test".into()).to_toml();
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(code) if code.starts_with('[') || code.contains(" = ") => code,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config: NodeConfig = toml::from_str(&uncommented).unwrap();
        assert_eq!(config.model, Some("/path/to/model.gguf".into()));
        assert_eq!(
            config.fault_injection,
            FaultInjection {
                crash_after: Some(CrashPoint::Compute),
                ..FaultInjection::default()
            }
        );
    }

    #[test]
    fn the_written_comments_fit_the_width() {
        let text = every_option_changed().to_toml();
        for line in text.lines().filter(|line| line.starts_with('#')) {
            assert!(line.chars().count() <= COMMENT_WIDTH, "{line}");
        }
    }

    #[test]
    fn unknown_keys_are_reported() {
        let home = home_with("account_id = \"a.test\"\nrpc_url = \"http://x\"\n");
        let err = NodeConfig::load_with_env(home.path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rpc_url"), "{err}");
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let home = home_with("account_id = \"a.test\"\npoll_interval_ms = 5\nthreads = 2\n");
        let config = NodeConfig::load_with_env(
            home.path(),
            env(&[
                ("ORACLE_NODE_POLL_INTERVAL_MS", "250"),
                ("ORACLE_NODE_RPC_URLS", "http://a:1, http://b:2"),
                ("ORACLE_NODE_FAULT_INJECTION_CORRUPT_OUTPUT", "true"),
                ("ORACLE_NODE_FAULT_INJECTION_CRASH_AFTER", "submit"),
                ("ORACLE_NODE_FAULT_INJECTION_FAIL_INFERENCES", "3"),
                ("ORACLE_NODE_HOME", "/ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.poll_interval_ms, 250);
        assert_eq!(config.threads, 2);
        assert_eq!(config.rpc_urls, vec!["http://a:1", "http://b:2"]);
        assert!(config.fault_injection.corrupt_output);
        assert_eq!(config.fault_injection.crash_after, Some(CrashPoint::Submit));
        assert_eq!(config.fault_injection.fail_inferences, 3);
    }

    /// Values older versions took are moved into today's bounds, not refused: the node must
    /// start to reveal what it committed to.
    #[test]
    fn settings_older_versions_took_are_moved_into_todays_bounds() {
        let home = home_with(
            "account_id = \"a.test\"\nattestation_tgas = 10\npoll_interval_ms = 600000\n\
             batch_window_ms = 60000\n",
        );
        let config = NodeConfig::load_with_env(home.path(), env(&[])).unwrap();
        assert_eq!(
            (
                config.attestation_tgas,
                config.poll_interval_ms,
                config.batch_window_ms
            ),
            (
                MIN_ATTESTATION_TGAS,
                MAX_POLL_INTERVAL_MS,
                MAX_BATCH_WINDOW_MS
            )
        );
    }

    #[test]
    fn an_http_addr_that_is_no_address_to_listen_on_is_refused() {
        for bad in [
            "http://127.0.0.1:9100",
            "9100",
            "127.0.0.1",
            ":9100",
            "127.0.0.1:99999",
        ] {
            let config = NodeConfig {
                http_addr: bad.into(),
                ..NodeConfig::new("a.test".into())
            };
            let error = config.check().unwrap_err().to_string();
            assert!(
                error.contains(&format!("http_addr `{bad}`")) && error.contains("127.0.0.1:9100"),
                "{bad}: {error}"
            );
        }
        for good in [
            "127.0.0.1:0",
            "0.0.0.0:9100",
            "[::1]:9100",
            "localhost:9100",
        ] {
            let config = NodeConfig {
                http_addr: good.into(),
                ..NodeConfig::new("a.test".into())
            };
            config.check().unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    /// A batch window is waited by every request that finds the engine idle: one longer than
    /// a second or so eats a commit window that can be 10 blocks.
    #[test]
    fn a_batch_window_longer_than_a_commit_window_allows_is_refused() {
        let config = NodeConfig {
            batch_window_ms: 60_000,
            ..NodeConfig::new("a.test".into())
        };
        let error = config.check().unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "batch_window_ms 60000 is above {MAX_BATCH_WINDOW_MS}"
            )),
            "{error}"
        );
        let config = NodeConfig {
            batch_window_ms: MAX_BATCH_WINDOW_MS,
            ..config
        };
        config.check().unwrap();
    }

    #[test]
    fn out_of_bounds_options_are_refused() {
        for (option, expected) in [
            ("page_size = 201", "page_size 201 is above 200"),
            ("standing_interval_ms = 0", "standing_interval_ms"),
            (
                "attestation_tgas = 0",
                "attestation_tgas 0 is not between 30",
            ),
            ("attestation_tgas = 300000000", "attestation_tgas 300000000"),
            ("rpc_timeout_secs = 0", "rpc_timeout_secs"),
            ("journal_retention_hours = 0", "journal_retention_hours"),
            ("attestation_key = \"keys/account.json\"", "the same file"),
        ] {
            let home = home_with(&format!("account_id = \"a.test\"\n{option}\n"));
            let err = NodeConfig::load_with_env(home.path(), env(&[]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{option}: {err}");
        }
        let home = home_with(
            "account_id = \"a.test\"\npage_size = 200\nattestation_tgas = 300\npoll_interval_ms = 5000\n",
        );
        NodeConfig::load_with_env(home.path(), env(&[])).unwrap();
    }

    #[test]
    fn paths_resolve_against_the_user_home_for_a_tilde_else_the_node_home() {
        let node = Path::new("/srv/node1");
        let user = Some(Path::new("/home/op"));
        for (path, expected) in [
            ("/etc/keys/a.json", "/etc/keys/a.json"),
            ("keys/account.json", "/srv/node1/keys/account.json"),
            ("./~bob/a.json", "/srv/node1/./~bob/a.json"),
            ("keys/~/a.json", "/srv/node1/keys/~/a.json"),
            (
                "~/.near-credentials/testnet/you.testnet.json",
                "/home/op/.near-credentials/testnet/you.testnet.json",
            ),
            ("~", "/home/op"),
            ("~/", "/home/op"),
        ] {
            assert_eq!(
                resolve_path(node, user, Path::new(path)).unwrap(),
                Path::new(expected),
                "{path}"
            );
        }
    }

    #[test]
    fn a_tilde_path_needs_an_absolute_home_and_no_user_name() {
        let node = Path::new("/srv/node1");
        for (user_home, path, expected) in [
            (None, "~/a.json", "HOME is not set"),
            (
                Some("relative/home"),
                "~/a.json",
                "HOME is not set to an absolute path",
            ),
            (Some("/home/op"), "~bob/a.json", "not `~user`"),
            (Some("/home/op"), "~bob", "`./~bob`"),
        ] {
            let err = resolve_path(node, user_home.map(Path::new), Path::new(path))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{path}: {err}");
        }
    }

    #[test]
    fn path_in_reads_home_from_the_environment() {
        let path = Path::new("~/keys/a.json");
        match std::env::var_os("HOME").filter(|home| Path::new(home).is_absolute()) {
            Some(home) => assert_eq!(
                NodeConfig::path_in(Path::new("/srv/node1"), path).unwrap(),
                Path::new(&home).join("keys/a.json")
            ),
            None => assert!(NodeConfig::path_in(Path::new("/srv/node1"), path).is_err()),
        }
    }

    #[test]
    fn another_users_home_is_refused_when_the_config_loads() {
        for option in [
            "account_key = \"~bob/a.json\"",
            "attestation_key = \"~bob/b.json\"",
            "model = \"~bob/m.gguf\"",
            "journal = \"~bob/j.redb\"",
        ] {
            let home = home_with(&format!("account_id = \"a.test\"\n{option}\n"));
            let err = NodeConfig::load_with_env(home.path(), env(&[]))
                .unwrap_err()
                .to_string();
            let name = option.split(' ').next().unwrap();
            assert!(err.contains(&format!("{name} `~bob/")), "{option}: {err}");
        }
        let home = home_with("account_id = \"a.test\"\naccount_key = \"~/a.json\"\n");
        NodeConfig::load_with_env(home.path(), env(&[])).unwrap();
    }

    #[test]
    fn an_empty_variable_is_unset() {
        let home =
            home_with("account_id = \"a.test\"\noracle_contract = \"o.test\"\nthreads = 3\n");
        let config = NodeConfig::load_with_env(
            home.path(),
            env(&[
                ("ORACLE_NODE_ORACLE_CONTRACT", ""),
                ("ORACLE_NODE_THREADS", " "),
                ("ORACLE_NODE_RPC_URLS", ""),
                ("ORACLE_NODE_FAULT_INJECTION_CORRUPT_OUTPUT", ""),
            ]),
        )
        .unwrap();
        assert_eq!(config.oracle_contract, "o.test");
        assert_eq!(config.threads, 3);
        assert_eq!(config.rpc_urls, NodeConfig::new("a.test".into()).rpc_urls);
    }

    #[test]
    fn bad_variables_are_named() {
        let home = home_with("account_id = \"a.test\"");
        for (variable, value, expected) in [
            ("ORACLE_NODE_POLL_INTERVAL", "5", "names no config option"),
            ("ORACLE_NODE_POLL_INTERVAL_MS", "soon", "not a whole number"),
            (
                "ORACLE_NODE_FAULT_INJECTION_CRASH_AFTER",
                "boot",
                "crash_after",
            ),
            ("ORACLE_NODE_KERNELS", "gpu", "unknown kernels `gpu`"),
            (
                "ORACLE_NODE_MAX_BATCH",
                "-1",
                "variable ORACLE_NODE_MAX_BATCH: not a valid max_batch: invalid value: integer `-1`",
            ),
            ("ORACLE_NODE_FAULT_INJECTION", "x", "names no config option"),
        ] {
            let err = NodeConfig::load_with_env(home.path(), env(&[(variable, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{variable}: {err}");
        }
    }
}
