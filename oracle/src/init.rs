//! `oracle-node init`: a new node home with its config and two fresh keys.

use crate::config::{NodeConfig, CONFIG_FILE};
use anyhow::{bail, Context, Result};
use sdk::keys::{Credentials, SecretKey};
use sdk::wire::AccountId;
use std::path::Path;

/// What `init` created.
#[derive(Debug)]
pub struct Initialized {
    pub config: NodeConfig,
    pub account_public_key: String,
    pub attestation_public_key: String,
}

/// Creates `home` with `config.toml`, the account key and the attestation key. Refuses to touch a
/// home that already has a config, so an existing node's keys are never lost.
pub fn init_home(home: &Path, account_id: &str) -> Result<Initialized> {
    let account: AccountId = account_id
        .parse()
        .with_context(|| format!("`{account_id}` is not a valid NEAR account id"))?;
    let config_path = home.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists; this home is initialised (use another --home to create a new node)",
            config_path.display()
        );
    }
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    let config = NodeConfig::new(account_id.to_string());
    let account_key = SecretKey::generate();
    let attestation_key = SecretKey::generate();
    Credentials::new(account.clone(), &account_key)
        .write(&NodeConfig::path_in(home, &config.account_key)?)?;
    Credentials::new(account, &attestation_key)
        .write(&NodeConfig::path_in(home, &config.attestation_key)?)?;
    std::fs::write(&config_path, config.to_toml())
        .with_context(|| format!("writing {}", config_path.display()))?;
    Ok(Initialized {
        account_public_key: account_key.public_key().to_string(),
        attestation_public_key: attestation_key.public_key().to_string(),
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_loadable_home_with_two_distinct_keys() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("node1");
        let created = init_home(&home, "node1.test").unwrap();
        assert_ne!(created.account_public_key, created.attestation_public_key);

        let config = NodeConfig::load(&home).unwrap();
        assert_eq!(config, created.config);
        let (account, key) = Credentials::read(&home.join(&config.account_key)).unwrap();
        assert_eq!(account.account_id.as_str(), "node1.test");
        assert_eq!(key.public_key().to_string(), created.account_public_key);
    }

    #[test]
    fn a_second_init_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let created = init_home(dir.path(), "node1.test").unwrap();
        let err = init_home(dir.path(), "other.test").unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        let config = NodeConfig::load(dir.path()).unwrap();
        assert_eq!(config.account_id, "node1.test");
        let (_, key) = Credentials::read(&dir.path().join(&config.account_key)).unwrap();
        assert_eq!(key.public_key().to_string(), created.account_public_key);
    }
}
