//! How an on-chain request becomes an engine request: the one mapping every node and every
//! verifier must share, or their digests would differ.
//!
//! - Prompt: the request's `input` as the single user message of the model's chat template;
//!   control tokens spelled in the input (`<|im_start|>`) stay text, so an input cannot forge a
//!   system or assistant turn.
//! - Sampling: `temperature = temperature_milli as f32 / 1000.0`, `top_p = top_p_milli as f32 /
//!   1000.0` (exact integers divided once, correctly rounded), `top_k`, `max_tokens`, `seed` as
//!   given.
//! - Stream id: `"<chain id>/<oracle contract>/<request id>"`, so the random stream and the
//!   result digest are bound to this request on this deployment.
//! - Constraint: the request's `output_schema`, read by `Schema::from_json_schema`. A schema
//!   that is not JSON or lies outside the supported subset is an [`InvalidOutputSchema`] error:
//!   every honest node fails the same way and attests nothing, so the request gets no quorum,
//!   times out, and the oracle refunds its fee to the request's refund account.

use kernels::constrain::{Schema, SchemaError};
use kernels::engine::{Prompt, Request};
use kernels::sampling::SamplingParams;
use kernels::tokenizer::ChatMessage;
use oracle_protocol::RequestParams;
use thiserror::Error;

/// A request's `output_schema` that no node can run.
#[derive(Debug, Error)]
pub enum InvalidOutputSchema {
    #[error("output_schema is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("output_schema is outside the supported JSON-schema subset: {0}")]
    Unsupported(#[from] SchemaError),
}

/// Identifies one request on one oracle deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey<'a> {
    pub chain_id: &'a str,
    pub oracle_contract: &'a str,
    pub request_id: u64,
}

impl RequestKey<'_> {
    /// The bytes that key the request's random stream and enter its digest.
    pub fn stream_id(&self) -> Vec<u8> {
        format!(
            "{}/{}/{}",
            self.chain_id, self.oracle_contract, self.request_id
        )
        .into_bytes()
    }
}

/// The engine's sampling parameters for a request's integer parameters.
pub fn sampling_params(params: &RequestParams) -> SamplingParams {
    SamplingParams {
        temperature: params.temperature_milli as f32 / 1000.0,
        top_k: params.top_k,
        top_p: params.top_p_milli as f32 / 1000.0,
        max_tokens: params.max_tokens,
        seed: params.seed,
    }
}

/// The schema a request's `output_schema` holds its output to (`None` without one).
pub fn output_constraint(params: &RequestParams) -> Result<Option<Schema>, InvalidOutputSchema> {
    let Some(text) = &params.output_schema else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(text)?;
    Ok(Some(Schema::from_json_schema(&value)?))
}

/// The engine request a node runs for an on-chain request.
pub fn engine_request(
    key: &RequestKey<'_>,
    input: &str,
    params: &RequestParams,
) -> Result<Request, InvalidOutputSchema> {
    Ok(Request {
        prompt: Prompt::Chat(vec![ChatMessage::new("user", input)]),
        params: sampling_params(params),
        stream_id: key.stream_id(),
        stop: Vec::new(),
        prefill_chunk: None,
        constraint: output_constraint(params)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_map_exactly() {
        let params = RequestParams {
            temperature_milli: 700,
            top_k: 40,
            top_p_milli: 900,
            max_tokens: 32,
            seed: 9,
            output_schema: None,
        };
        let sampling = sampling_params(&params);
        assert_eq!(sampling.temperature, 0.7f32);
        assert_eq!(sampling.top_p, 0.9f32);
        assert_eq!(
            (sampling.top_k, sampling.max_tokens, sampling.seed),
            (40, 32, 9)
        );
        sampling.validate().unwrap();
        let greedy = sampling_params(&RequestParams {
            temperature_milli: 0,
            top_p_milli: 1000,
            ..params.clone()
        });
        assert_eq!((greedy.temperature, greedy.top_p), (0.0, 1.0));
    }

    #[test]
    fn the_stream_id_names_chain_contract_and_request() {
        let key = RequestKey {
            chain_id: "localnet",
            oracle_contract: "oracle.test",
            request_id: 12,
        };
        assert_eq!(key.stream_id(), b"localnet/oracle.test/12");
        let request = engine_request(&key, "Hi", &greedy(None)).unwrap();
        assert_eq!(
            request.prompt,
            Prompt::Chat(vec![ChatMessage::new("user", "Hi")])
        );
        assert_eq!(request.stream_id, key.stream_id());
        assert_eq!(request.constraint, None);
    }

    fn greedy(output_schema: Option<&str>) -> RequestParams {
        RequestParams {
            temperature_milli: 0,
            top_k: 0,
            top_p_milli: 1000,
            max_tokens: 8,
            seed: 0,
            output_schema: output_schema.map(str::to_string),
        }
    }

    #[test]
    fn the_output_schema_becomes_the_engine_constraint() {
        let key = RequestKey {
            chain_id: "localnet",
            oracle_contract: "oracle.test",
            request_id: 1,
        };
        let text = r#"{"type":"object","properties":{"decision":{"type":"string","enum":["approve","reject"]}},"required":["decision"]}"#;
        let request = engine_request(&key, "Hi", &greedy(Some(text))).unwrap();
        let expected = Schema::from_json_schema(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(request.constraint, Some(expected));

        let not_json = engine_request(&key, "Hi", &greedy(Some("{"))).unwrap_err();
        assert!(
            matches!(not_json, InvalidOutputSchema::NotJson(_)),
            "{not_json}"
        );
        let unsupported = engine_request(
            &key,
            "Hi",
            &greedy(Some(
                r#"{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}"#,
            )),
        )
        .unwrap_err();
        assert!(
            unsupported
                .to_string()
                .contains("type `number` is not supported"),
            "{unsupported}"
        );
        let not_object = engine_request(&key, "Hi", &greedy(Some(r#"{"type":"boolean"}"#)));
        assert!(matches!(
            not_object,
            Err(InvalidOutputSchema::Unsupported(
                SchemaError::TopLevelNotObject
            ))
        ));
    }
}
