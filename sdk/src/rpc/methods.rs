//! NEAR's RPC methods with typed answers: status, blocks, views, transactions.

use super::views::parse_hash;
use super::{AccessKeyView, AccountView, ChainError, ChainStatus, NearRpc, TxOutcome, TxWait};
use base64::Engine as _;
use near_wire::{CryptoHash, PublicKey, SignedTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// A hash as NEAR writes it: base58.
pub fn hash58(hash: &CryptoHash) -> String {
    bs58::encode(hash).into_string()
}

impl NearRpc {
    /// `status`: the chain id and its head.
    pub async fn status(&self) -> Result<ChainStatus, ChainError> {
        ChainStatus::from_view(&self.call("status", json!([])).await?)
    }

    /// The hash of the latest final block: what a transaction should name as its recent block.
    pub async fn final_block_hash(&self) -> Result<CryptoHash, ChainError> {
        let block = self.call("block", json!({"finality": "final"})).await?;
        let text = block["header"]["hash"]
            .as_str()
            .ok_or_else(|| ChainError::decode("the block answer", "no header.hash".to_string()))?;
        parse_hash(text, "block header hash")
    }

    /// A `query` with NEAR's account errors made typed.
    async fn query(&self, account: &str, mut params: Value) -> Result<Value, ChainError> {
        params["finality"] = json!("final");
        params["account_id"] = json!(account);
        let answer = self
            .call_accepting("query", params, |index, answer| {
                self.accept_query_height(index, answer)
            })
            .await;
        match answer {
            Err(error) if error.rpc_cause() == Some("UNKNOWN_ACCOUNT") => {
                Err(ChainError::UnknownAccount {
                    account: account.to_string(),
                })
            }
            other => other,
        }
    }

    /// Calls view method `method` of `contract` with JSON `args`; returns the raw result.
    pub async fn view_function(
        &self,
        contract: &str,
        method: &str,
        args: &impl Serialize,
    ) -> Result<Vec<u8>, ChainError> {
        let args = serde_json::to_vec(args)
            .map_err(|e| ChainError::decode(format!("the arguments of {method}"), e))?;
        let failed = |message: String| ChainError::ViewFailed {
            contract: contract.to_string(),
            method: method.to_string(),
            message,
        };
        let params = json!({
            "request_type": "call_function",
            "method_name": method,
            "args_base64": base64::engine::general_purpose::STANDARD.encode(args),
        });
        let answer = match self.query(contract, params).await {
            Ok(answer) => answer,
            Err(ChainError::Rpc {
                cause,
                message,
                data,
                ..
            }) if cause == "CONTRACT_EXECUTION_ERROR" || cause == "NO_CONTRACT_CODE" => {
                return Err(failed(format!("{cause}: {message}: {data}")))
            }
            Err(other) => return Err(other),
        };
        if let Some(error) = answer["error"].as_str() {
            return Err(failed(error.to_string()));
        }
        serde_json::from_value(answer["result"].clone())
            .map_err(|e| ChainError::decode(format!("the result of {contract}.{method}"), e))
    }

    /// Calls view method `method` of `contract` and reads its JSON result as `T`.
    pub async fn view_json<T: DeserializeOwned>(
        &self,
        contract: &str,
        method: &str,
        args: &impl Serialize,
    ) -> Result<T, ChainError> {
        let bytes = self.view_function(contract, method, args).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ChainError::decode(format!("the result of {contract}.{method}"), e))
    }

    /// `query` `view_account`.
    pub async fn view_account(&self, account: &str) -> Result<AccountView, ChainError> {
        let answer = self
            .query(account, json!({"request_type": "view_account"}))
            .await?;
        serde_json::from_value(answer)
            .map_err(|e| ChainError::decode(format!("account {account}"), e))
    }

    /// `query` `view_access_key`.
    pub async fn view_access_key(
        &self,
        account: &str,
        key: &PublicKey,
    ) -> Result<AccessKeyView, ChainError> {
        let not_found = || ChainError::AccessKeyNotFound {
            account: account.to_string(),
            public_key: key.to_string(),
        };
        let params = json!({"request_type": "view_access_key", "public_key": key.to_string()});
        let answer = match self.query(account, params).await {
            Err(error) if error.rpc_cause() == Some("UNKNOWN_ACCESS_KEY") => {
                return Err(not_found())
            }
            other => other?,
        };
        if answer.get("error").is_some() {
            return Err(not_found());
        }
        serde_json::from_value(answer)
            .map_err(|e| ChainError::decode(format!("access key {key} of {account}"), e))
    }

    /// `send_tx`: submits `signed` and waits until `wait`. Resending the same transaction is
    /// harmless (NEAR answers with its outcome). NEAR's `TIMEOUT_ERROR` becomes
    /// [`ChainError::Timeout`].
    pub async fn send_tx(
        &self,
        signed: &SignedTransaction,
        wait: TxWait,
    ) -> Result<TxOutcome, ChainError> {
        let tx_hash = hash58(&signed.hash());
        let params = json!({
            "signed_tx_base64": base64::engine::general_purpose::STANDARD.encode(signed.to_bytes()),
            "wait_until": wait.as_str(),
        });
        let mut may_have_delivered = false;
        let answer = self
            .call_noting_delivery("send_tx", params, |_, _| Ok(()), &mut may_have_delivered)
            .await
            .map_err(|e| timeout_of(e, &tx_hash))
            .map_err(|error| match error {
                // An endpoint tried first may have taken it (it went out, no answer came) and
                // the one that answered last says nothing about that: signing again, or
                // reading its refusal as final, could run the call twice.
                error
                    if may_have_delivered
                        && !error.may_have_sent()
                        && !matches!(error, ChainError::Timeout { .. }) =>
                {
                    ChainError::SendUnconfirmed {
                        tx_hash: tx_hash.clone(),
                        source: Box::new(error),
                    }
                }
                // Every attempt refused it (a congested shard, say) and none may have taken
                // it: the refusal, not a send that may have landed.
                ChainError::AllEndpointsFailed { last, .. }
                    if !may_have_delivered && matches!(*last, ChainError::InvalidTx(_)) =>
                {
                    *last
                }
                error => error,
            })?;
        TxOutcome::from_view(&tx_hash, &answer)
    }

    /// `tx`: the status of transaction `tx_hash` (base58) sent by `sender`, waiting until
    /// `wait`.
    pub async fn tx_status(
        &self,
        tx_hash: &str,
        sender: &str,
        wait: TxWait,
    ) -> Result<TxOutcome, ChainError> {
        self.tx_status_by("tx", tx_hash, sender, wait).await
    }

    /// `EXPERIMENTAL_tx_status`: as [`NearRpc::tx_status`], the answer also listing receipts.
    pub async fn tx_status_with_receipts(
        &self,
        tx_hash: &str,
        sender: &str,
        wait: TxWait,
    ) -> Result<TxOutcome, ChainError> {
        self.tx_status_by("EXPERIMENTAL_tx_status", tx_hash, sender, wait)
            .await
    }

    async fn tx_status_by(
        &self,
        method: &str,
        tx_hash: &str,
        sender: &str,
        wait: TxWait,
    ) -> Result<TxOutcome, ChainError> {
        let params =
            json!({"tx_hash": tx_hash, "sender_account_id": sender, "wait_until": wait.as_str()});
        let answer = self
            .call(method, params)
            .await
            .map_err(|e| timeout_of(e, tx_hash))?;
        TxOutcome::from_view(tx_hash, &answer)
    }
}

/// NEAR's `TIMEOUT_ERROR` about a transaction, typed.
fn timeout_of(error: ChainError, tx_hash: &str) -> ChainError {
    if error.rpc_cause() == Some("TIMEOUT_ERROR") {
        ChainError::Timeout {
            tx_hash: tx_hash.to_string(),
        }
    } else {
        error
    }
}
