//! test-yield: a request is answered later by a resume, or times out after 200 blocks.
//!
//! A test contract only: it must never be deployed for real use, and depends on nothing but
//! near-sdk.

use near_sdk::store::LookupMap;
use near_sdk::{env, near, Gas, GasWeight, PanicOnDefault, Promise, YieldId};

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct YieldContract {
    pending: LookupMap<u64, YieldId>,
    answers: LookupMap<u64, String>,
    next_id: u64,
}

#[near]
impl YieldContract {
    #[init]
    pub fn new() -> Self {
        Self {
            pending: LookupMap::new(b"p"),
            answers: LookupMap::new(b"a"),
            next_id: 0,
        }
    }

    /// Opens request `id` and yields until `respond(id, ..)` or the timeout.
    pub fn request(&mut self) -> Promise {
        let id = self.next_id;
        self.next_id += 1;
        let args = near_sdk::serde_json::json!({ "id": id }).to_string();
        let (promise, yield_id) =
            Promise::new_yield("on_response", args, Gas::from_tgas(10), GasWeight(0));
        self.pending.insert(id, yield_id);
        env::log_str(&format!("request {id} yielded"));
        promise
    }

    /// Resumes request `id` with `answer`; returns whether a pending yield took it.
    pub fn respond(&mut self, id: u64, answer: String) -> bool {
        let Some(yield_id) = self.pending.remove(&id) else {
            return false;
        };
        yield_id.resume(answer.as_bytes()).is_ok()
    }

    /// The yield callback: the resume payload, or a timeout.
    #[private]
    pub fn on_response(&mut self, id: u64) -> String {
        let answer = match env::promise_result_checked(0, 1024) {
            Ok(bytes) => {
                String::from_utf8(bytes).unwrap_or_else(|_| env::panic_str("answer is not UTF-8"))
            }
            Err(_) => "timeout".to_string(),
        };
        self.pending.remove(&id);
        self.answers.insert(id, answer.clone());
        answer
    }

    pub fn answer(&self, id: u64) -> Option<String> {
        self.answers.get(&id).cloned()
    }
}
