//! `oracle-node register` on an account that is registered already: reported when the entry is
//! this node's, an error naming the difference when its key or models are not; and an
//! attestation key that is the account key, refused before anything is sent.

use crate::common::fake_rpc::{self, FakeRpc};
use crate::common::{home_attesting_with_the_account_key, node_home, registered, CHAIN_ID};
use oracle::commands::register::{register, Registered};
use oracle::config::NodeConfig;
use oracle_protocol::Digest32;
use serde_json::Value;

async fn chain_with(node: Value) -> FakeRpc {
    FakeRpc::start(move |method, _| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(node.clone()),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await
}

#[tokio::test]
async fn an_existing_registration_must_match_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (config, model_id) = node_home(dir.path(), Vec::new());

    let same = chain_with(registered(dir.path(), &config, vec![model_id])).await;
    let config = NodeConfig {
        rpc_urls: vec![same.url.clone()],
        ..config
    };
    let found = register(dir.path(), &config, 10).await.unwrap();
    assert!(matches!(found, Registered::Already(node) if node.models == [model_id]));

    let mut other_key = registered(dir.path(), &config, vec![model_id]);
    other_key["attestation_key"] = "ed25519:11111111111111111111111111111111".into();
    let rpc = chain_with(other_key).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = register(dir.path(), &config, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ed25519:11111111111111111111111111111111"),
        "{error}"
    );

    let rpc = chain_with(registered(dir.path(), &config, vec![Digest32([3; 32])])).await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = register(dir.path(), &config, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&model_id.to_string()), "{error}");
    assert_eq!(rpc.calls("register_node"), 0, "nothing is sent");
}

#[tokio::test]
async fn an_attestation_key_that_is_the_account_key_is_not_registered() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = home_attesting_with_the_account_key(dir.path());
    let rpc = FakeRpc::start(|method, _| match method {
        "status" => Ok(fake_rpc::status(CHAIN_ID, 10)),
        "get_node" => Ok(Value::Null),
        other => Err(fake_rpc::view_panicked(&format!("unexpected {other}"))),
    })
    .await;
    let config = NodeConfig {
        rpc_urls: vec![rpc.url.clone()],
        ..config
    };
    let error = register(dir.path(), &config, 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("holds the account key"), "{error}");
    assert_eq!(rpc.calls("send_tx"), 0, "nothing is sent");
}
