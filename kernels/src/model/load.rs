//! Loading a llama model's weights from a GGUF file held in memory.

use super::{LlamaConfig, ModelError, Rope};
use crate::matmul::{Compute, Weight};
use crate::quant::{dequantize_row, QMatrix, WeightFormat};
use candle_core::quantized::gguf_file::Content;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

/// One transformer block's weights.
#[derive(Debug)]
pub struct LayerWeights {
    pub attn_norm: Vec<f32>,
    pub q: Weight,
    pub k: Weight,
    pub v: Weight,
    pub o: Weight,
    pub ffn_norm: Vec<f32>,
    pub gate: Weight,
    pub up: Weight,
    pub down: Weight,
}

/// A llama model ready to run on one [`Compute`].
#[derive(Debug)]
pub struct LlamaModel {
    pub config: LlamaConfig,
    pub embed: Weight,
    /// The output head; `None` when it is tied to the token embedding.
    pub output: Option<Weight>,
    pub output_norm: Vec<f32>,
    pub layers: Vec<LayerWeights>,
    pub rope: Rope,
}

/// The model file, read tensor by tensor so the whole file is never in memory next to the
/// prepared weights.
pub struct ModelSource(Mutex<File>);

impl ModelSource {
    pub fn new(file: File) -> Self {
        Self(Mutex::new(file))
    }

    /// `len` bytes at `start`, as a buffer and the offset of the bytes in it.
    fn slice(&self, start: u64, len: usize) -> Result<(Arc<Vec<u8>>, usize), String> {
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        if start.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(format!(
                "needs bytes {start}..{} of a {size}-byte file",
                start.saturating_add(len as u64)
            ));
        }
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| e.to_string())?;
        Ok((Arc::new(buf), 0))
    }
}

struct Tensors<'a> {
    content: &'a Content,
    source: &'a ModelSource,
}

impl Tensors<'_> {
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<QMatrix, ModelError> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
        let dims = info.shape.dims().to_vec();
        let expected = if rows == 1 {
            vec![cols]
        } else {
            vec![rows, cols]
        };
        if dims != expected {
            return Err(ModelError::BadShape {
                name: name.into(),
                expected,
                got: dims,
            });
        }
        let format = WeightFormat::from_ggml(info.ggml_dtype).ok_or_else(|| {
            ModelError::UnsupportedTensorType {
                name: name.into(),
                dtype: format!("{:?}", info.ggml_dtype),
            }
        })?;
        let out_of_bounds = |reason: String| ModelError::TensorOutOfBounds {
            name: name.into(),
            reason,
        };
        let start = self
            .content
            .tensor_data_offset
            .checked_add(info.offset)
            .ok_or_else(|| out_of_bounds("offset overflows".into()))?;
        let len = QMatrix::byte_len(format, rows, cols)
            .ok_or_else(|| out_of_bounds(format!("a {rows}×{cols} matrix overflows usize")))?;
        let (bytes, at) = self.source.slice(start, len).map_err(out_of_bounds)?;
        QMatrix::new(format, rows, cols, bytes, at).map_err(|e| out_of_bounds(e.to_string()))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let m = self.matrix(name, 1, len)?;
        let values = dequantize_row(m.format(), m.row_bytes(0), len);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite("a norm weight"));
        }
        Ok(values)
    }
}

impl LlamaModel {
    /// Builds the model from a GGUF file's parsed header and its tensor bytes, preparing every
    /// matrix for `compute`'s kernel path.
    pub fn load(
        content: &Content,
        source: &ModelSource,
        compute: &Compute,
    ) -> Result<Self, ModelError> {
        let mut config = LlamaConfig::from_gguf(content)?;
        let t = Tensors { content, source };
        let e = config.embedding;
        let embed_info = content
            .tensor_infos
            .get("token_embd.weight")
            .ok_or_else(|| ModelError::MissingTensor("token_embd.weight".into()))?;
        let vocab = *embed_info.shape.dims().first().unwrap_or(&0);
        if config.vocab_size != 0 && config.vocab_size != vocab {
            return Err(ModelError::BadConfig(format!(
                "llama.vocab_size is {} but token_embd.weight has {vocab} rows",
                config.vocab_size
            )));
        }
        config.vocab_size = vocab;
        let kv = config.kv_width();
        let ff = config.feed_forward;
        // The count comes from the header: no more room than the file has tensors for.
        let mut layers = Vec::with_capacity(config.layers.min(content.tensor_infos.len()));
        for i in 0..config.layers {
            let name = |suffix: &str| format!("blk.{i}.{suffix}.weight");
            let prepared = |suffix: &str, rows, cols| -> Result<Weight, ModelError> {
                Ok(compute.prepare(t.matrix(&name(suffix), rows, cols)?))
            };
            layers.push(LayerWeights {
                attn_norm: t.vector(&name("attn_norm"), e)?,
                q: prepared("attn_q", e, e)?,
                k: prepared("attn_k", kv, e)?,
                v: prepared("attn_v", kv, e)?,
                o: prepared("attn_output", e, e)?,
                ffn_norm: t.vector(&name("ffn_norm"), e)?,
                gate: prepared("ffn_gate", ff, e)?,
                up: prepared("ffn_up", ff, e)?,
                down: prepared("ffn_down", e, ff)?,
            });
        }
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(compute.prepare(t.matrix("output.weight", vocab, e)?))
        } else {
            None
        };
        Ok(Self {
            embed: compute.prepare(t.matrix("token_embd.weight", vocab, e)?),
            output,
            output_norm: t.vector("output_norm.weight", e)?,
            rope: Rope::new(config.head_dim, config.rope_base),
            layers,
            config,
        })
    }

    /// The output head (the token embedding when tied).
    pub fn output_head(&self) -> &Weight {
        self.output.as_ref().unwrap_or(&self.embed)
    }
}
