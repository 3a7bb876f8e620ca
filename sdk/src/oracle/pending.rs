//! A request the oracle has created, followed to the answer its yield callback returns.

use super::OracleError;
use crate::rpc::{ChainError, NearRpc, TxStatus, TxWait};
use oracle_protocol::OracleResponse;
use std::time::Duration;
use tokio::time::Instant;

const POLL_INTERVAL: Duration = Duration::from_millis(300);

/// A created request.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub request_id: u64,
    /// The transaction that asked (its final outcome is the answer).
    pub tx_hash: String,
    pub sender: String,
    /// The deposit paid (fee plus storage), yoctoNEAR.
    pub paid: u128,
    rpc: NearRpc,
}

impl PendingRequest {
    /// The oracle's answer in the asking transaction's return value `value`: an
    /// [`OracleResponse`] to this request.
    fn response(&self, value: &[u8]) -> Result<OracleResponse, OracleError> {
        let bad = |message: String| OracleError::BadResponse {
            tx_hash: self.tx_hash.clone(),
            message,
        };
        let response: OracleResponse =
            serde_json::from_slice(value).map_err(|e| bad(e.to_string()))?;
        if response.request_id != self.request_id {
            return Err(bad(format!(
                "it answers request {}, not request {}",
                response.request_id, self.request_id
            )));
        }
        Ok(response)
    }

    pub(super) fn new(
        rpc: NearRpc,
        request_id: u64,
        tx_hash: String,
        sender: String,
        paid: u128,
    ) -> Self {
        Self {
            request_id,
            tx_hash,
            sender,
            paid,
            rpc,
        }
    }

    /// Waits up to `timeout` for the answer: the value of the oracle's yield callback, which is
    /// the final outcome of the asking transaction (resolved, or timed out on chain with the fee
    /// refunded).
    pub async fn wait(&self, timeout: Duration) -> Result<OracleResponse, OracleError> {
        let deadline = crate::rpc::deadline_after(timeout);
        let expired = || OracleError::WaitTimeout {
            request_id: self.request_id,
            waited: timeout,
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let poll = self
                .rpc
                .tx_status(&self.tx_hash, &self.sender, TxWait::ExecutedOptimistic);
            match tokio::time::timeout(left, poll).await {
                Err(_) => return Err(expired()),
                Ok(Ok(outcome)) => match &outcome.status {
                    TxStatus::SuccessValue(value) => return self.response(value),
                    TxStatus::Failure(error) => {
                        return Err(OracleError::RequestFailed {
                            tx_hash: self.tx_hash.clone(),
                            error: error.clone(),
                        })
                    }
                    TxStatus::NotStarted | TxStatus::Started => {}
                },
                Ok(Err(ChainError::Timeout { .. })) => {}
                Ok(Err(error)) => return Err(error.into()),
            }
            if Instant::now() + POLL_INTERVAL >= deadline {
                return Err(expired());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}
