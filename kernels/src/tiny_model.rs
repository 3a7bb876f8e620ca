//! Tiny random llama models written as real GGUF files, for tests and demos that need a model
//! in milliseconds: same architecture, tokenizer metadata and file format as a published model,
//! in any supported weight format.

use crate::tokenizer::byte_to_char;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::path::Path;

/// Shape and formats of a tiny model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TinyModel {
    /// Format of the attention and feed-forward matrices.
    pub weights: GgmlDType,
    /// Format of the token embedding.
    pub embedding: GgmlDType,
    /// Write a separate `output.weight` instead of tying it to the embedding.
    pub separate_output: bool,
    pub layers: usize,
    pub seed: u64,
}

impl Default for TinyModel {
    fn default() -> Self {
        Self {
            weights: GgmlDType::Q4_1,
            embedding: GgmlDType::Q8_0,
            separate_output: false,
            layers: 2,
            seed: 1,
        }
    }
}

/// Hidden size (a multiple of 256, so K-quants fit).
pub const EMBEDDING: usize = 256;
const FEED_FORWARD: usize = 512;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
/// The merges of the tiny vocabulary, in rank order; each result is a token.
const MERGES: [(&str, &str); 4] = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "s")];
const SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

impl TinyModel {
    /// The vocabulary: 256 byte tokens, the merge results, then the special tokens.
    fn tokens() -> Vec<String> {
        let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_to_char(b).to_string()).collect();
        tokens.extend(MERGES.iter().map(|(a, b)| format!("{a}{b}")));
        tokens.extend(SPECIALS.iter().map(|s| s.to_string()));
        tokens
    }

    /// Writes the model to `path` as GGUF.
    pub fn write(&self, path: &Path) -> candle_core::Result<()> {
        let tokens = Self::tokens();
        let vocab = tokens.len();
        let special_base = (vocab - SPECIALS.len()) as u32;
        let mut rng = Lcg(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let device = Device::Cpu;
        let mut matrix = |rows: usize, cols: usize, scale: f32, dtype: GgmlDType| {
            let values: Vec<f32> = (0..rows * cols).map(|_| rng.next() * scale).collect();
            QTensor::quantize(&Tensor::from_vec(values, (rows, cols), &device)?, dtype)
        };
        let norm = |len: usize| {
            QTensor::quantize(
                &Tensor::ones(len, candle_core::DType::F32, &device)?,
                GgmlDType::F32,
            )
        };
        let mut tensors: Vec<(String, QTensor)> = Vec::new();
        tensors.push((
            "token_embd.weight".into(),
            matrix(vocab, EMBEDDING, 1.0, self.embedding)?,
        ));
        let kv = KV_HEADS * (EMBEDDING / HEADS);
        for l in 0..self.layers {
            let name = |s: &str| format!("blk.{l}.{s}.weight");
            tensors.push((name("attn_norm"), norm(EMBEDDING)?));
            tensors.push((
                name("attn_q"),
                matrix(EMBEDDING, EMBEDDING, 0.1, self.weights)?,
            ));
            tensors.push((name("attn_k"), matrix(kv, EMBEDDING, 0.1, self.weights)?));
            tensors.push((name("attn_v"), matrix(kv, EMBEDDING, 0.1, self.weights)?));
            tensors.push((
                name("attn_output"),
                matrix(EMBEDDING, EMBEDDING, 0.1, self.weights)?,
            ));
            tensors.push((name("ffn_norm"), norm(EMBEDDING)?));
            tensors.push((
                name("ffn_gate"),
                matrix(FEED_FORWARD, EMBEDDING, 0.1, self.weights)?,
            ));
            tensors.push((
                name("ffn_up"),
                matrix(FEED_FORWARD, EMBEDDING, 0.1, self.weights)?,
            ));
            tensors.push((
                name("ffn_down"),
                matrix(EMBEDDING, FEED_FORWARD, 0.1, self.weights)?,
            ));
        }
        tensors.push(("output_norm.weight".into(), norm(EMBEDDING)?));
        if self.separate_output {
            tensors.push((
                "output.weight".into(),
                matrix(vocab, EMBEDDING, 1.0, self.weights)?,
            ));
        }

        let u32v = |v: usize| Value::U32(v as u32);
        let strings =
            |items: Vec<String>| Value::Array(items.into_iter().map(Value::String).collect());
        let token_types = (0..vocab)
            .map(|i| Value::I32(if i as u32 >= special_base { 3 } else { 1 }))
            .collect();
        let metadata: Vec<(&str, Value)> = vec![
            ("general.architecture", Value::String("llama".into())),
            ("general.name", Value::String("tiny-llama".into())),
            ("llama.context_length", u32v(512)),
            ("llama.embedding_length", u32v(EMBEDDING)),
            ("llama.block_count", u32v(self.layers)),
            ("llama.feed_forward_length", u32v(FEED_FORWARD)),
            ("llama.attention.head_count", u32v(HEADS)),
            ("llama.attention.head_count_kv", u32v(KV_HEADS)),
            ("llama.rope.freq_base", Value::F32(10_000.0)),
            ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.pre", Value::String("smollm".into())),
            ("tokenizer.ggml.tokens", strings(tokens)),
            ("tokenizer.ggml.token_type", Value::Array(token_types)),
            (
                "tokenizer.ggml.merges",
                strings(MERGES.iter().map(|(a, b)| format!("{a} {b}")).collect()),
            ),
            ("tokenizer.ggml.unknown_token_id", Value::U32(special_base)),
            ("tokenizer.ggml.bos_token_id", Value::U32(special_base + 1)),
            ("tokenizer.ggml.eos_token_id", Value::U32(special_base + 2)),
            ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        ];
        let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut file = std::fs::File::create(path)?;
        gguf_file::write(&mut file, &metadata, &tensors)
    }
}

/// A small deterministic generator for the weights.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}
