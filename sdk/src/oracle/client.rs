//! [`OracleClient`]: the oracle contract's views, and requests paid and followed to their answer.

use super::{OracleError, PendingRequest};
use crate::rpc::{NearRpc, TxOutcome, TxStatus, TxWait};
use crate::signer::Signer;
use near_wire::{Action, FunctionCallAction};
use oracle_protocol::{
    FeeEstimate, ModelId, ModelView, NodeView, OracleConfig, OracleInfo, RequestCreated,
    RequestParams, RequestView, EVENT_STANDARD,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Gas attached to `request` (the oracle reserves its yield callback's gas from it).
pub const REQUEST_GAS: u64 = 150_000_000_000_000;
/// How long [`OracleClient::request`] looks for the `request_created` event.
const FIND_REQUEST_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(300);

/// A client of one oracle contract.
#[derive(Debug, Clone)]
pub struct OracleClient {
    rpc: NearRpc,
    contract: String,
    signer: Option<Signer>,
}

impl OracleClient {
    /// Reads the oracle at account `oracle_contract` (add a signer to send requests).
    pub fn new(rpc: NearRpc, oracle_contract: impl Into<String>) -> Self {
        Self {
            rpc,
            contract: oracle_contract.into(),
            signer: None,
        }
    }

    /// Sends requests as `signer`.
    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    pub fn rpc(&self) -> &NearRpc {
        &self.rpc
    }

    pub fn contract(&self) -> &str {
        &self.contract
    }

    async fn view<T: DeserializeOwned>(&self, method: &str, args: Value) -> Result<T, OracleError> {
        Ok(self.rpc.view_json(&self.contract, method, &args).await?)
    }

    pub async fn get_config(&self) -> Result<OracleConfig, OracleError> {
        self.view("get_config", json!({})).await
    }

    pub async fn get_info(&self) -> Result<OracleInfo, OracleError> {
        self.view("get_info", json!({})).await
    }

    /// Registered models, a page at a time.
    pub async fn list_models(
        &self,
        from_index: u32,
        limit: u32,
    ) -> Result<Vec<ModelView>, OracleError> {
        self.view(
            "list_models",
            json!({"from_index": from_index, "limit": limit}),
        )
        .await
    }

    pub async fn get_model(&self, model_id: &ModelId) -> Result<Option<ModelView>, OracleError> {
        self.view("get_model", json!({ "model_id": model_id }))
            .await
    }

    /// Registered nodes, a page at a time.
    pub async fn list_nodes(
        &self,
        from_index: u32,
        limit: u32,
    ) -> Result<Vec<NodeView>, OracleError> {
        self.view(
            "list_nodes",
            json!({"from_index": from_index, "limit": limit}),
        )
        .await
    }

    pub async fn get_node(&self, account_id: &str) -> Result<Option<NodeView>, OracleError> {
        self.view("get_node", json!({ "account_id": account_id }))
            .await
    }

    /// What a request for `model_id` with `params` and an input of `input_bytes` bytes costs.
    pub async fn estimate_fee(
        &self,
        model_id: &ModelId,
        params: &RequestParams,
        input_bytes: u32,
    ) -> Result<FeeEstimate, OracleError> {
        self.view(
            "estimate_fee",
            json!({"model_id": model_id, "params": params, "input_bytes": input_bytes}),
        )
        .await
    }

    /// A request with its attestations; [`OracleError::UnknownRequest`] when there is none.
    pub async fn get_request(&self, request_id: u64) -> Result<RequestView, OracleError> {
        let view: Option<RequestView> = self
            .view("get_request", json!({ "request_id": request_id }))
            .await?;
        view.ok_or_else(|| OracleError::UnknownRequest {
            request_id,
            contract: self.contract.clone(),
        })
    }

    /// Requests still waiting for a quorum, a page at a time.
    pub async fn list_pending_requests(
        &self,
        from_index: u32,
        limit: u32,
    ) -> Result<Vec<RequestView>, OracleError> {
        self.view(
            "list_pending_requests",
            json!({"from_index": from_index, "limit": limit}),
        )
        .await
    }

    /// The attestations accepted so far for `request_id`.
    pub async fn attestations(
        &self,
        request_id: u64,
    ) -> Result<Vec<oracle_protocol::AttestationView>, OracleError> {
        Ok(self.get_request(request_id).await?.attestations)
    }

    /// Asks `model_id` about `input`: pays `estimate_fee(..).total`, submits without waiting
    /// for the answer, and returns once the oracle has created the request (its id read from
    /// the `request_created` event).
    pub async fn request(
        &self,
        model_id: &ModelId,
        input: &str,
        params: &RequestParams,
    ) -> Result<PendingRequest, OracleError> {
        let signer = self.signer.as_ref().ok_or(OracleError::NoSigner)?;
        let input_bytes = u32::try_from(input.len()).unwrap_or(u32::MAX);
        let fee = self
            .estimate_fee(model_id, params, input_bytes)
            .await?
            .total;
        let args = json!({"model_id": model_id, "input": input, "params": params});
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "request".into(),
            args: args.to_string().into_bytes(),
            gas: REQUEST_GAS,
            deposit: fee,
        }));
        let tx_hash = signer.submit(&self.contract, vec![action]).await?;
        let sender = signer.account_id().to_string();
        let request_id = self.find_request_id(&tx_hash, &sender).await?;
        Ok(PendingRequest::new(
            self.rpc.clone(),
            request_id,
            tx_hash,
            sender,
            fee,
        ))
    }

    /// Polls transaction `tx_hash` until the oracle's `request_created` event shows up.
    async fn find_request_id(&self, tx_hash: &str, sender: &str) -> Result<u64, OracleError> {
        let deadline = Instant::now() + FIND_REQUEST_DEADLINE;
        loop {
            match self
                .rpc
                .tx_status_with_receipts(tx_hash, sender, TxWait::IncludedFinal)
                .await
            {
                Ok(outcome) => {
                    if let Some(id) = self.created_request(&outcome) {
                        return Ok(id);
                    }
                    if let TxStatus::Failure(error) = outcome.status {
                        return Err(OracleError::RequestFailed {
                            tx_hash: tx_hash.to_string(),
                            error,
                        });
                    }
                }
                Err(crate::rpc::ChainError::Timeout { .. }) => {}
                Err(error) if error.rpc_cause() == Some("UNKNOWN_TRANSACTION") => {}
                Err(error) => return Err(error.into()),
            }
            if Instant::now() >= deadline {
                return Err(OracleError::NoRequestCreated {
                    tx_hash: tx_hash.to_string(),
                    contract: self.contract.clone(),
                    waited: FIND_REQUEST_DEADLINE,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The request id in the `request_created` event the oracle's own receipt logged.
    fn created_request(&self, outcome: &TxOutcome) -> Option<u64> {
        outcome
            .receipts
            .iter()
            .filter(|receipt| receipt.executor_id == self.contract)
            .flat_map(|receipt| &receipt.logs)
            .filter_map(|log| crate::rpc::Nep297Event::parse(log))
            .filter(|event| event.standard == EVENT_STANDARD && event.event == "request_created")
            .find_map(|event| {
                let created: RequestCreated = serde_json::from_value(event.data[0].clone()).ok()?;
                Some(created.request_id)
            })
    }
}
