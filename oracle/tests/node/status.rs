//! `oracle-node status` only reads: it needs no account key and never creates the journal.

use crate::common::quiet_node;
use oracle::config::NodeConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_chain_without_the_account_key_and_creates_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id, _rpc) = quiet_node(dir.path()).await;
    std::fs::remove_file(NodeConfig::path_in(dir.path(), &config.account_key).unwrap()).unwrap();
    let journal = NodeConfig::path_in(dir.path(), &config.journal).unwrap();

    let found = oracle::commands::status::status(dir.path(), &config).await;
    let node = found.node.unwrap().expect("registered");
    assert_eq!(node.models, [model_id]);
    assert!(found.jobs.unwrap().is_empty());
    assert!(!journal.exists(), "status created {}", journal.display());
}
