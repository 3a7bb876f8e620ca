//! oracle-dapp: what a near-sdk contract links to ask the AI oracle — the oracle's call
//! interface, its argument and answer types (re-exported from `oracle-protocol`), and a helper
//! that turns the callback's promise result into `Result<OracleResponse, AnswerError>`.
//! `ask` leaves what comes back (a refused request's deposit, a timed-out request's fee, the
//! request's storage deposit and the fee no committee member earned, on cleanup) to the calling
//! contract; a contract spending a user's money uses `ask_on_behalf_of` so that all goes
//! straight back to that user, sent by the oracle: the callback never has money to pass on.
//!
//! ```ignore
//! #[payable]
//! pub fn ask(&mut self, question: String) -> Promise {
//!     let asker = env::predecessor_account_id();
//!     // Store the question under a new id and keep its storage cost out of the deposit;
//!     // forward only the rest.
//!     let (question_id, storage) = self.store_question(&asker, &question);
//!     let forwarded = env::attached_deposit().saturating_sub(storage);
//!     oracle_dapp::ask_on_behalf_of(self.oracle.clone(), self.model_id, question, params,
//!                                   asker, forwarded, oracle_dapp::REQUEST_GAS)
//!         .then(Self::ext(env::current_account_id())
//!             .with_static_gas(Gas::from_tgas(20))
//!             .on_answer(question_id))
//! }
//!
//! #[private] // `answer()` refuses any other caller anyway (`AnswerError::NotPrivate`)
//! pub fn on_answer(&mut self, question_id: u64) {
//!     match oracle_dapp::answer() {
//!         Ok(OracleResponse { status: ResponseStatus::Resolved(out), .. }) => { /* use out.output */ }
//!         Ok(OracleResponse { status: ResponseStatus::TimedOut { message, .. }, .. }) => {
//!             /* no answer; the oracle refunded the fee to the asker itself */
//!         }
//!         Err(AnswerError::Refused) => { /* the deposit went back to the asker (or the oracle kept it) */ }
//!         Err(other) => { /* not an oracle answer */ }
//!     }
//! }
//! ```
//!
//! It compiles to wasm32 inside contracts: it must never depend on the inference engine, the
//! node, an async runtime, or floating point.

mod answer;
mod interface;

pub use answer::{answer, decode, AnswerError, MAX_INLINE_OUTPUT_BYTES, MAX_RESPONSE_BYTES};
pub use interface::{ask, ask_on_behalf_of, ext_oracle, REQUEST_GAS};
pub use oracle_protocol::{
    event_log_line, Digest32, FeeEstimate, ModelId, OracleResponse, RequestParams, ResolvedOutput,
    ResponseStatus, MAX_OUTPUT_SCHEMA_BYTES, MAX_TEMPERATURE_MILLI, TOP_P_ALL_MILLI,
};
