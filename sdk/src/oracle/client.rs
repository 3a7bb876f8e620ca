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
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Gas attached to `request` (the oracle reserves its yield callback's gas from it).
pub const REQUEST_GAS: u64 = 150_000_000_000_000;
/// How long [`OracleClient::request`] looks for the `request_created` event.
const FIND_REQUEST_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// Entries asked for per page by [`OracleClient::all_models`] and [`OracleClient::all_nodes`].
const LIST_PAGE: u32 = 100;

/// A client of one oracle contract.
#[derive(Debug, Clone)]
pub struct OracleClient {
    rpc: NearRpc,
    contract: String,
    signer: Option<Signer>,
    /// Request ids this client (and its clones) found for its own requests: a request found by
    /// its contents is never handed to two identical requests sent at once.
    claimed: Arc<Mutex<HashSet<u64>>>,
}

impl OracleClient {
    /// Reads the oracle at account `oracle_contract` (add a signer to send requests).
    pub fn new(rpc: NearRpc, oracle_contract: impl Into<String>) -> Self {
        Self {
            rpc,
            contract: oracle_contract.into(),
            signer: None,
            claimed: Arc::default(),
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

    /// Every registered model, read page by page.
    pub async fn all_models(&self) -> Result<Vec<ModelView>, OracleError> {
        self.every("list_models").await
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

    /// Every registered node, read page by page.
    pub async fn all_nodes(&self) -> Result<Vec<NodeView>, OracleError> {
        self.every("list_nodes").await
    }

    /// Every entry of paged view `method`, until a page comes back empty (the contract may
    /// return fewer entries than asked for, so a short page is not the end). An endpoint that
    /// answers the same page again (it ignores `from_index`), or a page longer than asked
    /// for, is an error, not a list that grows for ever.
    async fn every<T: DeserializeOwned>(&self, method: &str) -> Result<Vec<T>, OracleError> {
        let mut all = Vec::new();
        let mut previous: Vec<Value> = Vec::new();
        loop {
            let page: Vec<Value> = self
                .view(method, json!({"from_index": all.len(), "limit": LIST_PAGE}))
                .await?;
            if page.is_empty() {
                return Ok(all);
            }
            if page.len() > LIST_PAGE as usize || page == previous {
                return Err(crate::rpc::ChainError::decode(
                    format!("the pages of {}.{method}", self.contract),
                    format!(
                        "the endpoint answered the page from {} with {} entries it already \
                         gave, or more than the {LIST_PAGE} asked for: it is not serving the \
                         contract's pages; try another endpoint",
                        all.len(),
                        page.len()
                    ),
                )
                .into());
            }
            for entry in &page {
                all.push(serde_json::from_value(entry.clone()).map_err(|e| {
                    crate::rpc::ChainError::decode(format!("an entry of {method}"), e)
                })?);
            }
            previous = page;
        }
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

    /// A request with its attestations; [`OracleError::UnknownRequest`] when there is none,
    /// [`OracleError::WrongRequest`] when the endpoint answers with another one.
    pub async fn get_request(&self, request_id: u64) -> Result<RequestView, OracleError> {
        let view: Option<RequestView> = self
            .view("get_request", json!({ "request_id": request_id }))
            .await?;
        let view = view.ok_or_else(|| OracleError::UnknownRequest {
            request_id,
            contract: self.contract.clone(),
        })?;
        if view.request_id != request_id {
            return Err(OracleError::WrongRequest {
                asked: request_id,
                returned: view.request_id,
            });
        }
        Ok(view)
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
    /// for the answer (only for a block to include the transaction, so a refused one is an
    /// error: see [`Signer::submit`]), and returns once the oracle has created the request (its id read from
    /// the `request_created` event). The request names no `storage_refund_to`: the signer paid,
    /// so its storage deposit comes back to the signer on cleanup. An `output_schema` no node
    /// can run is refused before anything is paid ([`OracleError::Unservable`]): the oracle
    /// would take it, and every node refuse it, so it would only time out.
    pub async fn request(
        &self,
        model_id: &ModelId,
        input: &str,
        params: &RequestParams,
    ) -> Result<PendingRequest, OracleError> {
        let signer = self.signer.as_ref().ok_or(OracleError::NoSigner)?;
        crate::inference::output_constraint(params)?;
        let input_bytes = u32::try_from(input.len()).unwrap_or(u32::MAX);
        let fee = self
            .estimate_fee(model_id, params, input_bytes)
            .await?
            .total;
        // Ids are handed out in order: ours is at least the next one now.
        let first_possible_id = self.get_info().await?.next_request_id;
        let args = json!({"model_id": model_id, "input": input, "params": params});
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "request".into(),
            args: args.to_string().into_bytes(),
            gas: REQUEST_GAS,
            deposit: fee,
        }));
        let tx_hash = signer.submit(&self.contract, vec![action]).await?;
        let sender = signer.account_id().to_string();
        let ours = NewRequest {
            sender: &sender,
            model_id,
            input,
            params,
            first_possible_id,
        };
        // Paid from here on: an error must say so, with the hash, or a retry pays twice.
        let request_id =
            self.find_request_id(&tx_hash, &ours)
                .await
                .map_err(|error| match error {
                    error @ (OracleError::RequestFailed { .. }
                    | OracleError::NoRequestCreated { .. }) => error,
                    error => OracleError::RequestIdUnknown {
                        tx_hash: tx_hash.clone(),
                        source: Box::new(error),
                    },
                })?;
        Ok(PendingRequest::new(
            self.rpc.clone(),
            request_id,
            tx_hash,
            sender,
            fee,
        ))
    }

    /// Polls transaction `tx_hash` until the oracle's `request_created` event shows up in the
    /// receipts executed so far, or, where the RPC does not report receipts before the whole
    /// transaction ends (NEAR does not while the request's yield waits), until a request made
    /// by the sender with this model, input and parameters appears among the new ones (two
    /// identical requests sent at once by one account, through one client, each get their
    /// own: an id found is claimed). An endpoint failing meanwhile is retried until the
    /// deadline.
    async fn find_request_id(
        &self,
        tx_hash: &str,
        ours: &NewRequest<'_>,
    ) -> Result<u64, OracleError> {
        let deadline = Instant::now() + FIND_REQUEST_DEADLINE;
        loop {
            match self
                .rpc
                .tx_status_with_receipts(tx_hash, ours.sender, TxWait::IncludedFinal)
                .await
            {
                Ok(outcome) => {
                    if let Some(id) = self.created_request(&outcome) {
                        self.claim(id);
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
                Err(error) if is_passing(&error) => {}
                Err(error) => return Err(error.into()),
            }
            match self.find_new_request(ours).await {
                Ok(Some(id)) => return Ok(id),
                Ok(None) => {}
                Err(OracleError::Chain(error)) if is_passing(&error) => {}
                Err(error) => return Err(error),
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

    /// The first request from `ours.first_possible_id` on that `ours` describes and that this
    /// client has not claimed for another request, if the oracle has it yet; it is claimed.
    pub async fn find_new_request(
        &self,
        ours: &NewRequest<'_>,
    ) -> Result<Option<u64>, OracleError> {
        let next = self.get_info().await?.next_request_id;
        for request_id in ours.first_possible_id..next {
            if self.is_claimed(request_id) {
                continue;
            }
            match self.get_request(request_id).await {
                Ok(view) if ours.is(&view) && self.claim(request_id) => {
                    return Ok(Some(request_id))
                }
                Ok(_) | Err(OracleError::UnknownRequest { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(None)
    }

    /// Claims `request_id` for a request of this client; false if it was claimed already.
    fn claim(&self, request_id: u64) -> bool {
        self.claimed
            .lock()
            .expect("not poisoned")
            .insert(request_id)
    }

    fn is_claimed(&self, request_id: u64) -> bool {
        self.claimed
            .lock()
            .expect("not poisoned")
            .contains(&request_id)
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

/// What identifies a request just sent, among the oracle's new requests.
#[derive(Debug, Clone, Copy)]
pub struct NewRequest<'a> {
    /// The account that called `request`.
    pub sender: &'a str,
    pub model_id: &'a ModelId,
    pub input: &'a str,
    pub params: &'a RequestParams,
    /// `get_info().next_request_id` read before the request was sent.
    pub first_possible_id: u64,
}

impl NewRequest<'_> {
    /// Whether `view` is the request described.
    pub fn is(&self, view: &RequestView) -> bool {
        view.requester == self.sender
            && view.model_id == *self.model_id
            && view.input == self.input
            && view.params == *self.params
    }
}

/// An endpoint failure that may pass (another endpoint, or a moment later, may answer).
fn is_passing(error: &crate::rpc::ChainError) -> bool {
    error.is_retryable() || matches!(error, crate::rpc::ChainError::AllEndpointsFailed { .. })
}
