//! example-dapp: a contract that asks the AI oracle a question in an ordinary cross-contract call
//! and stores the answer its callback receives, in the same call flow.
//!
//! `ask` keeps the question's storage deposit (the record at its largest: question, asker,
//! answer — see `storage`) out of the attached deposit and forwards the rest to the oracle's
//! `request` on the asker's behalf (`oracle_dapp::ask_on_behalf_of`): a refused request's
//! deposit, a timed-out request's fee and the request's storage deposit go straight back to the
//! asker, never through the dApp, which never pays anything out on the oracle's word.
//! `on_answer` runs once a quorum of oracle nodes agreed (or the request timed out). A refused
//! question is deleted and its storage deposit returned; an answered one stays until its asker
//! deletes it (`delete_question`), which returns the deposit. A question still waiting
//! `QUESTION_EXPIRY_BLOCKS` after it was asked (far past the oracle's 200-block yield: only a
//! callback that went wrong leaves one) may be expired by anyone (`expire_question`), which
//! deletes it and returns its deposit to the asker; a late callback then changes nothing. Every
//! change of a record is a NEP-297 event (`events`).
//!
//! The oracle keeps the request's storage deposit (and any fee share no committee member
//! earned) until someone calls its `cleanup_request(request_id)`, which anyone may once the
//! request's `cleanable_at` (in its `get_request`) is reached; it goes to the asker. An answered
//! or failed record names the request (`oracle_request_id`) whenever the oracle's response did.
//!
//! Prepay at least `ASK_MIN_GAS` (105 TGas) for `ask`: it reserves the oracle's `REQUEST_GAS`
//! (80 TGas) and `on_answer`'s 20 TGas as static gas, and needs a few more for its own work and
//! the two receipts it sends — 104 TGas in all for a 2,048-byte question, as
//! `tests/tests/example_dapp.rs` measures. With less it fails and the deposit comes back.
//!
//! Its stored records have no versioning: a failed answer gained `oracle_request_id` with
//! events 1.1.0, so code from before cannot be upgraded in place over records of failed answers
//! (they would not decode); deploy this version on a fresh account, as the devnet does.
//!
//! It must never depend on the inference engine, the node, an async runtime, or floating point.

mod events;
mod storage;

use near_sdk::json_types::U128;
use near_sdk::serde_json::json;
use near_sdk::store::LookupMap;
use near_sdk::{env, near, require, AccountId, Gas, NearToken, PanicOnDefault, Promise};
use oracle_dapp::{AnswerError, ModelId, OracleResponse, RequestParams, ResponseStatus};

use events::Event;

pub use storage::{MAX_QUESTION_BYTES, MAX_STORED_ANSWER_BYTES};

/// Gas for `on_answer`.
const CALLBACK_GAS: Gas = Gas::from_tgas(20);
/// The least prepaid gas `ask` needs for the longest question: `REQUEST_GAS` and
/// `CALLBACK_GAS`, which it reserves as static gas, plus its own work and the receipts it sends
/// (measured: 104 TGas; `tests/tests/example_dapp.rs` checks the figure).
pub const ASK_MIN_GAS: Gas = Gas::from_tgas(105);
/// Tokens generated when the asker does not say.
const DEFAULT_MAX_TOKENS: u32 = 64;
/// Blocks after `ask` from which a question still waiting may be expired: far past the
/// oracle's 200-block yield, so only a question whose callback went wrong expires.
pub const QUESTION_EXPIRY_BLOCKS: u64 = 1000;

/// Where a question stands.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Waiting,
    /// The oracle's agreed output (a prefix when `truncated`: the oracle's inline part, cut to
    /// `MAX_STORED_ANSWER_BYTES`; `output_hash` names the whole).
    Answered {
        output: String,
        truncated: bool,
        output_hash: String,
        oracle_request_id: u64,
    },
    /// No answer: why (at most `MAX_STORED_ANSWER_BYTES`), and the oracle's request when the
    /// oracle's response named it (a timeout does; a refusal or a failed call does not): once
    /// that request's `cleanable_at` (the oracle's `get_request`) is reached, anyone may call
    /// the oracle's `cleanup_request` with it, which returns the request's storage deposit (and
    /// any unearned fee share) to the asker.
    Failed {
        reason: String,
        oracle_request_id: Option<u64>,
    },
}

/// A question and its answer.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub asker: AccountId,
    pub question: String,
    pub answer: Answer,
    /// What `ask` kept for this record's storage; returned when it is deleted.
    pub storage_deposit: NearToken,
    /// The block it was asked at.
    pub asked_at: u64,
}

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct ExampleDapp {
    oracle: AccountId,
    model_id: ModelId,
    questions: LookupMap<u64, Question>,
    next_question_id: u64,
}

#[near]
impl ExampleDapp {
    /// A dApp asking `oracle` with `model_id`. Only the dApp's own account may initialise it,
    /// so nobody can point a deployed, uninitialised dApp at an oracle of their own.
    #[init]
    #[private]
    pub fn new(oracle: AccountId, model_id: ModelId) -> Self {
        Self {
            oracle,
            model_id,
            questions: LookupMap::new(b"q"),
            next_question_id: 0,
        }
    }

    /// Asks the oracle `question` (at most `MAX_QUESTION_BYTES`; greedy decoding, `max_tokens`
    /// or 64 tokens). Attach `question_storage_deposit(question bytes)` plus the oracle's
    /// `estimate_fee(model, params, question bytes, storage_refund_to: you).total`: the first
    /// part pays for the question's record here, the rest is forwarded to the oracle on your
    /// behalf (a refusal refunds it to you). Prepay at least `ASK_MIN_GAS` (105 TGas). The
    /// transaction's value is the final `Answer`.
    #[payable]
    pub fn ask(&mut self, question: String, max_tokens: Option<u32>) -> Promise {
        require!(
            question.len() <= MAX_QUESTION_BYTES,
            format!(
                "the question is {} bytes; at most {MAX_QUESTION_BYTES}",
                question.len()
            )
        );
        let storage = NearToken::from_yoctonear(storage::deposit_for(question.len()));
        let attached = env::attached_deposit();
        require!(
            attached >= storage,
            format!(
                "attach at least {} yoctoNEAR for the question's storage ({} bytes), plus the \
                 oracle's fee; attached {}",
                storage.as_yoctonear(),
                storage::bytes_for(question.len()),
                attached.as_yoctonear()
            )
        );
        let question_id = self.next_question_id;
        self.next_question_id += 1;
        let asker = env::predecessor_account_id();
        let params = RequestParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            seed: 0,
            output_schema: None,
        };
        self.questions.insert(
            question_id,
            Question {
                asker: asker.clone(),
                question: question.clone(),
                answer: Answer::Waiting,
                storage_deposit: storage,
                asked_at: env::block_height(),
            },
        );
        Event::Asked.emit(json!({
            "question_id": question_id,
            "asker": asker,
            "storage_deposit": storage,
        }));
        let forwarded = attached.saturating_sub(storage);
        oracle_dapp::ask_on_behalf_of(
            self.oracle.clone(),
            self.model_id,
            question,
            params,
            asker.clone(),
            forwarded,
            oracle_dapp::REQUEST_GAS,
        )
        .then(
            Self::ext(env::current_account_id())
                .with_static_gas(CALLBACK_GAS)
                .on_answer(question_id),
        )
    }

    /// The oracle's answer (or its refusal) for `question_id`. A question that expired
    /// meanwhile is gone and stays so. Nothing of the fee comes back here: the oracle refunds
    /// a timed-out fee to the asker itself (the request's refund account).
    #[private]
    pub fn on_answer(&mut self, question_id: u64) -> Answer {
        let response = oracle_dapp::answer();
        let oracle_request_id = response.as_ref().ok().map(|response| response.request_id);
        let Some(mut entry) = self.questions.get(&question_id).cloned() else {
            return failed(
                format!("question {question_id} expired before the oracle answered"),
                oracle_request_id,
            );
        };
        let answer = match response {
            Ok(OracleResponse {
                request_id,
                status: ResponseStatus::Resolved(resolved),
            }) => {
                let (output, cut) = storage::bounded(resolved.output, MAX_STORED_ANSWER_BYTES);
                Answer::Answered {
                    output,
                    truncated: resolved.output_truncated || cut,
                    output_hash: resolved.output_hash.to_hex(),
                    oracle_request_id: request_id,
                }
            }
            // The oracle refunded the fee to the asker.
            Ok(OracleResponse {
                status: ResponseStatus::TimedOut { message, .. },
                ..
            }) => failed(message, oracle_request_id),
            // The request failed: the oracle refused it and refunded the deposit to the asker
            // (the receipt's refund account), or its callback failed and it kept the deposit.
            // Either way nothing came back here; the record goes, with its storage deposit.
            Err(AnswerError::Refused) => {
                self.remove(question_id, &entry, "refused");
                return failed(AnswerError::Refused.to_string(), None);
            }
            // Not an answer: the oracle kept the fee, so nothing comes back.
            Err(other) => failed(other.to_string(), None),
        };
        Event::Answered.emit(json!({
            "question_id": question_id,
            "asker": entry.asker,
            "answered": matches!(answer, Answer::Answered { .. }),
            "oracle_request_id": oracle_request_id,
        }));
        entry.answer = answer.clone();
        self.questions.insert(question_id, entry);
        answer
    }

    /// Expires question `question_id`, still waiting for the oracle `QUESTION_EXPIRY_BLOCKS`
    /// after it was asked (anyone may call): deletes it and returns its storage deposit to its
    /// asker; the value is the amount returned.
    pub fn expire_question(&mut self, question_id: u64) -> U128 {
        let entry = self.question_or_panic(question_id);
        require!(
            entry.answer == Answer::Waiting,
            format!("question {question_id} is not waiting for the oracle")
        );
        let expires_at = entry.asked_at + QUESTION_EXPIRY_BLOCKS;
        let now = env::block_height();
        require!(
            now >= expires_at,
            format!(
                "question {question_id} can expire from block {expires_at}; now is block {now}"
            )
        );
        self.remove(question_id, &entry, "expired");
        U128(entry.storage_deposit.as_yoctonear())
    }

    /// Deletes question `question_id` (only its asker, once it is no longer waiting) and
    /// returns its storage deposit to the asker; the value is the amount returned.
    pub fn delete_question(&mut self, question_id: u64) -> U128 {
        let entry = self.question_or_panic(question_id);
        require!(
            env::predecessor_account_id() == entry.asker,
            format!(
                "only {} (who asked question {question_id}) may delete it",
                entry.asker
            )
        );
        require!(
            entry.answer != Answer::Waiting,
            format!("question {question_id} is still waiting for the oracle")
        );
        self.remove(question_id, &entry, "deleted");
        U128(entry.storage_deposit.as_yoctonear())
    }

    pub fn get_question(&self, question_id: u64) -> Option<Question> {
        self.questions.get(&question_id).cloned()
    }

    /// What `ask` keeps for the storage of a question of `question_bytes` bytes (yoctoNEAR);
    /// attach it on top of the oracle's fee.
    pub fn question_storage_deposit(&self, question_bytes: u32) -> U128 {
        U128(storage::deposit_for(question_bytes as usize))
    }

    pub fn oracle(&self) -> AccountId {
        self.oracle.clone()
    }
}

impl ExampleDapp {
    fn question_or_panic(&self, question_id: u64) -> Question {
        self.questions
            .get(&question_id)
            .cloned()
            .unwrap_or_else(|| env::panic_str(&format!("question {question_id} does not exist")))
    }

    /// Deletes question `question_id` (`entry`) and returns its storage deposit to its asker;
    /// `why`: `deleted` (by the asker), `refused` (by the oracle) or `expired`.
    fn remove(&mut self, question_id: u64, entry: &Question, why: &str) {
        self.questions.remove(&question_id);
        send(&entry.asker, entry.storage_deposit);
        Event::Deleted.emit(json!({
            "question_id": question_id,
            "asker": entry.asker,
            "refunded": entry.storage_deposit,
            "why": why,
        }));
    }
}

/// A failure's answer, its reason bounded like any stored answer, with the oracle's request
/// when its response named one.
fn failed(reason: String, oracle_request_id: Option<u64>) -> Answer {
    Answer::Failed {
        reason: storage::bounded(reason, MAX_STORED_ANSWER_BYTES).0,
        oracle_request_id,
    }
}

/// Sends `amount` to `receiver` (nothing when it is zero).
fn send(receiver: &AccountId, amount: NearToken) {
    if !amount.is_zero() {
        Promise::new(receiver.clone()).transfer(amount).detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use near_sdk::borsh;

    #[test]
    fn the_reserve_covers_the_largest_record() {
        let question = "q".repeat(100);
        let largest = Question {
            asker: "a".repeat(64).parse().unwrap(),
            question: question.clone(),
            answer: Answer::Answered {
                output: "o".repeat(MAX_STORED_ANSWER_BYTES),
                truncated: true,
                output_hash: "h".repeat(64),
                oracle_request_id: u64::MAX,
            },
            storage_deposit: NearToken::from_yoctonear(u128::MAX),
            asked_at: u64::MAX,
        };
        let value = borsh::to_vec(&largest).unwrap().len() as u64;
        // Key (prefix + id) and NEAR's 40 bytes per record on top of the value.
        assert_eq!(storage::bytes_for(question.len()), 9 + 40 + value);
        let failed = Question {
            answer: failed("r".repeat(2 * MAX_STORED_ANSWER_BYTES), Some(u64::MAX)),
            ..largest
        };
        assert!(borsh::to_vec(&failed).unwrap().len() as u64 <= value);
    }
}
