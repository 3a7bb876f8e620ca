//! example-dapp: a contract that asks the AI oracle a question in an ordinary cross-contract call
//! and stores the answer its callback receives, in the same call flow.
//!
//! `ask` forwards the caller's deposit to the oracle's `request`; the oracle answers through a
//! yield, so `on_answer` runs once a quorum of oracle nodes agreed (or the request timed out).
//! Refunds the oracle sends back (a refused request, a timed-out fee) go on to the asker.

use near_sdk::store::LookupMap;
use near_sdk::{env, near, AccountId, Gas, NearToken, PanicOnDefault, Promise};
use oracle_dapp::{AnswerError, ModelId, OracleResponse, RequestParams, ResponseStatus};

/// Gas for `on_answer`.
const CALLBACK_GAS: Gas = Gas::from_tgas(20);
/// Tokens generated when the asker does not say.
const DEFAULT_MAX_TOKENS: u32 = 64;

/// Where a question stands.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Waiting,
    /// The oracle's agreed output (a prefix when `truncated`; `output_hash` names the whole).
    Answered {
        output: String,
        truncated: bool,
        output_hash: String,
        oracle_request_id: u64,
    },
    /// No answer: why.
    Failed {
        reason: String,
    },
}

/// A question and its answer.
#[near(serializers = [borsh, json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub asker: AccountId,
    pub question: String,
    pub answer: Answer,
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
    #[init]
    pub fn new(oracle: AccountId, model_id: ModelId) -> Self {
        Self {
            oracle,
            model_id,
            questions: LookupMap::new(b"q"),
            next_question_id: 0,
        }
    }

    /// Asks the oracle `question` (greedy decoding, `max_tokens` or 64 tokens). Attach the
    /// oracle's `estimate_fee` total; it is forwarded as is.
    #[payable]
    pub fn ask(&mut self, question: String, max_tokens: Option<u32>) -> Promise {
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
                asker,
                question: question.clone(),
                answer: Answer::Waiting,
            },
        );
        oracle_dapp::ask(
            self.oracle.clone(),
            self.model_id,
            question,
            params,
            env::attached_deposit(),
            oracle_dapp::REQUEST_GAS,
        )
        .then(
            Self::ext(env::current_account_id())
                .with_static_gas(CALLBACK_GAS)
                .on_answer(question_id, env::attached_deposit()),
        )
    }

    /// The oracle's answer (or its refusal) for `question_id`.
    #[private]
    pub fn on_answer(&mut self, question_id: u64, deposit: NearToken) -> Answer {
        let mut entry = self
            .questions
            .get(&question_id)
            .cloned()
            .unwrap_or_else(|| env::panic_str(&format!("question {question_id} does not exist")));
        let (answer, refund) = match oracle_dapp::answer() {
            Ok(OracleResponse {
                request_id,
                status: ResponseStatus::Resolved(resolved),
            }) => (
                Answer::Answered {
                    output: resolved.output,
                    truncated: resolved.output_truncated,
                    output_hash: resolved.output_hash.to_hex(),
                    oracle_request_id: request_id,
                },
                NearToken::from_yoctonear(0),
            ),
            Ok(OracleResponse {
                status: ResponseStatus::TimedOut { message, refunded },
                ..
            }) => (
                Answer::Failed { reason: message },
                NearToken::from_yoctonear(refunded),
            ),
            // The oracle refused the request; its deposit came back to this contract.
            Err(AnswerError::Refused) => (
                Answer::Failed {
                    reason: AnswerError::Refused.to_string(),
                },
                deposit,
            ),
            // Not an answer: the oracle kept the deposit, so nothing comes back.
            Err(other) => (
                Answer::Failed {
                    reason: other.to_string(),
                },
                NearToken::from_yoctonear(0),
            ),
        };
        if !refund.is_zero() {
            Promise::new(entry.asker.clone()).transfer(refund).detach();
        }
        entry.answer = answer.clone();
        self.questions.insert(question_id, entry);
        answer
    }

    pub fn get_question(&self, question_id: u64) -> Option<Question> {
        self.questions.get(&question_id).cloned()
    }

    pub fn oracle(&self) -> AccountId {
        self.oracle.clone()
    }
}
