//! The node's side of the oracle contract, through the sdk's chain client only (the same code
//! against the local chain and real NEAR RPC): the views it reads, registration, and commitment,
//! attestation and unjail transactions signed first and sent after, so their hash can be
//! journaled before they leave.

use near_wire::{AccountId, Action, FunctionCallAction, InvalidTxError, SignedTransaction};
use oracle_protocol::{
    Digest32, ModelId, ModelView, NodeView, OracleConfig, PendingAssignments, RequestView,
    Signature64,
};
use sdk::rpc::{hash58, ChainError, ChainStatus, NearRpc, TxOutcome, TxStatus, TxWait};
use sdk::signer::Signer;
use serde::Serialize;
use serde_json::json;

/// One TGas.
pub const TGAS: u64 = 1_000_000_000_000;
/// One NEAR in yoctoNEAR.
pub const ONE_NEAR: u128 = 1_000_000_000_000_000_000_000_000;
/// Gas attached to `cleanup_request`: a cleanup slashing every member of the largest committee
/// fits (unused gas is refunded).
const CLEANUP_TGAS: u64 = 100;
/// What the contract says when a node attests twice: the first one counted.
const ALREADY_ATTESTED: &str = "has already attested";
/// What the contract says when a node commits twice: the first one counted.
const ALREADY_COMMITTED: &str = "has already committed";

/// The arguments of `submit_attestation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationArgs {
    pub request_id: u64,
    pub output: String,
    pub result_digest: Digest32,
    /// 128 hex characters in JSON.
    pub signature: Signature64,
}

/// How a sent transaction ended, as far as the node cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The contract accepted it (or had already accepted this node's attestation or
    /// commitment).
    Accepted,
    /// The contract refused it; NEAR's error text.
    Refused(String),
}

/// The oracle contract, seen by one node account.
#[derive(Clone)]
pub struct OracleChain {
    signer: Signer,
    contract: AccountId,
    attestation_gas: u64,
}

impl OracleChain {
    pub fn new(signer: Signer, contract: &str, attestation_tgas: u64) -> Result<Self, ChainError> {
        let contract = contract
            .parse()
            .map_err(
                |e: near_account_id::ParseAccountError| ChainError::InvalidAccountId {
                    account: contract.to_string(),
                    message: e.to_string(),
                },
            )?;
        Ok(Self {
            signer,
            contract,
            attestation_gas: attestation_tgas * TGAS,
        })
    }

    pub fn rpc(&self) -> &NearRpc {
        self.signer.rpc()
    }

    /// The account key transactions are signed with.
    pub fn public_key(&self) -> sdk::keys::PublicKey {
        self.signer.public_key()
    }

    pub fn account(&self) -> &str {
        self.signer.account_id().as_str()
    }

    pub fn contract(&self) -> &str {
        self.contract.as_str()
    }

    pub async fn status(&self) -> Result<ChainStatus, ChainError> {
        self.rpc().status().await
    }

    /// One page of `list_pending_assignments` for this node: of `limit` pending requests from
    /// index `from`, the ids and models of those on its committee it has not attested.
    pub async fn assignments_page(
        &self,
        from: u32,
        limit: u32,
    ) -> Result<PendingAssignments, ChainError> {
        self.rpc()
            .view_json(
                self.contract(),
                "list_pending_assignments",
                &json!({"account_id": self.account(), "from_index": from, "limit": limit}),
            )
            .await
    }

    /// Request `request_id`'s view; an endpoint answering with another request's is an error
    /// (computing that one's input for this id would attest a wrong answer).
    pub async fn get_request(&self, request_id: u64) -> Result<Option<RequestView>, ChainError> {
        let view: Option<RequestView> = self
            .rpc()
            .view_json(
                self.contract(),
                "get_request",
                &json!({"request_id": request_id}),
            )
            .await?;
        match view {
            Some(view) if view.request_id != request_id => Err(ChainError::Decode {
                what: format!("the view of request {request_id}"),
                message: format!("the endpoint answered with request {}", view.request_id),
            }),
            view => Ok(view),
        }
    }

    /// The oracle's settings (`get_config`).
    pub async fn get_config(&self) -> Result<OracleConfig, ChainError> {
        self.rpc()
            .view_json(self.contract(), "get_config", &json!({}))
            .await
    }

    pub async fn get_node(&self, account: &str) -> Result<Option<NodeView>, ChainError> {
        node_entry(self.rpc(), self.contract(), account).await
    }

    pub async fn get_model(&self, model_id: &ModelId) -> Result<Option<ModelView>, ChainError> {
        self.rpc()
            .view_json(self.contract(), "get_model", &json!({"model_id": model_id}))
            .await
    }

    /// `register_node` with `deposit` (storage + stake), waiting for the outcome.
    pub async fn register_node(
        &self,
        attestation_key: &str,
        models: &[ModelId],
        deposit: u128,
    ) -> Result<TxOutcome, ChainError> {
        let args = json!({"attestation_key": attestation_key, "models": models});
        self.signer
            .call(self.contract(), "register_node", &args, 100 * TGAS, deposit)
            .await
    }

    /// A signed `submit_attestation` transaction, not sent yet.
    pub async fn sign_attestation(
        &self,
        args: &AttestationArgs,
    ) -> Result<SignedTransaction, ChainError> {
        self.sign_call("submit_attestation", args, self.attestation_gas)
            .await
    }

    /// A signed `commit_attestation` transaction committing to `commitment` for request
    /// `request_id`, not sent yet.
    pub async fn sign_commitment(
        &self,
        request_id: u64,
        commitment: Digest32,
    ) -> Result<SignedTransaction, ChainError> {
        let args = json!({"request_id": request_id, "commitment": commitment});
        self.sign_call("commit_attestation", &args, self.attestation_gas)
            .await
    }

    /// A signed `unjail_node` transaction (no arguments, no deposit), not sent yet.
    pub async fn sign_unjail(&self) -> Result<SignedTransaction, ChainError> {
        self.sign_call("unjail_node", &json!({}), self.attestation_gas)
            .await
    }

    /// A signed `cleanup_request` transaction for `request_id`, not sent yet.
    pub async fn sign_cleanup(&self, request_id: u64) -> Result<SignedTransaction, ChainError> {
        let args = json!({ "request_id": request_id });
        self.sign_call("cleanup_request", &args, CLEANUP_TGAS * TGAS)
            .await
    }

    /// A signed call of the oracle's `method` with `args` and `gas`.
    async fn sign_call(
        &self,
        method: &str,
        args: &impl Serialize,
        gas: u64,
    ) -> Result<SignedTransaction, ChainError> {
        let args = serde_json::to_vec(args).map_err(|e| ChainError::Decode {
            what: format!("the arguments of {method}"),
            message: e.to_string(),
        })?;
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: method.into(),
            args,
            gas,
            deposit: 0,
        }));
        self.signer.sign(&self.contract, vec![action]).await
    }

    /// Sends `signed` (again, if it was sent before: the same bytes run once) and waits for its
    /// outcome. A transaction the chain refuses because the key's nonce is already past its
    /// own (`InvalidNonce`) makes the next one signed take the nonce after the chain's.
    pub async fn send(&self, signed: &SignedTransaction) -> Result<Sent, ChainError> {
        let sent = self.send_and_wait(signed).await;
        if let Err(ChainError::InvalidTx(InvalidTxError::InvalidNonce { ak_nonce, .. })) = &sent {
            self.signer.observe_nonce(*ak_nonce).await;
        }
        sent
    }

    async fn send_and_wait(&self, signed: &SignedTransaction) -> Result<Sent, ChainError> {
        let outcome = match self.rpc().send_tx(signed, TxWait::ExecutedOptimistic).await {
            Err(ChainError::Timeout { tx_hash }) => self.wait_outcome(&tx_hash).await?,
            Ok(outcome) if !outcome.is_final() => self.wait_outcome(&outcome.tx_hash).await?,
            other => other?,
        };
        judge(&outcome).ok_or(ChainError::Timeout {
            tx_hash: outcome.tx_hash,
        })
    }

    /// How transaction `tx_hash` of this node ended; `None` if the chain does not know it or
    /// it has not finished (sending the same bytes again is then safe: NEAR runs a transaction
    /// once). Asked at level `NONE`, which answers at once: at any other level nearcore waits
    /// for a transaction it does not know until its own timeout and answers `TIMEOUT_ERROR`,
    /// never `UNKNOWN_TRANSACTION`, so a transaction that never reached the chain would look
    /// in flight for ever.
    pub async fn outcome(&self, tx_hash: &str) -> Result<Option<Sent>, ChainError> {
        match self
            .rpc()
            .tx_status(tx_hash, self.account(), TxWait::None)
            .await
        {
            Ok(outcome) => Ok(judge(&outcome)),
            Err(e) if e.rpc_cause() == Some("UNKNOWN_TRANSACTION") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn wait_outcome(&self, tx_hash: &str) -> Result<TxOutcome, ChainError> {
        self.rpc()
            .tx_status(tx_hash, self.account(), TxWait::ExecutedOptimistic)
            .await
    }
}

/// `account`'s node entry in oracle `contract`, through `rpc`: a view, which needs no key.
pub async fn node_entry(
    rpc: &NearRpc,
    contract: &str,
    account: &str,
) -> Result<Option<NodeView>, ChainError> {
    rpc.view_json(contract, "get_node", &json!({"account_id": account}))
        .await
}

/// The base58 hash NEAR names `signed` by.
pub fn tx_hash(signed: &SignedTransaction) -> String {
    hash58(&signed.hash())
}

/// What a finished outcome means; `None` while it has not finished.
fn judge(outcome: &TxOutcome) -> Option<Sent> {
    match &outcome.status {
        TxStatus::SuccessValue(_) => Some(Sent::Accepted),
        TxStatus::Failure(text)
            if text.contains(ALREADY_ATTESTED) || text.contains(ALREADY_COMMITTED) =>
        {
            Some(Sent::Accepted)
        }
        TxStatus::Failure(text) => Some(Sent::Refused(text.clone())),
        TxStatus::NotStarted | TxStatus::Started => None,
    }
}
