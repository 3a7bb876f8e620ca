//! The yield's callback, `on_request_finished`: it hands the requester's callback the answer of a
//! resolved request, or ends a request still pending as timed out (the members in the largest
//! group of equal reveals paid their seats' shares, the rest of the fee refunded). Run by the
//! yield, it never panics, whatever it finds, so a request can never stay pending with its fee
//! and storage locked, and the requester's callback always receives an `OracleResponse`. It
//! refuses only a call that is not the yield's: one without exactly one promise result (a direct
//! call by the oracle's own account), which would otherwise end a pending request early.

use crate::config::YIELD_TIMEOUT_BLOCKS;
use crate::events::Event;
use crate::requests::{Request, RequestStatus};
use crate::storage::send;
use crate::{OracleContract, OracleContractExt};
use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::{env, near};
use oracle_protocol::{OracleResponse, ResponseStatus};

/// Bytes of the resume payload: the request id, u64 little-endian.
const RESUME_PAYLOAD_BYTES: usize = 8;

#[near]
impl OracleContract {
    /// The yield's callback. A resolved request returns its answer (and becomes cleanable
    /// `retention_blocks` from now). A pending one (the yield timed out) is marked timed out,
    /// its largest group of equal reveals paid and the rest of its fee refunded to the
    /// request's refund account, and returns `timed_out` naming it. A request already ended or gone returns `timed_out`
    /// with nothing refunded and the reason. Panics unless the yield runs it: the yield's
    /// callback always has exactly one promise result (the resume's payload, or the timeout's
    /// error), a direct call by the oracle's own account none.
    #[private]
    pub fn on_request_finished(&mut self, request_id: u64) -> OracleResponse {
        let promise_results = env::promise_results_count();
        if promise_results != 1 {
            env::panic_str(&format!(
                "on_request_finished is the yield's callback and runs with exactly one promise \
                 result; this call has {promise_results}"
            ));
        }
        let Some(mut request) = self.requests.get(&request_id).cloned() else {
            return ended_without_answer(
                request_id,
                format!("request {request_id} does not exist"),
            );
        };
        let status = match &request.status {
            RequestStatus::Resolved { answer, .. } => {
                let status = ResponseStatus::Resolved(answer.clone());
                self.delivered(request_id, request);
                status
            }
            RequestStatus::Pending { .. } => {
                let status = self.time_out(request_id, &mut request, resumed());
                self.requests.insert(request_id, request);
                status
            }
            RequestStatus::TimedOut { .. } => {
                return ended_without_answer(
                    request_id,
                    format!(
                        "request {request_id} had already ended without an answer; its fee was \
                         refunded then"
                    ),
                )
            }
        };
        OracleResponse { request_id, status }
    }
}

impl OracleContract {
    /// Resolved `request`'s answer reaches the requester now: it becomes cleanable
    /// `retention_blocks` from here.
    fn delivered(&mut self, request_id: u64, mut request: Request) {
        let cleanable_from = self.cleanable_from_now();
        if let RequestStatus::Resolved { cleanable_at, .. } = &mut request.status {
            *cleanable_at = cleanable_from;
        }
        self.requests.insert(request_id, request);
    }

    /// Ends pending `request` without an answer: it becomes cleanable after the retention, the
    /// members in the largest group of equal reveals are paid a seat's share each (`held_fees.rs`),
    /// the rest of the fee goes back to the request's refund account, and members that never committed, or
    /// committed and never revealed, are counted a miss. `resumed` tells whether the yield saw
    /// a resume (it never should without a resolution; the request ends all the same).
    fn time_out(
        &mut self,
        request_id: u64,
        request: &mut Request,
        resumed: bool,
    ) -> ResponseStatus {
        request.status = RequestStatus::TimedOut {
            cleanable_at: self.cleanable_from_now(),
        };
        self.pending.remove(&request_id);
        let (paid, paid_total) = self.pay_timeout_reveals(request_id, request);
        let refunded = request.fee - paid_total;
        let refunded_to = request.refund_account().clone();
        send(&refunded_to, refunded);
        self.record_timeout_misses(request_id, request);
        let why = if resumed {
            "was resumed without a resolution".to_string()
        } else {
            format!(
                "timed out: {} of {} committee nodes attested and no {} agreed within \
                     {YIELD_TIMEOUT_BLOCKS} blocks",
                request.attestations.len(),
                request.committee.len(),
                request.quorum,
            )
        };
        let message = if paid.is_empty() {
            format!(
                "request {request_id} {why}; the fee of {} yoctoNEAR was refunded to {refunded_to}",
                request.fee
            )
        } else {
            format!(
                "request {request_id} {why}; the {} members that revealed the most \
                 common answer were paid {paid_total} yoctoNEAR of the fee, the other {refunded} \
                 yoctoNEAR was refunded to {refunded_to}",
                paid.len(),
            )
        };
        Event::RequestTimedOut.emit(json!({
            "request_id": request_id,
            "paid": paid,
            "refunded": U128(refunded),
            "refunded_to": refunded_to,
            "requester": request.requester,
        }));
        ResponseStatus::TimedOut {
            message,
            refunded,
            refunded_to: Some(refunded_to.to_string()),
        }
    }
}

/// Whether the yield was resumed (with the request id) rather than timed out: its one promise
/// result (`on_request_finished` refuses any other call) holds the payload, not an error.
fn resumed() -> bool {
    env::promise_result_checked(0, RESUME_PAYLOAD_BYTES).is_ok()
}

/// The response for a request that ends with no answer and nothing refunded now.
fn ended_without_answer(request_id: u64, message: String) -> OracleResponse {
    OracleResponse {
        request_id,
        status: ResponseStatus::TimedOut {
            message,
            refunded: 0,
            refunded_to: None,
        },
    }
}
