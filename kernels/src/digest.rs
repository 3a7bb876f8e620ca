//! The result digest (SPEC.md §9): what independent nodes compare and sign.

use crate::constrain::Schema;
use crate::sampling::SamplingParams;
use crate::SPEC_VERSION;
use sha2::{Digest, Sha256};

/// Everything that determines a result, and the result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord<'a> {
    pub model_sha256: [u8; 32],
    pub prompt_tokens: &'a [u32],
    pub params: &'a SamplingParams,
    pub stream_id: &'a [u8],
    pub output_tokens: &'a [u32],
    /// The request's output constraint, if any (SPEC.md §7.1).
    pub constraint: Option<&'a Schema>,
    /// The request's stop strings, in order (they decide where the output ends).
    pub stop: &'a [String],
}

/// Tags the constraint field appended to the encoding of a constrained request.
const CONSTRAINT_JSON_SCHEMA: u8 = 1;
/// Tags the stop strings field appended to the encoding of a request that has some.
const STOP_STRINGS: u8 = 2;

impl ResultRecord<'_> {
    /// SHA-256 over the canonical encoding of SPEC.md §9.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"ai-oracle/result/");
        h.update(SPEC_VERSION.as_bytes());
        h.update(self.model_sha256);
        let tokens = |h: &mut Sha256, ids: &[u32]| {
            h.update((ids.len() as u32).to_le_bytes());
            for id in ids {
                h.update(id.to_le_bytes());
            }
        };
        tokens(&mut h, self.prompt_tokens);
        h.update(self.params.temperature.to_bits().to_le_bytes());
        h.update(self.params.top_k.to_le_bytes());
        h.update(self.params.top_p.to_bits().to_le_bytes());
        h.update(self.params.max_tokens.to_le_bytes());
        h.update(self.params.seed.to_le_bytes());
        h.update((self.stream_id.len() as u32).to_le_bytes());
        h.update(self.stream_id);
        tokens(&mut h, self.output_tokens);
        let bytes = |h: &mut Sha256, b: &[u8]| {
            h.update((b.len() as u32).to_le_bytes());
            h.update(b);
        };
        // Optional fields follow, each tagged, in tag order; a request without any ends here.
        if let Some(schema) = self.constraint {
            h.update([CONSTRAINT_JSON_SCHEMA]);
            bytes(&mut h, schema.canonical_json().as_bytes());
        }
        if !self.stop.is_empty() {
            h.update([STOP_STRINGS]);
            h.update((self.stop.len() as u32).to_le_bytes());
            for stop in self.stop {
                bytes(&mut h, stop.as_bytes());
            }
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_digest() {
        let params = SamplingParams::default();
        let base = ResultRecord {
            model_sha256: [1; 32],
            prompt_tokens: &[1, 2, 3],
            params: &params,
            stream_id: b"req",
            output_tokens: &[4, 5],
            constraint: None,
            stop: &[],
        };
        let (a, ab, a_b) = (
            ["a".to_owned()],
            ["ab".to_owned()],
            ["a".to_owned(), "b".to_owned()],
        );
        let (empty_stop, two_empty_stops) = ([String::new()], [String::new(), String::new()]);
        let d = base.digest();
        let other_params = SamplingParams { seed: 1, ..params };
        let schema = |required: &[&str]| {
            let properties: serde_json::Map<String, serde_json::Value> = required
                .iter()
                .map(|&name| (name.to_owned(), serde_json::json!({"type": "boolean"})))
                .collect();
            Schema::from_json_schema(&serde_json::json!({
                "type": "object", "properties": properties, "required": required
            }))
            .unwrap()
        };
        let (empty, ab_schema, ba) = (schema(&[]), schema(&["a", "b"]), schema(&["b", "a"]));
        let variants = [
            ResultRecord {
                model_sha256: [2; 32],
                ..base.clone()
            },
            ResultRecord {
                prompt_tokens: &[1, 2],
                ..base.clone()
            },
            ResultRecord {
                params: &other_params,
                ..base.clone()
            },
            ResultRecord {
                stream_id: b"req2",
                ..base.clone()
            },
            ResultRecord {
                output_tokens: &[4, 5, 6],
                ..base.clone()
            },
            // Moving a token from the prompt to the output is another result.
            ResultRecord {
                prompt_tokens: &[1, 2, 3, 4],
                output_tokens: &[5],
                ..base.clone()
            },
            // Any constraint, even one with no properties, and the order of properties.
            ResultRecord {
                constraint: Some(&empty),
                ..base.clone()
            },
            ResultRecord {
                constraint: Some(&ab_schema),
                ..base.clone()
            },
            ResultRecord {
                constraint: Some(&ba),
                ..base.clone()
            },
            // Any stop strings, and how they split.
            ResultRecord {
                stop: &a,
                ..base.clone()
            },
            ResultRecord {
                stop: &ab,
                ..base.clone()
            },
            ResultRecord {
                stop: &a_b,
                ..base.clone()
            },
            // Empty stop strings, which never match (SPEC.md §12), are hashed all the same.
            ResultRecord {
                stop: &empty_stop,
                ..base.clone()
            },
            ResultRecord {
                stop: &two_empty_stops,
                ..base.clone()
            },
            ResultRecord {
                constraint: Some(&empty),
                stop: &a,
                ..base.clone()
            },
        ];
        let mut seen = vec![d];
        for v in variants {
            assert!(!seen.contains(&v.digest()), "{v:?}");
            seen.push(v.digest());
        }
        assert_eq!(base.digest(), d);
    }
}
