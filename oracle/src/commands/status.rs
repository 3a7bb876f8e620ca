//! `oracle-node status`: the node as its config, the chain, its journal and its running daemon
//! see it.

use crate::config::NodeConfig;
use crate::daemon::{connect, HTTP_ADDR_FILE};
use crate::health::HealthReport;
use crate::journal::Journal;
use anyhow::{anyhow, bail, Context, Result};
use oracle_protocol::NodeView;
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

/// The running daemon's HTTP address: the one it wrote at start, else the configured one.
pub fn daemon_addr(home: &Path, config: &NodeConfig) -> String {
    std::fs::read_to_string(home.join(HTTP_ADDR_FILE))
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|_| config.http_addr.clone())
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

pub async fn status(home: &Path, config: &NodeConfig) -> NodeStatus {
    let node = async {
        let chain = connect(home, config)?;
        Ok(chain.get_node(&config.account_id).await?)
    }
    .await;
    let addr = daemon_addr(home, config);
    let jobs = match NodeConfig::path_in(home, &config.journal) {
        Err(error) => Err(error.into()),
        Ok(journal_path) => match Journal::open(&journal_path) {
            Ok(journal) => journal.counts().map_err(Into::into),
            // The daemon holds the journal open: ask it.
            Err(_) => fetch_json::<BTreeMap<String, u64>>(&addr, "/jobs/counts").await,
        },
    };
    let health = fetch_json(&addr, "/health").await;
    NodeStatus { node, jobs, health }
}
