//! NEP-297 events, one per change of a question's record:
//! `EVENT_JSON:{"standard":"ai-oracle-example-dapp","version":"2.0.0","event":...,"data":[...]}`.

use near_sdk::env;
use near_sdk::serde::Serialize;

/// NEP-297 standard name of the dApp's events.
pub const EVENT_STANDARD: &str = "ai-oracle-example-dapp";
/// Version of the dApp's event formats (1.1.0: `late_fee_refunded`, and `oracle_request_id` in
/// `question_answered`; 2.0.0: no `late_fee_refunded`, the oracle refunds a timed-out fee to
/// the asker itself).
pub const EVENT_VERSION: &str = "2.0.0";

/// Every event the dApp emits.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// A question was stored and sent to the oracle.
    Asked,
    /// The oracle's callback settled a question (answered, or failed with a reason).
    Answered,
    /// A question's record went, its storage deposit back to its asker: deleted by the asker,
    /// refused by the oracle, or expired while waiting.
    Deleted,
}

impl Event {
    /// The event's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Event::Asked => "question_asked",
            Event::Answered => "question_answered",
            Event::Deleted => "question_deleted",
        }
    }

    /// Logs the event with `data` as its single data entry.
    pub fn emit(self, data: impl Serialize) {
        let line = oracle_dapp::event_log_line(EVENT_STANDARD, EVENT_VERSION, self.name(), &data)
            .unwrap_or_else(|_| env::abort());
        env::log_str(&line);
    }
}
