//! Reading the oracle's answer in the dApp's callback, with the promise result checked.

use near_sdk::{env, serde_json, AccountId, PromiseError};
use oracle_protocol::OracleResponse;

/// The most output the oracle ever returns inline (`oracle_protocol::MAX_INLINE_OUTPUT_CAP`,
/// which the oracle holds its `max_inline_output_bytes` to).
pub const MAX_INLINE_OUTPUT_BYTES: usize = oracle_protocol::MAX_INLINE_OUTPUT_CAP as usize;

/// Longest answer read from the promise result: the inline output as JSON, where one byte may
/// take 6 (`\u0001`), plus 1 KiB for the digests, numbers and field names. A longer result would
/// fail as `TooLong` after the oracle kept the fee, so the bound covers the worst case.
pub const MAX_RESPONSE_BYTES: usize = 6 * MAX_INLINE_OUTPUT_BYTES + 1024;

/// Why a callback holds no oracle answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerError {
    /// The callback was called by another account than the contract itself: any account can
    /// call a public method with a promise of its own chained before it, and that promise's
    /// result would pass for the oracle's answer. Mark the callback `#[private]`.
    NotPrivate { caller: AccountId },
    /// The callback did not run after exactly one promise (it was not chained to `ask`).
    NotACallback { promise_results: u64 },
    /// The oracle's `request` call failed. Almost always the oracle refused the request (bad
    /// parameters, too small a deposit, no nodes...) and the whole deposit was refunded: to the
    /// `payer` of [`crate::ask_on_behalf_of`], to this contract after [`crate::ask`]. But the
    /// same failure reaches the callback when the oracle took the request and its yield
    /// callback then failed, and then the deposit stays with the oracle: the promise result
    /// cannot tell the two apart, so never pay a refund out of your own balance on `Refused`
    /// (`ask_on_behalf_of` leaves nothing to forward).
    Refused,
    /// The result is longer than [`MAX_RESPONSE_BYTES`].
    TooLong { bytes: usize },
    /// The result is not an `OracleResponse` (the callback was chained to something else).
    NotAnAnswer { reason: String },
}

impl core::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AnswerError::NotPrivate { caller } => write!(
                f,
                "the callback was called by {caller}, not by the contract itself (make it \
                 #[private])"
            ),
            AnswerError::NotACallback { promise_results } => write!(
                f,
                "expected the result of one promise (the oracle's request), got {promise_results}"
            ),
            AnswerError::Refused => {
                write!(f, "the oracle refused the request (or its callback failed)")
            }
            AnswerError::TooLong { bytes } => write!(
                f,
                "the oracle's answer is {bytes} bytes; at most {MAX_RESPONSE_BYTES} are read"
            ),
            AnswerError::NotAnAnswer { reason } => {
                write!(f, "the promise result is not an oracle answer: {reason}")
            }
        }
    }
}

/// The answer in the current callback: the result of the single promise it was chained to.
/// Refused as [`AnswerError::NotPrivate`] unless the contract itself called the callback (mark
/// it `#[private]`): any account can chain a promise of its own to a public method, and that
/// promise's result would otherwise be read here as the oracle's answer.
pub fn answer() -> Result<OracleResponse, AnswerError> {
    called_by_itself(env::predecessor_account_id(), &env::current_account_id())?;
    let promise_results = env::promise_results_count();
    if promise_results != 1 {
        return Err(AnswerError::NotACallback { promise_results });
    }
    decode(env::promise_result_checked(0, MAX_RESPONSE_BYTES))
}

/// `Ok` when `caller` is `contract` itself, the only account whose callbacks carry the
/// results of the contract's own promises.
fn called_by_itself(caller: AccountId, contract: &AccountId) -> Result<(), AnswerError> {
    if caller == *contract {
        Ok(())
    } else {
        Err(AnswerError::NotPrivate { caller })
    }
}

/// Decodes a promise result (as `env::promise_result_checked` gives it) into the answer.
pub fn decode(result: Result<Vec<u8>, PromiseError>) -> Result<OracleResponse, AnswerError> {
    match result {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AnswerError::NotAnAnswer {
            reason: e.to_string(),
        }),
        Err(PromiseError::TooLong(bytes)) => Err(AnswerError::TooLong { bytes }),
        // `Failed`, and any failure kind a later near-sdk adds: the call did not succeed.
        Err(_) => Err(AnswerError::Refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle_protocol::{Digest32, ResolvedOutput, ResponseStatus};

    #[test]
    fn a_resolved_answer_decodes() {
        let response = OracleResponse {
            request_id: 9,
            status: ResponseStatus::Resolved(ResolvedOutput {
                output: "Paris".into(),
                output_truncated: false,
                output_bytes: 5,
                result_digest: Digest32([1; 32]),
                output_hash: Digest32([2; 32]),
            }),
        };
        let bytes = serde_json::to_vec(&response).unwrap();
        assert_eq!(decode(Ok(bytes)), Ok(response));
    }

    #[test]
    fn a_timeout_decodes_with_its_refund() {
        let bytes =
            br#"{"request_id":4,"status":{"timed_out":{"message":"no quorum","refunded":"10","refunded_to":"a.near"}}}"#;
        let response = decode(Ok(bytes.to_vec())).unwrap();
        assert_eq!(
            response.status,
            ResponseStatus::TimedOut {
                message: "no quorum".into(),
                refunded: 10,
                refunded_to: Some("a.near".into()),
            }
        );
    }

    #[test]
    fn the_longest_inline_output_fits_the_bound_even_when_every_byte_is_escaped() {
        // Every byte of a control character becomes 6 in JSON (`\u0001`).
        let output = "\u{1}".repeat(MAX_INLINE_OUTPUT_BYTES);
        let response = OracleResponse {
            request_id: u64::MAX,
            status: ResponseStatus::Resolved(ResolvedOutput {
                output,
                output_truncated: true,
                output_bytes: u32::MAX,
                result_digest: Digest32([0xff; 32]),
                output_hash: Digest32([0xff; 32]),
            }),
        };
        let bytes = serde_json::to_vec(&response).unwrap();
        assert!(bytes.len() > 6 * MAX_INLINE_OUTPUT_BYTES, "{}", bytes.len());
        assert!(
            bytes.len() <= MAX_RESPONSE_BYTES,
            "{} bytes > {MAX_RESPONSE_BYTES}",
            bytes.len()
        );
        assert_eq!(decode(Ok(bytes)), Ok(response));
    }

    #[test]
    fn only_the_contract_itself_may_call_the_callback() {
        let dapp: AccountId = "dapp.test".parse().unwrap();
        let eve: AccountId = "eve.test".parse().unwrap();
        assert_eq!(called_by_itself(dapp.clone(), &dapp), Ok(()));
        let refused = called_by_itself(eve.clone(), &dapp).unwrap_err();
        assert_eq!(refused, AnswerError::NotPrivate { caller: eve });
        assert!(refused
            .to_string()
            .contains("eve.test, not by the contract itself"));
    }

    #[test]
    fn failures_and_foreign_results_are_errors() {
        assert_eq!(decode(Err(PromiseError::Failed)), Err(AnswerError::Refused));
        assert_eq!(
            decode(Err(PromiseError::TooLong(40_000))),
            Err(AnswerError::TooLong { bytes: 40_000 })
        );
        let foreign = decode(Ok(b"\"resolved\"".to_vec())).unwrap_err();
        assert!(
            matches!(foreign, AnswerError::NotAnAnswer { .. }),
            "{foreign}"
        );
        assert!(foreign.to_string().contains("not an oracle answer"));
    }
}
