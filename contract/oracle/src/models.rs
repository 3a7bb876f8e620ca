//! The model registry: which GGUF files (by SHA-256) the oracle serves, under which determinism
//! spec, with which limits and price.

use near_sdk::json_types::U128;
use near_sdk::near;
use oracle_protocol::{ModelId, ModelView};

/// Longest prompt a model entry may allow; NEAR caps a call's arguments at 4 MiB.
pub const MAX_INPUT_BYTES_CAP: u32 = 64 * 1024;
/// Most tokens a model entry may allow one request to generate.
pub const MAX_OUTPUT_TOKENS_CAP: u32 = 4096;
const MAX_NAME_LEN: usize = 64;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// What the owner submits to register a model (JSON arguments).
#[near(serializers = [json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRegistration {
    pub model_id: ModelId,
    pub name: String,
    /// The determinism spec the nodes must run it under, e.g. `detspec-1`.
    pub spec_version: String,
    pub max_input_bytes: u32,
    pub max_output_tokens: u32,
    /// Fee per request in yoctoNEAR, paid to the agreeing nodes.
    pub price: U128,
}

/// A model entry as stored.
#[near(serializers = [borsh])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub name: String,
    pub spec_version: String,
    pub max_input_bytes: u32,
    pub max_output_tokens: u32,
    pub price: u128,
}

/// The model `model_id` as views and events show it (the protocol's `ModelView`).
pub fn model_view(model_id: ModelId, info: &ModelInfo) -> ModelView {
    ModelView {
        model_id,
        name: info.name.clone(),
        spec_version: info.spec_version.clone(),
        max_input_bytes: info.max_input_bytes,
        max_output_tokens: info.max_output_tokens,
        price: info.price,
    }
}

pub struct ValidRegistration {
    pub id: ModelId,
    pub info: ModelInfo,
}

impl ModelRegistration {
    /// Checks every field; the error says which one is wrong and what is allowed.
    pub fn validate(self) -> Result<ValidRegistration, String> {
        if self.name.is_empty() || self.name.len() > MAX_NAME_LEN {
            return Err(format!(
                "model name must be 1 to {MAX_NAME_LEN} bytes, got {}",
                self.name.len()
            ));
        }
        if !is_spec_version(&self.spec_version) {
            return Err(format!(
                "spec_version must look like `detspec-<number>`, got `{}`",
                self.spec_version
            ));
        }
        if self.max_input_bytes == 0 || self.max_input_bytes > MAX_INPUT_BYTES_CAP {
            return Err(format!(
                "max_input_bytes must be 1 to {MAX_INPUT_BYTES_CAP}, got {}",
                self.max_input_bytes
            ));
        }
        if self.max_output_tokens == 0 || self.max_output_tokens > MAX_OUTPUT_TOKENS_CAP {
            return Err(format!(
                "max_output_tokens must be 1 to {MAX_OUTPUT_TOKENS_CAP}, got {}",
                self.max_output_tokens
            ));
        }
        Ok(ValidRegistration {
            id: self.model_id,
            info: ModelInfo {
                name: self.name,
                spec_version: self.spec_version,
                max_input_bytes: self.max_input_bytes,
                max_output_tokens: self.max_output_tokens,
                price: self.price.0,
            },
        })
    }
}

fn is_spec_version(s: &str) -> bool {
    match s.strip_prefix("detspec-") {
        Some(n) => !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Turns optional paging arguments into (skip, take), with a bounded page size.
pub fn page(from_index: Option<u32>, limit: Option<u32>) -> (usize, usize) {
    let take = limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    (from_index.unwrap_or(0) as usize, take as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> ModelRegistration {
        ModelRegistration {
            model_id: ModelId::default(),
            name: "SmolLM2-135M-Instruct Q4_1".into(),
            spec_version: "detspec-1".into(),
            max_input_bytes: 4096,
            max_output_tokens: 256,
            price: U128(10u128.pow(21)),
        }
    }

    #[test]
    fn a_sound_registration_is_accepted() {
        let valid = registration().validate().unwrap();
        assert_eq!(valid.info.price, 10u128.pow(21));
        assert_eq!(valid.info.spec_version, "detspec-1");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(ModelRegistration, &str); 6] = [
            (
                ModelRegistration {
                    name: String::new(),
                    ..registration()
                },
                "model name",
            ),
            (
                ModelRegistration {
                    name: "x".repeat(65),
                    ..registration()
                },
                "model name",
            ),
            (
                ModelRegistration {
                    spec_version: "v1".into(),
                    ..registration()
                },
                "spec_version",
            ),
            (
                ModelRegistration {
                    spec_version: "detspec-".into(),
                    ..registration()
                },
                "spec_version",
            ),
            (
                ModelRegistration {
                    max_input_bytes: 0,
                    ..registration()
                },
                "max_input_bytes",
            ),
            (
                ModelRegistration {
                    max_output_tokens: MAX_OUTPUT_TOKENS_CAP + 1,
                    ..registration()
                },
                "max_output_tokens",
            ),
        ];
        for (bad, field) in cases {
            let err = bad.validate().err().expect("must be refused");
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(page(None, None), (0, 50));
        assert_eq!(page(Some(10), Some(5)), (10, 5));
        assert_eq!(page(Some(0), Some(100_000)), (0, 200));
    }
}
