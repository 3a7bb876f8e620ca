//! Signs and sends transactions for one account key. The key's nonce is fetched once and then
//! counted locally under a lock, so many tasks can send at once through clones of one
//! [`Signer`]; a refused nonce (another signer used the key) is re-read from the chain's answer
//! and the transaction re-signed, but only once the chain says it does not know the earlier
//! signature's transaction (if it knows it, that one's outcome is awaited; if it cannot be
//! asked, the error is returned rather than risk running the call twice); an expired block
//! hash is refreshed; a transaction the node
//! stopped waiting for is polled by hash until it finishes or a deadline passes. Transport
//! failures resend the same signed bytes (same hash: NEAR runs a transaction once).

use crate::rpc::{hash58, ChainError, NearRpc, TxOutcome, TxWait};
use near_wire::{
    AccountId, Action, Balance, Credentials, FunctionCallAction, Gas, InvalidTxError, PublicKey,
    SecretKey, SignedTransaction, Transaction,
};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, info};

/// How a [`Signer`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPolicy {
    /// What [`Signer::send`] and [`Signer::call`] wait for.
    pub wait: TxWait,
    /// Signatures tried per transaction when its nonce or block hash is refused.
    pub resign_attempts: u32,
    /// How long to poll a transaction the node stopped waiting for.
    pub outcome_deadline: Duration,
    /// Pause between those polls.
    pub poll_interval: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        Self {
            wait: TxWait::ExecutedOptimistic,
            resign_attempts: 12,
            outcome_deadline: Duration::from_secs(120),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// An account's key that signs and sends transactions. Cheap to clone; clones share the nonce.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<Inner>,
}

struct Inner {
    rpc: NearRpc,
    account_id: AccountId,
    key: SecretKey,
    /// The last nonce used (or seen on chain); `None` until first read.
    nonce: Mutex<Option<u64>>,
    policy: SendPolicy,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("account_id", &self.inner.account_id)
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl Signer {
    /// Signs as `account_id` with `secret_key` (one of its access keys).
    pub fn new(rpc: NearRpc, account_id: AccountId, secret_key: SecretKey) -> Self {
        Self::with_policy(rpc, account_id, secret_key, SendPolicy::default())
    }

    /// As [`Signer::new`], sending as `policy` says.
    pub fn with_policy(
        rpc: NearRpc,
        account_id: AccountId,
        secret_key: SecretKey,
        policy: SendPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                rpc,
                account_id,
                key: secret_key,
                nonce: Mutex::new(None),
                policy,
            }),
        }
    }

    /// Signs with the key in a NEAR credentials file (`~/.near-credentials/<network>/<id>.json`).
    pub fn from_credentials_file(rpc: NearRpc, path: &Path) -> Result<Self, ChainError> {
        let (credentials, key): (Credentials, SecretKey) = Credentials::read(path)?;
        Ok(Self::new(rpc, credentials.account_id, key))
    }

    pub fn account_id(&self) -> &AccountId {
        &self.inner.account_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.inner.key.public_key()
    }

    pub fn rpc(&self) -> &NearRpc {
        &self.inner.rpc
    }

    /// Calls `method` of `receiver` with JSON `args`, attaching `gas` and `deposit`, and waits
    /// for the outcome (a contract failure is an `Ok` outcome with [`crate::rpc::TxStatus::Failure`]).
    pub async fn call(
        &self,
        receiver: &str,
        method: &str,
        args: &impl Serialize,
        gas: Gas,
        deposit: Balance,
    ) -> Result<TxOutcome, ChainError> {
        let args = serde_json::to_vec(args).map_err(|e| ChainError::Decode {
            what: format!("the arguments of {method}"),
            message: e.to_string(),
        })?;
        let action = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: method.to_string(),
            args,
            gas,
            deposit,
        }));
        self.send(receiver, vec![action]).await
    }

    /// Sends `actions` to `receiver` and waits as the policy says.
    pub async fn send(
        &self,
        receiver: &str,
        actions: Vec<Action>,
    ) -> Result<TxOutcome, ChainError> {
        self.send_until(receiver, actions, self.inner.policy.wait)
            .await
    }

    /// Sends `actions` to `receiver` without waiting for them to run; returns the transaction's
    /// base58 hash once a block includes it (follow it with [`NearRpc::tx_status`]). It waits
    /// for inclusion, not `NONE`: nearcore answers `NONE` without checking the transaction, so
    /// a stale nonce or a short balance would hand back a hash that never lands; at `INCLUDED`
    /// the node checks it first, so a refusal is an error (or a nonce re-signed) here.
    pub async fn submit(&self, receiver: &str, actions: Vec<Action>) -> Result<String, ChainError> {
        Ok(self
            .send_until(receiver, actions, TxWait::Included)
            .await?
            .tx_hash)
    }

    /// Sends `actions` to `receiver` and waits until `wait`.
    pub async fn send_until(
        &self,
        receiver: &str,
        actions: Vec<Action>,
        wait: TxWait,
    ) -> Result<TxOutcome, ChainError> {
        let receiver_id: AccountId =
            receiver
                .parse()
                .map_err(
                    |e: near_account_id::ParseAccountError| ChainError::InvalidAccountId {
                        account: receiver.to_string(),
                        message: e.to_string(),
                    },
                )?;
        let rpc = &self.inner.rpc;
        let attempts = self.inner.policy.resign_attempts.max(1);
        let mut last = InvalidTxError::Expired;
        for _ in 0..attempts {
            let signed = self.sign(&receiver_id, actions.clone()).await?;
            let tx_hash = hash58(&signed.hash());
            match rpc.send_tx(&signed, wait).await {
                Ok(outcome) => {
                    debug!(tx = %tx_hash, nonce = signed.transaction.nonce, "sent");
                    return Ok(outcome);
                }
                Err(ChainError::Timeout { tx_hash }) => {
                    return self.await_outcome(&tx_hash, wait).await
                }
                Err(ChainError::InvalidTx(InvalidTxError::InvalidNonce { tx_nonce, ak_nonce })) => {
                    // A resend of ours may have landed already (after a transport retry). Only
                    // the chain saying it does not know the transaction allows signing another:
                    // when it cannot be asked, a new one could run the call twice.
                    match rpc
                        .tx_status(&tx_hash, self.inner.account_id.as_str(), TxWait::None)
                        .await
                    {
                        Ok(_) => return self.await_outcome(&tx_hash, wait).await,
                        Err(error) if error.rpc_cause() == Some("UNKNOWN_TRANSACTION") => {}
                        Err(error) => {
                            return Err(ChainError::SendUnconfirmed {
                                tx_hash,
                                source: Box::new(error),
                            })
                        }
                    }
                    info!(tx_nonce, ak_nonce, signer = %self.inner.account_id, "nonce taken; re-signing");
                    self.observe_nonce(ak_nonce).await;
                    last = InvalidTxError::InvalidNonce { tx_nonce, ak_nonce };
                }
                Err(ChainError::InvalidTx(InvalidTxError::Expired)) => {
                    info!(signer = %self.inner.account_id, "block hash expired; re-signing");
                    last = InvalidTxError::Expired;
                }
                // Resending, or re-signing, could run the call twice: the caller must look.
                Err(error) if error.may_have_sent() => {
                    return Err(ChainError::SendUnconfirmed {
                        tx_hash,
                        source: Box::new(error),
                    })
                }
                Err(other) => return Err(other),
            }
        }
        Err(ChainError::NonceRetriesExhausted { attempts, last })
    }

    /// Signs `actions` for `receiver` with the next nonce and a recent final block.
    pub async fn sign(
        &self,
        receiver: &AccountId,
        actions: Vec<Action>,
    ) -> Result<SignedTransaction, ChainError> {
        let block_hash = self.inner.rpc.final_block_hash().await?;
        let nonce = self.next_nonce().await?;
        let tx = Transaction {
            signer_id: self.inner.account_id.clone(),
            public_key: self.inner.key.public_key(),
            nonce,
            receiver_id: receiver.clone(),
            block_hash,
            actions,
        };
        Ok(tx.sign(&self.inner.key))
    }

    /// The next nonce: one past the last used, read from the chain the first time.
    async fn next_nonce(&self) -> Result<u64, ChainError> {
        let mut nonce = self.inner.nonce.lock().await;
        let current = match *nonce {
            Some(current) => current,
            None => {
                self.inner
                    .rpc
                    .view_access_key(self.inner.account_id.as_str(), &self.public_key())
                    .await?
                    .nonce
            }
        };
        let next = current.checked_add(1).ok_or_else(|| {
            ChainError::decode(
                "the access key's nonce",
                "it is already the largest: this key can sign no more transactions",
            )
        })?;
        *nonce = Some(next);
        Ok(next)
    }

    /// The chain says the key's nonce is `ak_nonce` (an `InvalidNonce` refusal names it): the
    /// next transaction signed takes the nonce after it, never one at or below it.
    pub async fn observe_nonce(&self, ak_nonce: u64) {
        let mut nonce = self.inner.nonce.lock().await;
        *nonce = Some(nonce.unwrap_or(0).max(ak_nonce));
    }

    /// Polls transaction `tx_hash` until it reaches `wait` or the deadline passes.
    async fn await_outcome(&self, tx_hash: &str, wait: TxWait) -> Result<TxOutcome, ChainError> {
        let policy = &self.inner.policy;
        let deadline = crate::rpc::deadline_after(policy.outcome_deadline);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let poll = self
                .inner
                .rpc
                .tx_status(tx_hash, self.inner.account_id.as_str(), wait);
            // A poll that hangs (an endpoint, its retries) ends at the deadline too.
            let polled = tokio::time::timeout(left, poll).await.unwrap_or_else(|_| {
                Err(ChainError::Timeout {
                    tx_hash: tx_hash.to_string(),
                })
            });
            match polled {
                Ok(outcome) if outcome.is_final() || !wait.executes() => return Ok(outcome),
                Ok(_) | Err(ChainError::Timeout { .. }) => {}
                Err(error) if error.rpc_cause() == Some("UNKNOWN_TRANSACTION") => {}
                // The endpoints are down for now: ask again until the deadline.
                Err(error) if error.is_retryable() || error.may_have_sent() => {
                    debug!(tx = %tx_hash, %error, "cannot poll the transaction yet");
                }
                // It was sent: whatever the poll says, the caller needs its hash.
                Err(error) => {
                    return Err(ChainError::SendUnconfirmed {
                        tx_hash: tx_hash.to_string(),
                        source: Box::new(error),
                    })
                }
            }
            if Instant::now() + policy.poll_interval > deadline {
                return Err(ChainError::Timeout {
                    tx_hash: tx_hash.to_string(),
                });
            }
            tokio::time::sleep(policy.poll_interval).await;
        }
    }
}
