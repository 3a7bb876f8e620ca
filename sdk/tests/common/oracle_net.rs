//! The oracle deployed on a local chain: the contract, a registered model, three staked nodes
//! whose attestations the tests script, and a client paying as `alice.test`.

use super::{Localnet, NEAR};
use oracle_protocol::{
    attestation_commitment, AttestationMessage, Digest32, ModelId, RequestParams, Signature64,
};
use sdk::keys::SecretKey;
use sdk::oracle::OracleClient;
use sdk::signer::Signer;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const ORACLE: &str = "oracle.test";
pub const OWNER: &str = "owner.test";
pub const ALICE: &str = "alice.test";
pub const NODES: [&str; 3] = ["node0.test", "node1.test", "node2.test"];
pub const GAS: u64 = 300_000_000_000_000;

/// A committee node played by the test: its account's signer and its attestation key.
pub struct ScriptedNode {
    pub account: String,
    pub signer: Signer,
    pub key: SecretKey,
}

pub struct Deployment {
    pub chain: Localnet,
    pub client: OracleClient,
    pub nodes: Vec<ScriptedNode>,
}

impl Deployment {
    /// The first `count` members of request `request_id`'s committee attest `output` with
    /// `result_digest` (model `model_id`), each signing for this chain.
    pub async fn committee_attests(
        &self,
        request_id: u64,
        count: usize,
        model_id: ModelId,
        output: &str,
        result_digest: Digest32,
    ) {
        let chain_id = self.client.rpc().status().await.unwrap().chain_id;
        // The oracle draws the committee in a receipt after the request's.
        let mut committee = Vec::new();
        for _ in 0..100 {
            committee = self.client.get_request(request_id).await.unwrap().committee;
            if !committee.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            !committee.is_empty(),
            "request {request_id} got no committee"
        );
        let members: Vec<&ScriptedNode> = self
            .nodes
            .iter()
            .filter(|n| committee.contains(&n.account))
            .take(count)
            .collect();
        let claim = |node: &ScriptedNode| {
            node.signature(&chain_id, request_id, model_id, output, result_digest)
        };
        for node in &members {
            node.commit(request_id, claim(node)).await;
        }
        // The reveal phase opens once all have committed, else after the commit window.
        while !self
            .client
            .get_request(request_id)
            .await
            .unwrap()
            .reveal_open
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        for node in &members {
            node.reveal(request_id, output, result_digest, claim(node))
                .await;
        }
    }
}

pub fn params() -> RequestParams {
    RequestParams {
        temperature_milli: 0,
        top_k: 0,
        top_p_milli: 1000,
        max_tokens: 8,
        seed: 0,
        output_schema: None,
    }
}

pub async fn deploy(model_id: ModelId) -> Deployment {
    let mut accounts = vec![ORACLE, OWNER, ALICE];
    accounts.extend(NODES);
    let chain = Localnet::start(&accounts).await;
    let config = json!({
        "committee_size": 3, "quorum": 2, "min_stake": (5 * NEAR).to_string(),
        "unbonding_blocks": 1000, "slash_bps": 1000, "reporter_bps": 5000,
        "max_output_bytes": 4096, "max_inline_output_bytes": 1024, "retention_blocks": 100,
        "commit_window_blocks": 20,
    });
    chain
        .deploy(
            ORACLE,
            "oracle_contract",
            Some(("new", json!({"owner": OWNER, "config": config}))),
        )
        .await;
    let model = json!({"model": {
        "model_id": model_id, "name": "tiny", "spec_version": kernels::SPEC_VERSION,
        "max_input_bytes": 4096, "max_output_tokens": 64, "price": (NEAR / 100).to_string(),
    }});
    let registered = chain
        .signer(OWNER)
        .call(ORACLE, "register_model", &model, GAS, NEAR)
        .await
        .unwrap();
    assert!(registered.is_success(), "{:?}", registered.status);
    let mut nodes = Vec::new();
    for (index, account) in NODES.iter().enumerate() {
        let key = SecretKey::from_seed([index as u8 + 1; 32]);
        let signer = chain.signer(account);
        let args = json!({"attestation_key": key.public_key().to_string(), "models": [model_id]});
        let outcome = signer
            .call(ORACLE, "register_node", &args, GAS, 10 * NEAR)
            .await
            .unwrap();
        assert!(outcome.is_success(), "{:?}", outcome.status);
        nodes.push(ScriptedNode {
            account: account.to_string(),
            signer,
            key,
        });
    }
    let client = OracleClient::new(chain.rpc(), ORACLE).with_signer(chain.signer(ALICE));
    Deployment {
        chain,
        client,
        nodes,
    }
}

impl ScriptedNode {
    /// The node's signature of its attestation of `output` with `result_digest`.
    pub fn signature(
        &self,
        chain_id: &str,
        request_id: u64,
        model_id: ModelId,
        output: &str,
        result_digest: Digest32,
    ) -> Signature64 {
        let message = AttestationMessage {
            chain_id: chain_id.into(),
            oracle_contract: ORACLE.into(),
            request_id,
            node: self.account.clone(),
            model_id,
            result_digest,
            output_hash: Digest32(Sha256::digest(output.as_bytes()).into()),
        };
        Signature64(sdk::attest::sign(&self.key, &message))
    }

    /// Commits to the attestation signed `signature`.
    pub async fn commit(&self, request_id: u64, signature: Signature64) {
        let args = json!({"request_id": request_id,
            "commitment": attestation_commitment(&signature)});
        let outcome = self
            .signer
            .call(ORACLE, "commit_attestation", &args, GAS, 0)
            .await
            .unwrap();
        outcome.json::<bool>().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Submits the attestation of `output` with `result_digest`, signed `signature` (the
    /// reveal of its commitment).
    pub async fn reveal(
        &self,
        request_id: u64,
        output: &str,
        result_digest: Digest32,
        signature: Signature64,
    ) -> String {
        let args = json!({"request_id": request_id, "output": output,
            "result_digest": result_digest, "signature": signature});
        let outcome = self
            .signer
            .call(ORACLE, "submit_attestation", &args, GAS, 0)
            .await
            .unwrap();
        outcome.json::<String>().unwrap_or_else(|e| panic!("{e}"))
    }
}
