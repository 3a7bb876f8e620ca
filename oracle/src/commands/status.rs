//! `oracle-node status`: the node as its config, the chain, its journal and its running daemon
//! see it. It only reads: chain views need no key (the account key is never loaded), and the
//! journal is opened read-only, never created, and not at all while a node runs with the home
//! (that node holds it; its HTTP API answers instead).

use crate::chain::node_entry;
use crate::config::NodeConfig;
use crate::daemon::{retry_policy, HTTP_ADDR_FILE, LOCK_FILE};
use crate::health::HealthReport;
use crate::journal::{read_counts, JournalError};
use anyhow::{anyhow, bail, Context, Result};
use oracle_protocol::NodeView;
use sdk::rpc::NearRpc;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What `status` found; each part that could not be read says why.
#[derive(Debug)]
pub struct NodeStatus {
    pub node: Result<Option<NodeView>>,
    /// Jobs by state, finished ones by how they ended, from the journal (or from the daemon,
    /// which holds the journal open).
    pub jobs: Result<BTreeMap<String, u64>>,
    pub health: Result<HealthReport>,
}

/// The running daemon's HTTP address: the one it wrote at start while it runs, else the
/// configured one. Only a graceful stop removes the written one: a node that was killed or
/// crashed leaves it behind, and its port may serve something else since.
pub fn daemon_addr(home: &Path, config: &NodeConfig) -> String {
    let written = || std::fs::read_to_string(home.join(HTTP_ADDR_FILE)).ok();
    match node_running(home).then(written).flatten() {
        Some(text) => text.trim().to_string(),
        None => config.http_addr.clone(),
    }
}

/// GETs `path` of the daemon at `addr` (plain HTTP/1.0 on the local port) and reads the body
/// as JSON.
pub async fn fetch_json<T: serde::de::DeserializeOwned>(addr: &str, path: &str) -> Result<T> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| anyhow!("the daemon at {addr} did not answer {path} in time"))?
        .with_context(|| format!("no daemon answers at http://{addr}{path}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("http://{addr}{path}: not an HTTP answer"))?;
    // 503 carries JSON too: `/health` of a degraded or failed node.
    let code = head.split_whitespace().nth(1).unwrap_or("");
    if !head.starts_with("HTTP/1.") || !["200", "503"].contains(&code) {
        bail!("http://{addr}{path}: {}", head.lines().next().unwrap_or(""));
    }
    serde_json::from_str(body).with_context(|| format!("http://{addr}{path}: bad JSON"))
}

/// Whether a node runs with `home` now: it holds the home's lock file (never created here).
fn node_running(home: &Path) -> bool {
    let Ok(file) = std::fs::File::open(home.join(LOCK_FILE)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

pub async fn status(home: &Path, config: &NodeConfig) -> NodeStatus {
    let node = async {
        let rpc = NearRpc::new(config.rpc_urls.clone(), retry_policy(config))?;
        Ok(node_entry(&rpc, &config.oracle_contract, &config.account_id).await?)
    }
    .await;
    let addr = daemon_addr(home, config);
    let from_daemon = || async {
        fetch_json::<BTreeMap<String, u64>>(&addr, "/jobs/counts")
            .await
            .context("a running node holds the journal; asking it")
    };
    let jobs = match NodeConfig::path_in(home, &config.journal) {
        Err(error) => Err(error.into()),
        Ok(_) if node_running(home) => from_daemon().await,
        Ok(journal_path) => match read_counts(&journal_path) {
            Err(JournalError::InUse) => from_daemon().await,
            read => read.with_context(|| format!("reading {}", journal_path.display())),
        },
    };
    let health = fetch_json(&addr, "/health").await;
    NodeStatus { node, jobs, health }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::lock_home;

    #[test]
    fn the_written_address_counts_only_while_a_node_holds_the_home() {
        let home = tempfile::tempdir().unwrap();
        let config = NodeConfig {
            http_addr: "127.0.0.1:9100".into(),
            ..NodeConfig::new("node0.test".into())
        };
        // Left behind by a node that was killed.
        std::fs::write(home.path().join(HTTP_ADDR_FILE), "127.0.0.1:4567\n").unwrap();
        assert_eq!(daemon_addr(home.path(), &config), "127.0.0.1:9100");
        let _running = lock_home(home.path()).unwrap();
        assert_eq!(daemon_addr(home.path(), &config), "127.0.0.1:4567");
    }
}
