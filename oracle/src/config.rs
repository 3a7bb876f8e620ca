//! The node's configuration file (`config.toml` in the node's home directory).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const CONFIG_FILE: &str = "config.toml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid node config: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

/// Everything a node needs to know; paths are relative to the node's home directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's NEAR account.
    pub account_id: String,
    /// The oracle contract's account.
    #[serde(default = "default_oracle_contract")]
    pub oracle_contract: String,
    /// NEAR JSON-RPC endpoints, tried in order.
    #[serde(default = "default_rpc_urls")]
    pub rpc_urls: Vec<String>,
    /// The account's full-access key, in NEAR's credentials JSON format.
    #[serde(default = "default_account_key")]
    pub account_key: PathBuf,
    /// The ed25519 key that signs attestations (kept apart from the account key).
    #[serde(default = "default_attestation_key")]
    pub attestation_key: PathBuf,
    /// A GGUF file to serve; the default model from the cache when absent.
    #[serde(default)]
    pub model: Option<PathBuf>,
}

fn default_oracle_contract() -> String {
    "oracle.test.near".into()
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

impl NodeConfig {
    pub fn new(account_id: String) -> Self {
        Self {
            account_id,
            oracle_contract: default_oracle_contract(),
            rpc_urls: default_rpc_urls(),
            account_key: default_account_key(),
            attestation_key: default_attestation_key(),
            model: None,
        }
    }

    pub fn load(home: &Path) -> Result<Self, ConfigError> {
        let path = home.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let config: NodeConfig = toml::from_str("account_id = \"node1.test\"").unwrap();
        assert_eq!(config, NodeConfig::new("node1.test".into()));
    }

    #[test]
    fn unknown_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "account_id = \"a.test\"\nrpc_url = \"http://x\"\n",
        )
        .unwrap();
        let err = NodeConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("rpc_url"), "{err}");
    }
}
