//! Reading the oracle's answer in the dApp's callback, with the promise result checked.

use near_sdk::{env, serde_json, PromiseError};
use oracle_protocol::OracleResponse;

/// Longest answer read from the promise result: the oracle returns at most 16 KiB of output
/// inline, plus digests and field names.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024;

/// Why a callback holds no oracle answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerError {
    /// The callback did not run after exactly one promise (it was not chained to `ask`).
    NotACallback { promise_results: u64 },
    /// The oracle refused the request (bad parameters, too small a deposit, no nodes...): the
    /// whole deposit came back to this contract.
    Refused,
    /// The result is longer than [`MAX_RESPONSE_BYTES`].
    TooLong { bytes: usize },
    /// The result is not an `OracleResponse` (the callback was chained to something else).
    NotAnAnswer { reason: String },
}

impl core::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AnswerError::NotACallback { promise_results } => write!(
                f,
                "expected the result of one promise (the oracle's request), got {promise_results}"
            ),
            AnswerError::Refused => write!(f, "the oracle refused the request"),
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
pub fn answer() -> Result<OracleResponse, AnswerError> {
    let promise_results = env::promise_results_count();
    if promise_results != 1 {
        return Err(AnswerError::NotACallback { promise_results });
    }
    decode(env::promise_result_checked(0, MAX_RESPONSE_BYTES))
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
            br#"{"request_id":4,"status":{"timed_out":{"message":"no quorum","refunded":"10"}}}"#;
        let response = decode(Ok(bytes.to_vec())).unwrap();
        assert_eq!(
            response.status,
            ResponseStatus::TimedOut {
                message: "no quorum".into(),
                refunded: 10
            }
        );
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
