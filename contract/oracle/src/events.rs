//! NEP-297 events: `EVENT_JSON:{"standard":"ai-oracle","version":"1.0.0","event":...,"data":[...]}`.

use crate::models::ModelView;
use near_sdk::env;
use near_sdk::serde::Serialize;
use near_sdk::serde_json::{self, json};

pub const STANDARD: &str = "ai-oracle";
pub const VERSION: &str = "1.0.0";

fn emit<T: Serialize>(event: &str, data: &T) {
    let body = json!({
        "standard": STANDARD,
        "version": VERSION,
        "event": event,
        "data": [data],
    });
    env::log_str(&format!(
        "EVENT_JSON:{}",
        serde_json::to_string(&body).unwrap()
    ));
}

pub fn model_registered(model: &ModelView) {
    emit("model_registered", model);
}
