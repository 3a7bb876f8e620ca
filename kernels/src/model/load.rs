//! Loading a llama model's weights from a GGUF file held in memory.

use super::{LlamaConfig, ModelError, Rope};
use crate::matmul::{Compute, Weight};
use crate::quant::{dequantize_row, QMatrix, WeightFormat};
use candle_core::quantized::gguf_file::Content;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
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
pub struct ModelSource {
    file: Mutex<File>,
    len: u64,
}

impl ModelSource {
    pub fn new(file: File) -> std::io::Result<Self> {
        Ok(Self {
            len: file.metadata()?.len(),
            file: Mutex::new(file),
        })
    }

    /// The bytes of `range`, which [`Tensors::locate`] checked against the file's size.
    fn read(&self, range: &Range<u64>) -> Result<Arc<Vec<u8>>, String> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        file.seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(buf))
    }
}

/// A tensor the model loads: where its bytes lie in the file, checked before any is read.
struct Located {
    name: String,
    format: WeightFormat,
    rows: usize,
    cols: usize,
    bytes: Range<u64>,
}

struct Tensors<'a> {
    content: &'a Content,
    file_len: u64,
}

impl Tensors<'_> {
    /// Checks tensor `name`'s shape, type and place in the file, reading nothing.
    fn locate(&self, name: &str, rows: usize, cols: usize) -> Result<Located, ModelError> {
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
        let size = self.file_len;
        let end = start
            .checked_add(len as u64)
            .filter(|&end| end <= size)
            .ok_or_else(|| {
                out_of_bounds(format!(
                    "needs bytes {start}..{} of a {size}-byte file",
                    start.saturating_add(len as u64)
                ))
            })?;
        Ok(Located {
            name: name.into(),
            format,
            rows,
            cols,
            bytes: start..end,
        })
    }
}

/// Refuses tensors whose bytes overlap: each tensor is read into its own buffer, so tensors
/// sharing bytes would let a small file claim far more memory than it holds. With no overlap,
/// the bytes read add up to at most the file's size.
fn refuse_overlaps(located: &[Located]) -> Result<(), ModelError> {
    let mut by_start: Vec<&Located> = located.iter().collect();
    by_start.sort_by_key(|t| (t.bytes.start, t.bytes.end));
    for pair in by_start.windows(2) {
        let (first, second) = (pair[0], pair[1]);
        if second.bytes.start < first.bytes.end {
            return Err(ModelError::OverlappingTensors {
                first: first.name.clone(),
                second: second.name.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses a file with tensors beyond those located (biases, experts, extra norms): the engine
/// would ignore them and compute another function than the file's model. The first such name
/// in sorted order is reported.
fn refuse_unexpected(content: &Content, located: &[Located]) -> Result<(), ModelError> {
    let expected: HashSet<&str> = located.iter().map(|t| t.name.as_str()).collect();
    let unexpected = content
        .tensor_infos
        .keys()
        .filter(|name| !expected.contains(name.as_str()))
        .min();
    match unexpected {
        Some(name) => Err(ModelError::UnsupportedFeature(format!("tensor `{name}`"))),
        None => Ok(()),
    }
}

/// The weights read from the file, by name, each prepared for the compute path.
struct Loaded<'a> {
    source: &'a ModelSource,
    compute: &'a Compute,
    tensors: HashMap<String, Located>,
}

impl Loaded<'_> {
    fn matrix(&mut self, name: &str) -> Result<QMatrix, ModelError> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
        let out_of_bounds = |reason: String| ModelError::TensorOutOfBounds {
            name: name.into(),
            reason,
        };
        let bytes = self.source.read(&t.bytes).map_err(out_of_bounds)?;
        QMatrix::new(t.format, t.rows, t.cols, bytes, 0).map_err(|e| out_of_bounds(e.to_string()))
    }

    fn weight(&mut self, name: &str) -> Result<Weight, ModelError> {
        Ok(self.compute.prepare(self.matrix(name)?))
    }

    fn vector(&mut self, name: &str) -> Result<Vec<f32>, ModelError> {
        let m = self.matrix(name)?;
        let values = dequantize_row(m.format(), m.row_bytes(0), m.cols());
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite("a norm weight"));
        }
        Ok(values)
    }
}

/// The name of layer `layer`'s tensor `suffix`.
fn layer_tensor(layer: usize, suffix: &str) -> String {
    format!("blk.{layer}.{suffix}.weight")
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
        let t = Tensors {
            content,
            file_len: source.len,
        };
        // Every tensor is located before any is read. Each located tensor is one of the
        // file's, so the list (like the layer count taken from the header) is bounded by the
        // file's tensor count.
        let mut located = Vec::new();
        for i in 0..config.layers {
            for (suffix, rows, cols) in [
                ("attn_norm", 1, e),
                ("attn_q", e, e),
                ("attn_k", kv, e),
                ("attn_v", kv, e),
                ("attn_output", e, e),
                ("ffn_norm", 1, e),
                ("ffn_gate", ff, e),
                ("ffn_up", ff, e),
                ("ffn_down", e, ff),
            ] {
                located.push(t.locate(&layer_tensor(i, suffix), rows, cols)?);
            }
        }
        let tied = !content.tensor_infos.contains_key("output.weight");
        if !tied {
            located.push(t.locate("output.weight", vocab, e)?);
        }
        located.push(t.locate("token_embd.weight", vocab, e)?);
        located.push(t.locate("output_norm.weight", 1, e)?);
        refuse_unexpected(content, &located)?;
        refuse_overlaps(&located)?;
        let mut weights = Loaded {
            source,
            compute,
            tensors: located.into_iter().map(|t| (t.name.clone(), t)).collect(),
        };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let name = |suffix: &str| layer_tensor(i, suffix);
            layers.push(LayerWeights {
                attn_norm: weights.vector(&name("attn_norm"))?,
                q: weights.weight(&name("attn_q"))?,
                k: weights.weight(&name("attn_k"))?,
                v: weights.weight(&name("attn_v"))?,
                o: weights.weight(&name("attn_output"))?,
                ffn_norm: weights.vector(&name("ffn_norm"))?,
                gate: weights.weight(&name("ffn_gate"))?,
                up: weights.weight(&name("ffn_up"))?,
                down: weights.weight(&name("ffn_down"))?,
            });
        }
        let output = if tied {
            None
        } else {
            Some(weights.weight("output.weight")?)
        };
        Ok(Self {
            embed: weights.weight("token_embd.weight")?,
            output,
            output_norm: weights.vector("output_norm.weight")?,
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
