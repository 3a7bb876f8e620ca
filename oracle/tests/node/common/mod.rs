//! A node home for tests: config, keys and a tiny model, pointed at a fake RPC endpoint.

pub mod fake_rpc;

use kernels::tiny_model::TinyModel;
use oracle::config::NodeConfig;
use oracle_protocol::{
    CommitmentView, Digest32, ModelId, NodeStatus, NodeView, RequestParams, RequestPhase,
    RequestView,
};
use sdk::keys::Credentials;
use serde_json::Value;
use std::path::Path;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ACCOUNT: &str = "node0.test";
pub const CHAIN_ID: &str = "testnet";

/// A node home in `dir` with the tiny model, talking to `rpc_urls`.
pub fn node_home(dir: &Path, rpc_urls: Vec<String>) -> (NodeConfig, ModelId) {
    let created = oracle::init::init_home(dir, ACCOUNT).unwrap();
    let model = dir.join("tiny.gguf");
    TinyModel::default().write(&model).unwrap();
    let model_id = Digest32(kernels::model_cache::sha256_file(&model, false).unwrap());
    let config = NodeConfig {
        model: Some(model),
        rpc_urls,
        http_addr: "127.0.0.1:0".into(),
        poll_interval_ms: 50,
        rpc_attempts: 1,
        rpc_timeout_secs: 5,
        threads: 1,
        ..created.config
    };
    (config, model_id)
}

/// [`node_home`] whose attestation key file is a copy of the account key: another file, the
/// same key.
pub fn home_attesting_with_the_account_key(dir: &Path) -> (NodeConfig, ModelId) {
    let (config, model_id) = node_home(dir, Vec::new());
    std::fs::copy(dir.join(&config.account_key), dir.join("keys/copy.json")).unwrap();
    let config = NodeConfig {
        attestation_key: "keys/copy.json".into(),
        ..config
    };
    (config, model_id)
}

/// A node home in `dir` whose config points at a fake chain where it is registered for its
/// model and nothing else happens; the fake RPC lives as long as the returned handle.
pub async fn quiet_node(dir: &Path) -> (NodeConfig, ModelId, fake_rpc::FakeRpc) {
    let (config, model_id) = node_home(dir, Vec::new());
    let node = registered(dir, &config, vec![model_id]);
    let rpc = fake_rpc::FakeRpc::start(quiet_chain(node)).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    (config, model_id, rpc)
}

/// A chain where this node is registered with `node` and nothing else happens.
pub fn quiet_chain(node: Value) -> impl Fn(&str, &Value) -> Result<Value, Value> + Send + Sync {
    move |method, args| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        "get_model" => Ok(fake_rpc::model(args, kernels::SPEC_VERSION)),
        "list_pending_assignments" => Ok(fake_rpc::assignments(&[])),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    }
}

/// Writes `config` as `dir`'s config.toml, for the `oracle-node` binary to read.
pub fn save_config(dir: &Path, config: &NodeConfig) {
    std::fs::write(dir.join(oracle::config::CONFIG_FILE), config.to_toml()).unwrap();
}

/// The `oracle-node` binary with `args`, logging at `info`, `NO_COLOR` unset (so that only
/// where its stderr goes decides the colours) and no backtraces in its errors.
pub fn oracle_node(
    args: impl IntoIterator<Item = impl AsRef<std::ffi::OsStr>>,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_oracle-node"));
    command
        .args(args)
        .env("ORACLE_NODE_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    command
}

/// This node's entry on chain, as `get_node` answers it.
pub fn registered(dir: &Path, config: &NodeConfig, models: Vec<ModelId>) -> Value {
    let (_, key) =
        Credentials::read(&NodeConfig::path_in(dir, &config.attestation_key).unwrap()).unwrap();
    serde_json::to_value(NodeView {
        account_id: ACCOUNT.into(),
        attestation_key: key.public_key().to_string(),
        models,
        stake: 10,
        status: NodeStatus::Active,
        registered_at: 1,
        missed_commits: 0,
    })
    .unwrap()
}

/// Request `request_id` for `model_id` with this node on its committee, in `status`, in its
/// reveal phase with this node's commitment (so a computed job goes straight to its reveal).
pub fn request(request_id: u64, model_id: ModelId, status: RequestPhase) -> Value {
    let mut view = uncommitted_request(request_id, model_id, status);
    view["commitments"] = serde_json::json!([CommitmentView {
        node: ACCOUNT.into(),
        commitment: Digest32([9; 32]),
    }]);
    view["reveal_open"] = true.into();
    view
}

/// Request `request_id` as [`request`] gives it, but in its commit phase with no commitment.
pub fn uncommitted_request(request_id: u64, model_id: ModelId, status: RequestPhase) -> Value {
    serde_json::to_value(RequestView {
        request_id,
        model_id,
        requester: "alice.test".into(),
        storage_refund_to: "alice.test".into(),
        input: "What is the capital of France?".into(),
        params: RequestParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 4,
            seed: 0,
            output_schema: None,
        },
        fee: 1,
        held_fee: 0,
        storage_deposit: 1,
        committee: vec![ACCOUNT.into()],
        quorum: 1,
        commitments: Vec::new(),
        reveal_opens_at: 41,
        reveal_open: false,
        attested: Vec::new(),
        attestations: Vec::new(),
        slashed: Vec::new(),
        created_at: 1,
        expires_at: 200,
        status,
        answer: None,
        cleanable_at: None,
    })
    .unwrap()
}

/// Polls `condition` every 20 ms for at most 20 s.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `oracle-node run` on `home` with `config`, in a task, until the returned sender is used.
pub fn spawn_node(
    home: &Path,
    config: NodeConfig,
) -> (oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let home = home.to_path_buf();
    let daemon = tokio::spawn(async move {
        oracle::daemon::run_until(&home, config, async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, daemon)
}
