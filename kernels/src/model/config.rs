//! A llama-architecture model's hyperparameters, read from GGUF metadata.

use super::ModelError;
use candle_core::quantized::gguf_file::{Content, Value};

/// The longest context the engine runs: RoPE angles (position × frequency ≤ position) must stay
/// below 2²⁰, the range of `sincos64` (SPEC.md §2.3, §5).
pub const MAX_CONTEXT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub embedding: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub feed_forward: usize,
    pub context_length: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
}

impl LlamaConfig {
    pub fn from_gguf(content: &Content) -> Result<Self, ModelError> {
        let arch = string(content, "general.architecture")?;
        if arch != "llama" {
            return Err(ModelError::UnsupportedArchitecture(arch));
        }
        let get = |key: &str| -> Result<usize, ModelError> {
            let full = format!("llama.{key}");
            let value = content
                .metadata
                .get(&full)
                .ok_or_else(|| ModelError::MissingMetadata(full.clone()))?;
            number(value).ok_or(ModelError::BadMetadata {
                key: full,
                reason: "expected a non-negative integer",
            })
        };
        let float = |key: &str, default: f32| -> Result<f32, ModelError> {
            let full = format!("llama.{key}");
            match content.metadata.get(&full) {
                None => Ok(default),
                Some(v) => v.to_f32().map_err(|_| ModelError::BadMetadata {
                    key: full,
                    reason: "expected a float",
                }),
            }
        };
        let embedding = get("embedding_length")?;
        let heads = get("attention.head_count")?;
        let kv_heads = match content.metadata.get("llama.attention.head_count_kv") {
            Some(v) => number(v).ok_or(ModelError::BadMetadata {
                key: "llama.attention.head_count_kv".into(),
                reason: "expected a non-negative integer",
            })?,
            None => heads,
        };
        let vocab_size = match content.metadata.get("llama.vocab_size") {
            Some(v) => number(v).ok_or(ModelError::BadMetadata {
                key: "llama.vocab_size".into(),
                reason: "expected a non-negative integer",
            })?,
            None => 0,
        };
        let config = Self {
            vocab_size,
            embedding,
            layers: get("block_count")?,
            heads,
            kv_heads,
            head_dim: embedding.checked_div(heads).unwrap_or(0),
            feed_forward: get("feed_forward_length")?,
            context_length: get("context_length")?,
            rope_base: float("rope.freq_base", 10_000.0)?,
            rms_eps: float("attention.layer_norm_rms_epsilon", 1e-5)?,
        };
        config.check()?;
        config.refuse_unimplemented(content)?;
        Ok(config)
    }

    /// Refuses the llama variants this engine would load but compute differently: RoPE
    /// frequency factors or scaling (Llama 3.x), partial rotary dimensions, key/value head
    /// sizes other than `embedding / heads`, and mixtures of experts.
    fn refuse_unimplemented(&self, content: &Content) -> Result<(), ModelError> {
        let unsupported = |what: String| Err(ModelError::UnsupportedFeature(what));
        if let Some(value) = content.metadata.get("llama.expert_count") {
            if number(value) != Some(0) {
                return unsupported(format!(
                    "a mixture of experts (llama.expert_count = {value:?})"
                ));
            }
        }
        if content.tensor_infos.contains_key("rope_freqs.weight") {
            return unsupported("RoPE frequency factors (tensor rope_freqs.weight)".into());
        }
        // In key order, so that every node names the same key (the map's order is random).
        let mut scaling: Vec<_> = content
            .metadata
            .iter()
            .filter_map(|(key, value)| Some((key, key.strip_prefix("llama.rope.scaling.")?, value)))
            .collect();
        scaling.sort_by_key(|(key, ..)| *key);
        for (key, setting, value) in scaling {
            let neutral = match setting {
                "type" => value.to_string().is_ok_and(|t| t == "none"),
                "factor" => value.to_f32().is_ok_and(|f| f == 1.0),
                _ => false,
            };
            if !neutral {
                return unsupported(format!("RoPE scaling ({key} = {value:?})"));
            }
        }
        for key in [
            "rope.dimension_count",
            "attention.key_length",
            "attention.value_length",
        ] {
            let full = format!("llama.{key}");
            if let Some(value) = content.metadata.get(&full) {
                let size = number(value);
                if size != Some(self.head_dim) {
                    return unsupported(format!(
                        "{full} = {value:?}, not the head size {}",
                        self.head_dim
                    ));
                }
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ModelError> {
        let bad = |reason: String| Err(ModelError::BadConfig(reason));
        if self.heads == 0 || self.kv_heads == 0 || self.layers == 0 {
            return bad("head counts and layer count must be positive".into());
        }
        if self.embedding == 0 || self.feed_forward == 0 || self.head_dim == 0 {
            return bad(format!(
                "embedding {}, feed-forward {} and head size {} must be positive",
                self.embedding, self.feed_forward, self.head_dim
            ));
        }
        if !self.embedding.is_multiple_of(self.heads) || !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "embedding {} does not split into {} heads of even size",
                self.embedding, self.heads
            ));
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return bad(format!(
                "{} query heads do not group over {} key/value heads",
                self.heads, self.kv_heads
            ));
        }
        if !self.embedding.is_multiple_of(32) || !self.feed_forward.is_multiple_of(32) {
            return bad("embedding and feed-forward sizes must be multiples of 32".into());
        }
        if self.context_length == 0 || self.context_length > MAX_CONTEXT {
            return bad(format!(
                "context length {} is not in 1..={MAX_CONTEXT}",
                self.context_length
            ));
        }
        if !(self.rope_base > 1.0 && self.rope_base.is_finite()) {
            return bad(format!("rope base {} is not > 1", self.rope_base));
        }
        if !(self.rms_eps > 0.0 && self.rms_eps.is_finite()) {
            return bad(format!("rms epsilon {} is not positive", self.rms_eps));
        }
        Ok(())
    }

    /// Width of one position's keys (or values) in the cache.
    pub fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

fn string(content: &Content, key: &str) -> Result<String, ModelError> {
    content
        .metadata
        .get(key)
        .ok_or_else(|| ModelError::MissingMetadata(key.into()))?
        .to_string()
        .cloned()
        .map_err(|_| ModelError::BadMetadata {
            key: key.into(),
            reason: "expected a string",
        })
}

fn number(value: &Value) -> Option<usize> {
    match value {
        Value::U8(v) => Some(*v as usize),
        Value::U16(v) => Some(*v as usize),
        Value::U32(v) => Some(*v as usize),
        Value::U64(v) => usize::try_from(*v).ok(),
        Value::I8(v) => usize::try_from(*v).ok(),
        Value::I16(v) => usize::try_from(*v).ok(),
        Value::I32(v) => usize::try_from(*v).ok(),
        Value::I64(v) => usize::try_from(*v).ok(),
        _ => None,
    }
}
