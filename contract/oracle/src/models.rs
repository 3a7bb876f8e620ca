//! The model registry: which GGUF files (by SHA-256) the oracle serves, under which determinism
//! spec, with which limits and prices (flat per request, and by input bytes and output tokens).

use near_sdk::json_types::U128;
use near_sdk::near;
use oracle_protocol::{ModelId, ModelView};

/// Longest prompt a model entry may allow; NEAR caps a call's arguments at 4 MiB.
pub const MAX_INPUT_BYTES_CAP: u32 = 64 * 1024;
/// Most tokens a model entry may allow one request to generate.
pub const MAX_OUTPUT_TOKENS_CAP: u32 = 4096;
/// Largest fee a request may cost (10⁹ NEAR): far from overflowing when storage is added.
pub const MAX_REQUEST_FEE: u128 = 10u128.pow(33);
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
    /// Fee per request in yoctoNEAR, paid to the agreeing nodes (a committee seat's share each).
    pub price: U128,
    /// Fee per byte of input on top of `price` (yoctoNEAR; default 0).
    #[serde(default)]
    pub price_per_input_byte: U128,
    /// Fee per token of the request's `max_tokens` on top of `price` (yoctoNEAR; default 0).
    #[serde(default)]
    pub price_per_output_token: U128,
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

/// A model's fees by size, on top of its flat `price`; stored apart from the entry, whose layout
/// predates them (a model without one charges its flat price only).
#[near(serializers = [borsh])]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizePricing {
    pub per_input_byte: u128,
    pub per_output_token: u128,
}

impl SizePricing {
    /// The fee of a request of `model` with `input_bytes` of input and `max_tokens`, or why it
    /// cannot be priced.
    pub fn fee(
        &self,
        model: &ModelInfo,
        input_bytes: u64,
        max_tokens: u32,
    ) -> Result<u128, String> {
        self.per_input_byte
            .checked_mul(u128::from(input_bytes))
            .and_then(|input| {
                self.per_output_token
                    .checked_mul(u128::from(max_tokens))
                    .and_then(|output| input.checked_add(output))
            })
            .and_then(|sized| sized.checked_add(model.price))
            .ok_or_else(|| "the request's fee overflows: the model's prices are too high".into())
    }
}

impl crate::OracleContract {
    /// `model_id`'s fees by size (none: its flat price only).
    pub(crate) fn pricing_of(&self, model_id: &ModelId) -> SizePricing {
        self.model_pricing
            .get(model_id)
            .copied()
            .unwrap_or_default()
    }
}

/// The model `model_id` as views and events show it (the protocol's `ModelView`).
pub fn model_view(model_id: ModelId, info: &ModelInfo, pricing: SizePricing) -> ModelView {
    ModelView {
        model_id,
        name: info.name.clone(),
        spec_version: info.spec_version.clone(),
        max_input_bytes: info.max_input_bytes,
        max_output_tokens: info.max_output_tokens,
        price: info.price,
        price_per_input_byte: pricing.per_input_byte,
        price_per_output_token: pricing.per_output_token,
    }
}

pub struct ValidRegistration {
    pub id: ModelId,
    pub info: ModelInfo,
    pub pricing: SizePricing,
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
        let info = ModelInfo {
            name: self.name,
            spec_version: self.spec_version,
            max_input_bytes: self.max_input_bytes,
            max_output_tokens: self.max_output_tokens,
            price: self.price.0,
        };
        let pricing = SizePricing {
            per_input_byte: self.price_per_input_byte.0,
            per_output_token: self.price_per_output_token.0,
        };
        let largest = pricing.fee(&info, info.max_input_bytes.into(), info.max_output_tokens)?;
        if largest > MAX_REQUEST_FEE {
            return Err(format!(
                "a request at the model's limits would cost {largest} yoctoNEAR; the fee may be \
                 at most {MAX_REQUEST_FEE} (10^9 NEAR)"
            ));
        }
        Ok(ValidRegistration {
            id: self.model_id,
            info,
            pricing,
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
            price_per_input_byte: U128(0),
            price_per_output_token: U128(0),
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
        let cases: [(ModelRegistration, &str); 8] = [
            (
                ModelRegistration {
                    price_per_output_token: U128(u128::MAX / 10),
                    ..registration()
                },
                "fee overflows",
            ),
            (
                ModelRegistration {
                    price: U128(MAX_REQUEST_FEE + 1),
                    ..registration()
                },
                "the fee may be at most",
            ),
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
    fn the_fee_grows_with_input_bytes_and_max_tokens() {
        let valid = ModelRegistration {
            price: U128(1000),
            price_per_input_byte: U128(3),
            price_per_output_token: U128(7),
            ..registration()
        }
        .validate()
        .unwrap();
        assert_eq!(valid.pricing.fee(&valid.info, 0, 0), Ok(1000));
        assert_eq!(valid.pricing.fee(&valid.info, 10, 2), Ok(1000 + 30 + 14));
        let flat = registration().validate().unwrap();
        assert_eq!(flat.pricing, SizePricing::default());
        assert_eq!(flat.pricing.fee(&flat.info, 4096, 256), Ok(10u128.pow(21)));
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(page(None, None), (0, 50));
        assert_eq!(page(Some(10), Some(5)), (10, 5));
        assert_eq!(page(Some(0), Some(100_000)), (0, 200));
    }
}
