//! `oracle-node init`: a new node home with its config and two fresh keys.

use crate::config::{NodeConfig, CONFIG_FILE};
use anyhow::{bail, Context, Result};
use sdk::keys::{Credentials, SecretKey};
use sdk::wire::AccountId;
use std::io::Write;
use std::path::Path;

/// What `init` created.
#[derive(Debug)]
pub struct Initialized {
    pub config: NodeConfig,
    pub account_public_key: String,
    pub attestation_public_key: String,
}

/// Creates `home` with `config.toml`, the account key and the attestation key. Refuses to touch a
/// home that already has a config, so an existing node's keys are never lost. The config is
/// written last, and atomically (a temporary file renamed), so a home has one only once it is
/// complete; an init that stopped before it is resumed: key files it left (or an existing
/// account's credentials put in its place) are kept and used.
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
    create_private_dir(home).with_context(|| format!("creating {}", home.display()))?;
    let config = NodeConfig::new(account_id.to_string());
    let account_key = key_file(&NodeConfig::path_in(home, &config.account_key)?, &account)?;
    let attestation_key = key_file(
        &NodeConfig::path_in(home, &config.attestation_key)?,
        &account,
    )?;
    if account_key.public_key() == attestation_key.public_key() {
        bail!(
            "{} and {} hold the same key: the attestation key must be another one (delete {} and \
             run init again)",
            config.account_key.display(),
            config.attestation_key.display(),
            config.attestation_key.display()
        );
    }
    write_atomically(&config_path, &config.to_toml())?;
    Ok(Initialized {
        account_public_key: account_key.public_key().to_string(),
        attestation_public_key: attestation_key.public_key().to_string(),
        config,
    })
}

/// The key of `account` in the credentials file at `path`: the one there (left by an init that
/// did not finish, or put there by the operator), else a new one written there.
fn key_file(path: &Path, account: &AccountId) -> Result<SecretKey> {
    if !path.exists() {
        let key = SecretKey::generate();
        Credentials::new(account.clone(), &key).write(path)?;
        return Ok(key);
    }
    let (found, key) = Credentials::read(path).with_context(|| {
        format!(
            "{} is left from an init that did not finish, and unreadable: delete it and run \
             init again",
            path.display()
        )
    })?;
    if found.account_id != *account {
        bail!(
            "{} holds a key of {}, not of {account}: delete it (if that key is not needed) and \
             run init again",
            path.display(),
            found.account_id
        );
    }
    Ok(key)
}

/// Creates `dir` and its missing parents, those it creates for the user alone (on Unix); one
/// that exists is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `text` to `path` all at once: into a temporary file beside it (readable by the user
/// alone, on Unix: RPC URLs may hold API keys), synced, then renamed.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let temporary = path.with_extension("toml.partial");
    let written = (|| {
        // A temporary file left by an init that failed keeps its mode if reopened.
        match std::fs::remove_file(&temporary) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("writing {}", path.display()))
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

    /// The home, its config (RPC URLs may hold API keys) and the journal (results not revealed
    /// yet) are for the node's user alone, as the key files are.
    #[cfg(unix)]
    #[test]
    fn the_home_its_config_and_journal_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("node1");
        let created = init_home(&home, "node1.test").unwrap();
        let journal = NodeConfig::path_in(&home, &created.config.journal).unwrap();
        drop(crate::journal::Journal::open(&journal).unwrap());
        for path in [home.clone(), home.join(CONFIG_FILE), journal] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{}: {mode:o}", path.display());
        }
    }

    #[test]
    fn an_init_that_stopped_before_the_config_is_resumed_with_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let first = init_home(dir.path(), "node1.test").unwrap();
        std::fs::remove_file(dir.path().join(CONFIG_FILE)).unwrap();
        let resumed = init_home(dir.path(), "node1.test").unwrap();
        assert_eq!(resumed.account_public_key, first.account_public_key);
        assert_eq!(resumed.attestation_public_key, first.attestation_public_key);
        assert_eq!(NodeConfig::load(dir.path()).unwrap(), resumed.config);
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(files.len(), 2, "config.toml and keys/ only: {files:?}");
    }

    #[test]
    fn a_left_key_of_another_account_or_unreadable_says_what_to_delete() {
        let dir = tempfile::tempdir().unwrap();
        init_home(dir.path(), "node1.test").unwrap();
        std::fs::remove_file(dir.path().join(CONFIG_FILE)).unwrap();
        let account_key = dir.path().join("keys/account.json");
        let error = format!("{:#}", init_home(dir.path(), "other.test").unwrap_err());
        assert!(
            error.contains(&format!(
                "{} holds a key of node1.test",
                account_key.display()
            )) && error.contains("delete it"),
            "{error}"
        );
        std::fs::write(&account_key, "{\"account_id\": \"node1.te").unwrap();
        let error = format!("{:#}", init_home(dir.path(), "node1.test").unwrap_err());
        assert!(
            error.contains(&account_key.display().to_string()) && error.contains("delete it"),
            "{error}"
        );
        assert!(!dir.path().join(CONFIG_FILE).exists());
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
