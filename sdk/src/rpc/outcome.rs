//! A transaction's outcome as NEAR's `FinalExecutionOutcomeView` reports it: status, every
//! receipt's logs and gas, and the NEP-297 events in those logs.

use super::ChainError;
use base64::Engine as _;
use near_wire::Balance;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// Where a transaction stands (NEAR's `FinalExecutionStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// Accepted, not yet in a block (an answer of `wait_until: NONE`).
    NotStarted,
    /// In a block, some receipt not yet run.
    Started,
    /// Finished; the last receipt's return value.
    SuccessValue(Vec<u8>),
    /// Finished with an error: NEAR's error JSON text (e.g. `{"ActionError":…}`).
    Failure(String),
}

/// One receipt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptOutcome {
    pub id: String,
    pub executor_id: String,
    pub logs: Vec<String>,
    pub gas_burnt: u64,
    /// NEAR's status view: `{"SuccessValue"|"SuccessReceiptId"|"Failure": …}`.
    pub status: Value,
}

/// A transaction's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TxOutcome {
    /// Base58 transaction hash.
    pub tx_hash: String,
    pub status: TxStatus,
    /// NEAR's `final_execution_status` (`NONE`, `INCLUDED_FINAL`, `EXECUTED_OPTIMISTIC`, `FINAL`…).
    pub final_execution_status: String,
    /// Every receipt's logs, in the order NEAR lists the receipts.
    pub logs: Vec<String>,
    /// Gas burnt by the transaction's conversion and all its receipts.
    pub gas_burnt: u64,
    /// Tokens burnt for that gas, yoctoNEAR.
    pub tokens_burnt: Balance,
    pub receipts: Vec<ReceiptOutcome>,
}

/// A NEP-297 event: a log line `EVENT_JSON:{"standard","version","event","data"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Nep297Event {
    pub standard: String,
    pub version: String,
    pub event: String,
    #[serde(default)]
    pub data: Value,
}

impl Nep297Event {
    /// The event a log line carries, if it is one.
    pub fn parse(log: &str) -> Option<Self> {
        serde_json::from_str(
            log.strip_prefix(oracle_protocol::EVENT_LOG_PREFIX)?
                .trim_start(),
        )
        .ok()
    }
}

impl TxOutcome {
    /// Reads a `send_tx`/`tx`/`EXPERIMENTAL_tx_status` answer about transaction `tx_hash`.
    pub fn from_view(tx_hash: &str, view: &Value) -> Result<Self, ChainError> {
        let what = format!("the outcome of transaction {tx_hash}");
        let final_execution_status = view["final_execution_status"]
            .as_str()
            .unwrap_or("NONE")
            .to_string();
        let status = match &view["status"] {
            Value::Null if final_execution_status == "NONE" => TxStatus::NotStarted,
            Value::Null => TxStatus::Started,
            status => parse_status(status).map_err(|m| ChainError::decode(&what, m))?,
        };
        let mut receipts = Vec::new();
        for item in view["receipts_outcome"].as_array().into_iter().flatten() {
            receipts.push(receipt_outcome(item).map_err(|m| ChainError::decode(&what, m))?);
        }
        let conversion = &view["transaction_outcome"]["outcome"];
        // Saturating: an endpoint's figures must not overflow (a panic in debug builds).
        let mut gas_burnt = conversion["gas_burnt"].as_u64().unwrap_or(0);
        let mut tokens_burnt = dec(&conversion["tokens_burnt"]);
        for item in view["receipts_outcome"].as_array().into_iter().flatten() {
            tokens_burnt = tokens_burnt.saturating_add(dec(&item["outcome"]["tokens_burnt"]));
        }
        for receipt in &receipts {
            gas_burnt = gas_burnt.saturating_add(receipt.gas_burnt);
        }
        Ok(Self {
            tx_hash: tx_hash.to_string(),
            status,
            final_execution_status,
            logs: receipts.iter().flat_map(|r| r.logs.clone()).collect(),
            gas_burnt,
            tokens_burnt,
            receipts,
        })
    }

    pub fn is_success(&self) -> bool {
        matches!(self.status, TxStatus::SuccessValue(_))
    }

    /// Whether the transaction has run to its end (successfully or not).
    pub fn is_final(&self) -> bool {
        matches!(
            self.status,
            TxStatus::SuccessValue(_) | TxStatus::Failure(_)
        )
    }

    /// The return value, or [`ChainError::TxFailed`] when the transaction did not succeed.
    pub fn value(&self) -> Result<&[u8], ChainError> {
        match &self.status {
            TxStatus::SuccessValue(value) => Ok(value),
            TxStatus::Failure(error) => Err(ChainError::TxFailed {
                tx_hash: self.tx_hash.clone(),
                error: error.clone(),
            }),
            TxStatus::NotStarted | TxStatus::Started => Err(ChainError::TxFailed {
                tx_hash: self.tx_hash.clone(),
                error: format!("not finished ({})", self.final_execution_status),
            }),
        }
    }

    /// The return value read as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ChainError> {
        serde_json::from_slice(self.value()?).map_err(|e| {
            ChainError::decode(
                format!("the return value of transaction {}", self.tx_hash),
                e,
            )
        })
    }

    /// The NEP-297 events in every receipt's logs.
    pub fn events(&self) -> Vec<Nep297Event> {
        self.logs
            .iter()
            .filter_map(|l| Nep297Event::parse(l))
            .collect()
    }
}

fn dec(value: &Value) -> Balance {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn parse_status(status: &Value) -> Result<TxStatus, String> {
    match status {
        Value::String(s) if s == "NotStarted" => Ok(TxStatus::NotStarted),
        Value::String(s) if s == "Started" => Ok(TxStatus::Started),
        Value::Object(map) => {
            if let Some(value) = map.get("SuccessValue") {
                let text = value.as_str().ok_or("SuccessValue is not a string")?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("SuccessValue is not base64: {e}"))?;
                Ok(TxStatus::SuccessValue(bytes))
            } else if let Some(error) = map.get("Failure") {
                Ok(TxStatus::Failure(error.to_string()))
            } else {
                Err(format!("unknown status {status}"))
            }
        }
        other => Err(format!("unknown status {other}")),
    }
}

fn receipt_outcome(item: &Value) -> Result<ReceiptOutcome, String> {
    let outcome = &item["outcome"];
    let logs = match &outcome["logs"] {
        Value::Null => Vec::new(),
        logs => serde_json::from_value(logs.clone()).map_err(|e| format!("logs: {e}"))?,
    };
    Ok(ReceiptOutcome {
        id: item["id"].as_str().unwrap_or_default().to_string(),
        executor_id: outcome["executor_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        logs,
        gas_burnt: outcome["gas_burnt"].as_u64().unwrap_or(0),
        status: outcome["status"].clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(status: Value) -> Value {
        json!({
            "final_execution_status": "FINAL",
            "status": status,
            "transaction_outcome": {"outcome": {"gas_burnt": 10, "tokens_burnt": "100"}},
            "receipts_outcome": [
                {"id": "r1", "outcome": {"logs": ["hello", "EVENT_JSON:{\"standard\":\"oracle\",\"version\":\"1.0.0\",\"event\":\"request_created\",\"data\":[{\"request_id\":3}]}"],
                 "gas_burnt": 5, "tokens_burnt": "50", "executor_id": "oracle.test", "status": {"SuccessValue": ""}}},
                {"id": "r2", "outcome": {"logs": ["EVENT_JSON:not json"], "gas_burnt": 1, "tokens_burnt": "10",
                 "executor_id": "alice.test", "status": {"SuccessValue": "MQ=="}}},
            ],
        })
    }

    #[test]
    fn outcomes_sum_gas_and_collect_logs_and_events() {
        let outcome = TxOutcome::from_view("h", &view(json!({"SuccessValue": "MQ=="}))).unwrap();
        assert!(outcome.is_success());
        assert_eq!(outcome.json::<u32>().unwrap(), 1);
        assert_eq!((outcome.gas_burnt, outcome.tokens_burnt), (16, 160));
        assert_eq!(outcome.logs.len(), 3);
        let events = outcome.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "request_created");
        assert_eq!(events[0].data[0]["request_id"], 3);
    }

    #[test]
    fn failures_keep_nears_error_text() {
        let failure = json!({"Failure": {"ActionError": {"index": 0, "kind": {"FunctionCallError":
            {"ExecutionError": "Smart contract panicked: no"}}}}});
        let outcome = TxOutcome::from_view("h", &view(failure)).unwrap();
        match &outcome.status {
            TxStatus::Failure(text) => assert!(text.contains("Smart contract panicked: no")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            outcome.json::<u32>(),
            Err(ChainError::TxFailed { .. })
        ));
        let pending =
            TxOutcome::from_view("h", &json!({"final_execution_status": "NONE"})).unwrap();
        assert_eq!(pending.status, TxStatus::NotStarted);
        assert!(TxOutcome::from_view("h", &view(json!({"Weird": 1}))).is_err());
    }
}
