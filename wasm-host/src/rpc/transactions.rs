//! `send_tx`, `broadcast_tx_commit`, `broadcast_tx_async`, `tx` and `EXPERIMENTAL_tx_status`.

use super::blocking;
use super::error::RpcError;
use super::params::{self, WaitUntil};
use crate::abi::CryptoHash;
use crate::node::{Node, SubmitError};
use crate::store::TxRecord;
use crate::tx::SignedTransaction;
use crate::views::{self, hash58, OutcomeStatus};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Whether a status request also returns the receipts (`EXPERIMENTAL_tx_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Outcomes,
    WithReceipts,
}

/// Submits `signed` unless the chain knows it already (resending a transaction returns its
/// result, as on NEAR); returns its hash.
fn submit(node: &Node, signed: &SignedTransaction) -> Result<CryptoHash, RpcError> {
    node.submit(signed).map_err(|error| match error {
        SubmitError::Invalid(error) => RpcError::invalid_transaction(&error),
        SubmitError::ShuttingDown | SubmitError::Store(_) => RpcError::internal(error.to_string()),
    })
}

/// `send_tx`. With `wait_until` `NONE` it is fire and forget, as on nearcore: the transaction
/// is routed like `broadcast_tx_async`'s and the answer is `NONE` whether the chain took it or
/// not (a refusal is only logged); every other level checks it first and answers a refusal.
pub async fn send_tx(node: Arc<Node>, params: Value, timeout: Duration) -> Result<Value, RpcError> {
    let (signed, wait) = params::sent_tx(&params)?;
    if wait == WaitUntil::None {
        blocking(move || {
            submit_or_log(&node, &signed, "send_tx NONE");
            Ok(())
        })
        .await?;
        return Ok(json!({"final_execution_status": "NONE"}));
    }
    let hash = submit_off_workers(&node, signed).await?;
    wait_for(&node, hash, None, wait, Detail::Outcomes, timeout).await
}

/// `broadcast_tx_commit`: `send_tx` waiting until executed.
pub async fn broadcast_tx_commit(
    node: Arc<Node>,
    params: Value,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let (signed, _) = params::sent_tx(&params)?;
    let hash = submit_off_workers(&node, signed).await?;
    wait_for(
        &node,
        hash,
        None,
        WaitUntil::Executed,
        Detail::Outcomes,
        timeout,
    )
    .await
}

/// [`submit`] on the blocking pool (it takes the chain's lock).
async fn submit_off_workers(
    node: &Arc<Node>,
    signed: SignedTransaction,
) -> Result<CryptoHash, RpcError> {
    let node = node.clone();
    blocking(move || submit(&node, &signed)).await
}

/// `broadcast_tx_async`: the hash at once; as on NEAR, a transaction the chain refuses is only
/// logged.
pub fn broadcast_tx_async(node: &Node, params: &Value) -> Result<Value, RpcError> {
    let (signed, _) = params::sent_tx(params)?;
    submit_or_log(node, &signed, "broadcast_tx_async");
    Ok(json!(hash58(&signed.hash())))
}

/// Submits `signed` for a method that answers before checking it: a refusal is only logged.
fn submit_or_log(node: &Node, signed: &SignedTransaction, method: &str) {
    if let Err(error) = submit(node, signed) {
        tracing::info!(tx = %hash58(&signed.hash()), error = %error.0, method, "refused");
    }
}

/// `tx` and `EXPERIMENTAL_tx_status`. As on nearcore, a request naming the signed transaction
/// only asks for its status: it is never submitted. A transaction the chain does not know is
/// `UNKNOWN_TRANSACTION` at level `NONE`; at any other level nearcore waits for it until its
/// timeout (it may yet arrive), as `wait_for` does. One named by the signed transaction that the
/// chain does not know is first checked as if sent, changing nothing (nearcore's
/// `detect_invalid_tx`): one the chain would refuse is `INVALID_TRANSACTION` at every level,
/// with the error `send_tx` gives for it.
pub async fn tx_status(
    node: Arc<Node>,
    params: Value,
    detail: Detail,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let (hash, signed) = params::tx_query(&params)?;
    let wait = params::wait_until(&params)?;
    let signed = signed.map(Arc::new);
    if wait == WaitUntil::None {
        let known = {
            let node = node.clone();
            let signed = signed.clone();
            blocking(move || {
                if node.chain().is_incoming(&hash) || node.store().transaction(&hash)?.is_some() {
                    return Ok(true);
                }
                if let Some(signed) = &signed {
                    refusal(&node, signed)?;
                }
                Ok(false)
            })
            .await?
        };
        if !known {
            return Err(RpcError::handler(
                "UNKNOWN_TRANSACTION",
                json!({"requested_transaction_hash": hash58(&hash)}),
                json!(format!("Transaction {} doesn't exist", hash58(&hash))),
            ));
        }
    }
    wait_for(&node, hash, signed, wait, detail, timeout).await
}

/// `INVALID_TRANSACTION` if the chain would refuse `signed` were it sent now (one it has
/// already passes), checked without sending it ([`Node::check`]).
fn refusal(node: &Node, signed: &SignedTransaction) -> Result<(), RpcError> {
    node.check(signed).map_err(|error| match error {
        SubmitError::Invalid(error) => RpcError::invalid_transaction(&error),
        SubmitError::ShuttingDown | SubmitError::Store(_) => RpcError::internal(error.to_string()),
    })
}

/// Waits until transaction `hash` reaches `wait` (or `timeout` passes, or the node stops) and
/// answers its state: at `NONE` and `INCLUDED`, the outcome so far once it is in a block (a
/// bare `NONE` at level `NONE` before), at the executing levels its outcome once finished.
async fn wait_for(
    node: &Arc<Node>,
    hash: CryptoHash,
    signed: Option<Arc<SignedTransaction>>,
    wait: WaitUntil,
    detail: Detail,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let deadline = Instant::now() + timeout;
    let mut blocks = node.subscribe();
    loop {
        let looked = {
            let node = node.clone();
            let signed = signed.clone();
            blocking(move || look(&node, hash, signed.as_deref(), wait, detail)).await?
        };
        if let Some(answer) = looked {
            return Ok(answer);
        }
        if node.is_closed() {
            return Err(RpcError::internal(format!(
                "the node is shutting down: transaction {} did not reach {wait:?} before it stopped",
                hash58(&hash)
            )));
        }
        tokio::select! {
            changed = blocks.changed() => {
                if changed.is_err() {
                    return Err(RpcError::internal("the node is shutting down"));
                }
            }
            // Looks once more: the last block may have brought it.
            _ = node.closed() => {}
            _ = tokio::time::sleep_until(deadline) => return Err(RpcError::timeout()),
        }
    }
}

/// Transaction `hash`'s answer at level `wait` if it has reached it (`wait_for`). Until the
/// chain has it, `signed` (a status request's signed transaction) is checked each time, as
/// nearcore checks it at each poll: one the chain would refuse is `INVALID_TRANSACTION`.
fn look(
    node: &Node,
    hash: CryptoHash,
    signed: Option<&SignedTransaction>,
    wait: WaitUntil,
    detail: Detail,
) -> Result<Option<Value>, RpcError> {
    // Asked before the record is read: once nothing of it is left to run, no receipt of it
    // can commit between the two, so the outcome read holds every receipt.
    let settled = !node.chain().in_flight(&hash);
    if let Some(record) = node.store().transaction(&hash)? {
        let status = node.store().tx_status(&record)?;
        let done = matches!(status, OutcomeStatus::Done(_));
        if matches!(wait, WaitUntil::None | WaitUntil::Included) || (done && settled) {
            return final_outcome(node, &record, &status, settled, detail).map(Some);
        }
    } else {
        if let Some(signed) = signed {
            refusal(node, signed)?;
        }
        if wait == WaitUntil::None {
            return Ok(Some(json!({"final_execution_status": "NONE"})));
        }
    }
    Ok(None)
}

/// The final outcome view of a transaction from its record and its receipts' views: the
/// outcomes depth first from its receipt, as nearcore's `get_recursive_transaction_results`
/// lists them (not in the order they ran, which the record keeps), and the receipts
/// (`EXPERIMENTAL_tx_status`) in the same order, as nearcore's
/// `get_final_transaction_result_with_receipt` reads them.
fn final_outcome(
    node: &Node,
    record: &TxRecord,
    status: &OutcomeStatus,
    settled: bool,
    detail: Detail,
) -> Result<Value, RpcError> {
    let store = node.store();
    let ordered = views::outcomes_depth_first(&record.receipt_id, |id| store.outcome(id))?;
    let mut outcomes = Vec::new();
    let mut receipts = Vec::new();
    for (id, view) in ordered {
        outcomes.push(view);
        if detail == Detail::WithReceipts {
            if let Some(view) = store.receipt(&id)? {
                receipts.push(view);
            }
        }
    }
    Ok(views::final_outcome_view(
        &record.signed,
        &record.receipt_id,
        record.gas_burnt,
        &record.block_hash,
        status,
        settled,
        outcomes,
        (detail == Detail::WithReceipts).then_some(receipts),
    ))
}
