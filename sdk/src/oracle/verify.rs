//! Checking an oracle answer: every attestation's ed25519 signature against its node's registered
//! key, each signer on the request's committee, a quorum of equal `(result_digest,
//! output_hash)`, the answer equal to the quorum's, and the output's SHA-256 equal to
//! `output_hash` — and, given the model, re-running the request to compare the digest and the
//! output (its SHA-256 must be the signed output hash, a truncated answer a prefix of it).
//!
//! Trust model. [`verify_view`] trusts only its inputs: the request view, the chain id and the
//! nodes' keys. [`OracleClient::verify`] reads all three from the RPC endpoint, so it proves
//! that the answer is what the committee signed *as that endpoint reports the chain*: an
//! endpoint that lies consistently (a made-up view with keys of its own) is not caught. Pin what
//! you can get elsewhere — the chain id and the nodes' attestation keys —
//! with [`OracleClient::verify_pinned`]: then a view's attestations must carry signatures of the
//! pinned keys, which no endpoint can forge. The committee and quorum still come from the view
//! (no signature covers them): a view whose quorum the contract could never set (not more than
//! half its committee) is refused, but one that shrinks both consistently is not caught.
//!
//! An attestation whose node has no key to check it against (a node that withdrew since, which
//! removes its entry, or that registered again after the request, whose key may have changed)
//! is not an error: it is listed in [`Verification::unchecked`] and does not count towards the
//! quorum, which the checked attestations must reach alone.
//!
//! What is verified is the view's answer, returned in [`Verification::answer`]: compare it with
//! the answer you show (the one `PendingRequest::wait` returned, say), which another endpoint
//! may have served. Re-execution ([`reexecute_view`]) also checks the output itself: the signed
//! output hash must be the SHA-256 of the output the model gives, and a truncated answer a
//! prefix of it, so a quorum cannot attach another output to the honest digest.

use super::{OracleClient, OracleError};
use crate::attest;
use crate::inference::{engine_request, RequestKey};
use crate::keys::PublicKey;
use kernels::engine::Engine;
use oracle_protocol::{Digest32, NodeView, RequestPhase, RequestView, ResolvedOutput};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use thiserror::Error;

/// A verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub request_id: u64,
    pub result_digest: Digest32,
    pub output_hash: Digest32,
    /// Committee members whose valid signatures agree with the answer.
    pub agreeing: Vec<String>,
    /// Nodes whose attestations could not be checked (no key known for them, or a weak key):
    /// not counted.
    pub unchecked: Vec<String>,
    pub quorum: u32,
    /// Whether the output was checked against the signed output hash: the answer's own (not
    /// possible for a truncated output), or the re-executed one.
    pub output_checked: bool,
    /// The answer verified: compare it with the one you show.
    pub answer: ResolvedOutput,
    /// The request's input, as the view gives it: the one the committee answered when the
    /// request was re-executed (its digest covers the prompt); otherwise no signature covers it.
    pub input: String,
    /// What re-running the request here gave, when it was re-run
    /// ([`OracleClient::verify_by_reexecution`]).
    pub reexecution: Option<Reexecution>,
}

/// What re-running a request on a local engine gave (equal to the signed answer, or the
/// re-execution would have failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reexecution {
    pub result_digest: Digest32,
    /// The whole output (the answer's may be a truncated prefix of it).
    pub output: String,
}

/// Why an answer did not verify.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(transparent)]
    Oracle(#[from] OracleError),
    /// The request has no answer to check: still pending, or ended without one (`status`).
    #[error("{}", not_resolved(*request_id, *status))]
    NotResolved {
        request_id: u64,
        status: RequestPhase,
    },
    #[error("{node} attested but is not on the committee of request {request_id}")]
    NotOnCommittee { node: String, request_id: u64 },
    #[error("{node}'s registered key `{key}` is not an ed25519 key")]
    BadNodeKey { node: String, key: String },
    /// The oracle contract never makes such a request: two answers could both reach it.
    #[error(
        "request {request_id} claims a quorum of {quorum} in a committee of {committee}, which the \
         oracle contract never sets (it needs more than half): the view is forged"
    )]
    ImpossibleQuorum {
        request_id: u64,
        quorum: u32,
        committee: usize,
    },
    #[error("{node} attested twice to request {request_id}")]
    DuplicateAttestation { node: String, request_id: u64 },
    #[error(
        "the signature of {node} does not verify for request {request_id} with its digests (it \
         signs the chain id and the oracle contract too: check those you verify against)"
    )]
    BadSignature { node: String, request_id: u64 },
    /// `unchecked`: attesting nodes with no usable key known (not counted).
    #[error(
        "no quorum: at most {agreeing} checked attestations agree, {quorum} are needed{}",
        unchecked_note(unchecked)
    )]
    NoQuorum {
        agreeing: u32,
        quorum: u32,
        unchecked: Vec<String>,
    },
    /// Each side as `result <digest>, output <hash>`.
    #[error("the answer's digests ({answer}) are not the ones the quorum signed ({quorum})")]
    AnswerNotQuorums { answer: String, quorum: String },
    #[error("the output's SHA-256 is {actual}, but the quorum signed {expected}: the output was altered")]
    OutputAltered {
        expected: Digest32,
        actual: Digest32,
    },
    #[error(
        "the answer says its output is {bytes} bytes, but {shown} are shown{}: the answer was \
         altered",
        if *truncated { " as a truncated prefix" } else { " whole" }
    )]
    OutputLength {
        bytes: u32,
        shown: usize,
        truncated: bool,
    },
    #[error("the request's output_schema is not usable: {0}")]
    Schema(#[from] crate::inference::InvalidOutputSchema),
    #[error("re-execution failed: {0}")]
    Engine(#[from] kernels::engine::EngineError),
    #[error("request {request_id} ran model {requested}, but the engine given holds model {loaded}: load the request's model to re-execute it")]
    WrongModel {
        request_id: u64,
        requested: Digest32,
        loaded: Digest32,
    },
    #[error("re-execution was cancelled: the async runtime is shutting down")]
    ReexecutionCancelled,
    #[error("re-execution gives result digest {local} (output {local_output:?}), the quorum signed {signed}: a different model or a wrong answer")]
    DigestMismatch {
        local: Digest32,
        signed: Digest32,
        local_output: String,
    },
    /// The digest is the re-executed one, but the output shown is not that run's output.
    #[error("re-execution gives the signed result digest, but its output {local_output:?} is not the answer's ({detail}): the quorum attached another output to the honest digest")]
    OutputNotReexecuted {
        local_output: String,
        detail: String,
    },
}

/// Why request `request_id`, in phase `status`, has no answer to verify, and what to do.
fn not_resolved(request_id: u64, status: RequestPhase) -> String {
    match status {
        RequestPhase::Pending => format!(
            "request {request_id} has no answer yet: it is still pending; wait, or check its \
             committee nodes are running"
        ),
        RequestPhase::TimedOut => format!(
            "request {request_id} timed out without an answer (refunded): there is nothing to \
             verify"
        ),
        // A resolved request always carries its answer: only a wrong view lacks it.
        RequestPhase::Resolved => format!(
            "request {request_id} is resolved but its view carries no answer: the RPC endpoint's \
             view is wrong; try another endpoint"
        ),
    }
}

fn unchecked_note(unchecked: &[String]) -> String {
    if unchecked.is_empty() {
        String::new()
    } else {
        format!(
            " ({} could not be checked: no usable key known for {})",
            unchecked.len(),
            unchecked.join(", ")
        )
    }
}

/// Checks `view` (read from the oracle `oracle_contract` on chain `chain_id`) against the nodes'
/// `keys` (`account → ed25519:<base58>`), trusting nothing else. Attestations of nodes missing
/// from `keys`, or whose key is weak (of small order), are listed as unchecked and not counted.
pub fn verify_view(
    view: &RequestView,
    chain_id: &str,
    oracle_contract: &str,
    keys: &HashMap<String, String>,
) -> Result<Verification, VerifyError> {
    let request_id = view.request_id;
    let answer = match (&view.answer, view.status) {
        (Some(answer), RequestPhase::Resolved) => answer,
        _ => {
            return Err(VerifyError::NotResolved {
                request_id,
                status: view.status,
            })
        }
    };
    let committee = view.committee.len();
    if 2 * u64::from(view.quorum) <= committee as u64 || view.quorum as usize > committee {
        return Err(VerifyError::ImpossibleQuorum {
            request_id,
            quorum: view.quorum,
            committee,
        });
    }
    let mut seen = Vec::new();
    let mut unchecked = Vec::new();
    let mut groups: BTreeMap<(Digest32, Digest32), Vec<String>> = BTreeMap::new();
    for attestation in &view.attestations {
        let node = attestation.node.clone();
        if !view.committee.contains(&node) {
            return Err(VerifyError::NotOnCommittee { node, request_id });
        }
        if seen.contains(&node) {
            return Err(VerifyError::DuplicateAttestation { node, request_id });
        }
        seen.push(node.clone());
        let Some(key_text) = keys.get(&node) else {
            unchecked.push(node);
            continue;
        };
        let key = key_text
            .parse::<PublicKey>()
            .map_err(|_| VerifyError::BadNodeKey {
                node: node.clone(),
                key: key_text.clone(),
            })?;
        // A weak key (of small order): one signature verifies with it for any message, so its
        // attestation proves nothing. The contract registers none; one older code stored is
        // not counted, like a node whose key is unknown.
        if attest::is_weak(&key) {
            unchecked.push(node);
            continue;
        }
        let message = view.attestation_message(chain_id, oracle_contract, attestation);
        if !attest::verify(&key, &message, attestation.signature.as_bytes()) {
            return Err(VerifyError::BadSignature { node, request_id });
        }
        groups
            .entry((attestation.result_digest, attestation.output_hash))
            .or_default()
            .push(node);
    }
    let (result_digest, output_hash, agreeing) = match groups
        .into_iter()
        .max_by_key(|(_, nodes)| nodes.len())
    {
        Some(((result_digest, output_hash), agreeing)) if agreeing.len() as u32 >= view.quorum => {
            (result_digest, output_hash, agreeing)
        }
        best => {
            return Err(VerifyError::NoQuorum {
                agreeing: best.map_or(0, |(_, nodes)| nodes.len() as u32),
                quorum: view.quorum,
                unchecked,
            })
        }
    };
    if (answer.result_digest, answer.output_hash) != (result_digest, output_hash) {
        let pair = |digest: Digest32, output: Digest32| format!("result {digest}, output {output}");
        return Err(VerifyError::AnswerNotQuorums {
            answer: pair(answer.result_digest, answer.output_hash),
            quorum: pair(result_digest, output_hash),
        });
    }
    let length_fits = if answer.output_truncated {
        (answer.output_bytes as usize) > answer.output.len()
    } else {
        answer.output_bytes as usize == answer.output.len()
    };
    if !length_fits {
        return Err(VerifyError::OutputLength {
            bytes: answer.output_bytes,
            shown: answer.output.len(),
            truncated: answer.output_truncated,
        });
    }
    if !answer.output_truncated {
        let actual = Digest32(Sha256::digest(answer.output.as_bytes()).into());
        if actual != output_hash {
            return Err(VerifyError::OutputAltered {
                expected: output_hash,
                actual,
            });
        }
    }
    Ok(Verification {
        request_id,
        result_digest,
        output_hash,
        agreeing,
        unchecked,
        quorum: view.quorum,
        output_checked: !answer.output_truncated,
        answer: answer.clone(),
        input: view.input.clone(),
        reexecution: None,
    })
}

/// Re-runs `view`'s request on `engine` (which must hold the request's model) and compares the
/// result with the answer: the quorum's result digest, and the output (its SHA-256 is the
/// signed output hash; the answer's output is all of it, or a prefix when truncated). What the
/// re-run gave when it matches.
pub fn reexecute_view(
    view: &RequestView,
    chain_id: &str,
    oracle_contract: &str,
    engine: &Engine,
) -> Result<Reexecution, VerifyError> {
    let answer = view.answer.as_ref().ok_or(VerifyError::NotResolved {
        request_id: view.request_id,
        status: view.status,
    })?;
    let signed = answer.result_digest;
    let loaded = Digest32(engine.model_sha256());
    if loaded != view.model_id {
        return Err(VerifyError::WrongModel {
            request_id: view.request_id,
            requested: view.model_id,
            loaded,
        });
    }
    let key = RequestKey {
        chain_id,
        oracle_contract,
        request_id: view.request_id,
    };
    let generation = engine.generate(&engine_request(&key, &view.input, &view.params)?)?;
    let local = Digest32(generation.digest);
    if local != signed {
        return Err(VerifyError::DigestMismatch {
            local,
            signed,
            local_output: generation.text,
        });
    }
    let text = &generation.text;
    let local_hash = Digest32(Sha256::digest(text.as_bytes()).into());
    let detail = if local_hash != answer.output_hash {
        Some(format!(
            "its SHA-256 is {local_hash}, the quorum signed {}",
            answer.output_hash
        ))
    } else if answer.output_bytes as usize != text.len() {
        Some(format!(
            "it is {} bytes, the answer says {}",
            text.len(),
            answer.output_bytes
        ))
    } else if answer.output_truncated && !text.starts_with(&answer.output) {
        Some("the answer's truncated output is not a prefix of it".into())
    } else if !answer.output_truncated && answer.output != *text {
        Some("the answer's output differs".into())
    } else {
        None
    };
    if let Some(detail) = detail {
        return Err(VerifyError::OutputNotReexecuted {
            local_output: generation.text,
            detail,
        });
    }
    Ok(Reexecution {
        result_digest: local,
        output: generation.text,
    })
}

impl OracleClient {
    /// Reads request `request_id`, its attesters' keys and the chain id from the RPC endpoint,
    /// and checks the answer offline ([`verify_view`]; see the module's trust model).
    pub async fn verify(&self, request_id: u64) -> Result<Verification, VerifyError> {
        let (view, chain_id, keys) = self.verification_inputs(request_id).await?;
        verify_view(&view, &chain_id, self.contract(), &keys)
    }

    /// Reads request `request_id` and checks it against a chain id and node keys obtained
    /// elsewhere (pinned), not from the RPC endpoint: its attestations must be signed by the
    /// pinned keys; attesters without a pinned key are unchecked.
    pub async fn verify_pinned(
        &self,
        request_id: u64,
        chain_id: &str,
        keys: &HashMap<String, String>,
    ) -> Result<Verification, VerifyError> {
        let view = self.get_request(request_id).await?;
        verify_view(&view, chain_id, self.contract(), keys)
    }

    /// Verifies request `request_id` and re-runs it on `engine` (the request's model): the
    /// digest must be the quorum's and the output the one the quorum's output hash names. The model runs on tokio's blocking pool
    /// (`spawn_blocking`), never on the async caller's thread; a panic in it is resumed here.
    pub async fn verify_by_reexecution(
        &self,
        request_id: u64,
        engine: Arc<Engine>,
    ) -> Result<Verification, VerifyError> {
        let (view, chain_id, keys) = self.verification_inputs(request_id).await?;
        self.verify_and_reexecute(view, chain_id, &keys, engine)
            .await
    }

    /// [`Self::verify_pinned`], then re-running the request on `engine` as
    /// [`Self::verify_by_reexecution`] does. The result digest covers the prompt and the
    /// parameters, so this also proves that the view's input is the one the quorum answered,
    /// which the signatures alone do not.
    pub async fn verify_pinned_by_reexecution(
        &self,
        request_id: u64,
        chain_id: &str,
        keys: &HashMap<String, String>,
        engine: Arc<Engine>,
    ) -> Result<Verification, VerifyError> {
        let view = self.get_request(request_id).await?;
        self.verify_and_reexecute(view, chain_id.to_string(), keys, engine)
            .await
    }

    async fn verify_and_reexecute(
        &self,
        view: RequestView,
        chain_id: String,
        keys: &HashMap<String, String>,
        engine: Arc<Engine>,
    ) -> Result<Verification, VerifyError> {
        let verification = verify_view(&view, &chain_id, self.contract(), keys)?;
        let contract = self.contract().to_string();
        let rerun = tokio::task::spawn_blocking(move || {
            // A blocking-pool thread inherits the float mode of whatever spawned it; the engine
            // refuses to run in any but the spec's, so set it, as a node's worker does.
            kernels::engine::use_spec_float_mode();
            reexecute_view(&view, &chain_id, &contract, &engine)
        });
        let reexecution = match rerun.await {
            Ok(reexecution) => reexecution?,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => return Err(VerifyError::ReexecutionCancelled),
        };
        Ok(Verification {
            output_checked: true,
            reexecution: Some(reexecution),
            ..verification
        })
    }

    /// What verifying request `request_id` reads from the chain, once: the request, the chain
    /// id, and the attestation keys of the nodes that attested.
    async fn verification_inputs(
        &self,
        request_id: u64,
    ) -> Result<(RequestView, String, HashMap<String, String>), VerifyError> {
        let view = self.get_request(request_id).await?;
        let chain_id = self
            .rpc()
            .status()
            .await
            .map_err(OracleError::from)?
            .chain_id;
        let mut nodes = Vec::new();
        for attestation in &view.attestations {
            nodes.extend(self.get_node(&attestation.node).await?);
        }
        let keys = keys_in_force(&view, nodes);
        Ok((view, chain_id, keys))
    }
}

/// The attestation keys of `nodes` (their records now) that were in force when `view`'s
/// request was made: a node registered after it (it withdrew and registered again) may have
/// signed with an older key, so its key is left out and its attestation unchecked.
fn keys_in_force(view: &RequestView, nodes: Vec<NodeView>) -> HashMap<String, String> {
    nodes
        .into_iter()
        .filter(|node| node.registered_at <= view.created_at)
        .map(|node| (node.account_id, node.attestation_key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_registered_after_the_request_has_no_key_in_force_for_it() {
        let view = RequestView {
            request_id: 4,
            model_id: Digest32([1; 32]),
            requester: "a.test".into(),
            storage_refund_to: "a.test".into(),
            input: "q".into(),
            params: oracle_protocol::RequestParams {
                temperature_milli: 0,
                top_k: 0,
                top_p_milli: 1000,
                max_tokens: 4,
                seed: 0,
                output_schema: None,
            },
            fee: 1,
            held_fee: 0,
            storage_deposit: 1,
            committee: vec!["n1.test".into(), "n2.test".into()],
            quorum: 2,
            commitments: Vec::new(),
            reveal_opens_at: 90,
            reveal_open: false,
            attested: Vec::new(),
            attestations: Vec::new(),
            slashed: Vec::new(),
            created_at: 50,
            expires_at: 250,
            status: RequestPhase::Pending,
            answer: None,
            cleanable_at: None,
        };
        let node = |account: &str, registered_at: u64| NodeView {
            account_id: account.into(),
            attestation_key: format!("ed25519:{account}"),
            models: Vec::new(),
            stake: 1,
            status: oracle_protocol::NodeStatus::Active,
            registered_at,
            missed_commits: 0,
        };
        let keys = keys_in_force(&view, vec![node("n1.test", 50), node("n2.test", 51)]);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["n1.test"], "ed25519:n1.test");
    }

    #[test]
    fn an_unanswered_request_says_whether_an_answer_may_still_come() {
        let message = |status| {
            VerifyError::NotResolved {
                request_id: 8,
                status,
            }
            .to_string()
        };
        assert_eq!(
            message(RequestPhase::Pending),
            "request 8 has no answer yet: it is still pending; wait, or check its committee \
             nodes are running"
        );
        assert_eq!(
            message(RequestPhase::TimedOut),
            "request 8 timed out without an answer (refunded): there is nothing to verify"
        );
        assert!(!message(RequestPhase::TimedOut).contains("yet"));
        assert!(message(RequestPhase::Resolved).contains("carries no answer"));
    }
}
