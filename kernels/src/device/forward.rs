//! The llama forward pass on a device (SPEC.md §4–6), step for step the CPU's
//! (`model/forward.rs`): the same ops in the same order on the same values, so the logits carry
//! the same bits. Non-finite checks are flags the kernels write; they are read once per step
//! and reported in forward order, as the CPU reports its first failure.

use super::cache::DeviceCache;
use super::ops::{self, Activations, Attention, Norm};
use super::weights::DeviceWeights;
use super::{f32_bytes, f32s, i32_bytes, i32s, Buffer, Device, Result, MAX_STRIDE, THREADS};
use crate::model::{LlamaConfig, LlamaModel, ModelError, Rope};

/// New tokens of one sequence for one step (as [`crate::model::BatchItem`]).
pub struct DeviceItem<'a> {
    pub cache: &'a mut DeviceCache,
    pub tokens: &'a [u32],
    pub want_logits: bool,
}

/// A model on one device.
pub struct DeviceModel {
    device: Box<dyn Device>,
    config: LlamaConfig,
    rope: Rope,
    weights: DeviceWeights,
}

impl std::fmt::Debug for DeviceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceModel({})", self.device.name())
    }
}

/// Per step: where each item's tokens sit among the step's tokens.
struct Span {
    start: usize,
    len: usize,
    pos0: usize,
}

impl DeviceModel {
    /// Uploads `model` (loaded on the scalar path, so its matrices are the file's bytes) to
    /// `device`.
    pub fn upload(model: &LlamaModel, device: Box<dyn Device>) -> Result<Self> {
        let weights = DeviceWeights::upload(device.as_ref(), model)?;
        Ok(Self {
            device,
            config: model.config.clone(),
            rope: model.rope.clone(),
            weights,
        })
    }

    pub fn device(&self) -> &dyn Device {
        self.device.as_ref()
    }

    /// The most tokens one step may hold. Every launch of a step covers at most its tokens ×
    /// `32 × max(embedding, kv width, feed-forward, vocabulary)` threads (a quantized product
    /// of the widest matrix, the output head counting one row per token at most), or tokens ×
    /// heads × [`THREADS`] (attention): that, plus the stride of a full grid, must fit the
    /// kernels' `int` thread indices ([`super::LaunchConfig::covering`]).
    pub fn max_step_tokens(&self) -> usize {
        let c = &self.config;
        let widest = [c.embedding, c.kv_width(), c.feed_forward, c.vocab_size]
            .into_iter()
            .max()
            .unwrap_or(1);
        let per_token = (32 * widest).max(c.heads * THREADS as usize);
        ((i32::MAX as usize - MAX_STRIDE) / per_token).max(1)
    }

    /// An empty KV cache for one sequence.
    pub fn new_cache(&self) -> DeviceCache {
        DeviceCache::new(self.config.kv_width())
    }

    /// Runs one step for every item; appends their keys and values to their caches. Returns
    /// the logits of each item's last token when it asked for them. When the step fails, every
    /// cache keeps the length it had before it.
    pub fn forward(&self, items: &mut [DeviceItem<'_>]) -> Result<Vec<Option<Vec<f32>>>> {
        let d = self.device.as_ref();
        let c = &self.config;
        let (e, kvw, hd, layers) = (c.embedding, c.kv_width(), c.head_dim, c.layers);
        let (mut ids, mut cos, mut sin, mut spans) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for item in items.iter_mut() {
            let pos0 = item.cache.len();
            for (j, &token) in item.tokens.iter().enumerate() {
                if pos0 + j >= c.context_length {
                    return Err(ModelError::ContextOverflow {
                        position: pos0 + j,
                        context: c.context_length,
                    }
                    .into());
                }
                if token as usize >= c.vocab_size {
                    return Err(ModelError::TokenOutOfRange {
                        id: token,
                        vocab: c.vocab_size,
                    }
                    .into());
                }
                let (cs, sn) = self.rope.table(pos0 + j);
                cos.extend(cs);
                sin.extend(sn);
                ids.push(token as i32);
            }
            spans.push(Span {
                start: ids.len() - item.tokens.len(),
                len: item.tokens.len(),
                pos0,
            });
            item.cache.reserve(d, layers, pos0 + item.tokens.len())?;
        }
        let t = ids.len();
        if t == 0 {
            return Ok(vec![None; items.len()]);
        }
        let angles = (&d.upload(&f32_bytes(&cos))?, &d.upload(&f32_bytes(&sin))?);
        let h = ops::embed(d, &self.weights.embed, &d.upload(&i32_bytes(&ids))?, t)?;
        // Flags per layer: attention norm (t), attention (t × heads), feed-forward norm (t).
        let per_layer = t * (2 + c.heads);
        let flags = d.alloc_zeros(layers * per_layer * 4)?;
        for (l, layer) in self.weights.layers.iter().enumerate() {
            let base = l * per_layer;
            let norm = |flag_at| Norm {
                x: &h,
                first: 0,
                tokens: t,
                len: e,
                eps: c.rms_eps,
                flags: &flags,
                flag_at,
            };
            let n = ops::rmsnorm(d, &norm(base), &layer.attn_norm)?;
            let input = Activations::new(&n, t, e);
            let q = ops::matmul(d, &layer.q, &input)?;
            let k = ops::matmul(d, &layer.k, &input)?;
            let v = ops::matmul(d, &layer.v, &input)?;
            ops::rope(d, &q, angles, t, (e, hd))?;
            ops::rope(d, &k, angles, t, (kvw, hd))?;
            let o = d.alloc(t * e * 4)?;
            for (item, span) in items.iter().zip(&spans) {
                if span.len == 0 {
                    continue;
                }
                let (keys, values) = item.cache.layer(l);
                let (rows, at) = (
                    span.start * kvw * 4..(span.start + span.len) * kvw * 4,
                    span.pos0 * kvw * 4,
                );
                d.copy(&k, rows.clone(), keys, at)?;
                d.copy(&v, rows, values, at)?;
                let attention = Attention {
                    tokens: span.len,
                    heads: c.heads,
                    kv_heads: c.kv_heads,
                    head_dim: hd,
                    pos0: span.pos0,
                    first: span.start,
                    keys,
                    values,
                    flags: &flags,
                    flag_at: base + t + span.start * c.heads,
                };
                ops::attention(d, &attention, &q, &o)?;
            }
            let y = ops::matmul(d, &layer.o, &Activations::new(&o, t, e))?;
            ops::elementwise(d, "add_assign", &h, &y, t * e)?;
            let n = ops::rmsnorm(d, &norm(base + t * (1 + c.heads)), &layer.ffn_norm)?;
            let input = Activations::new(&n, t, e);
            let gate = ops::matmul(d, &layer.gate, &input)?;
            let up = ops::matmul(d, &layer.up, &input)?;
            ops::elementwise(d, "silu_mul", &gate, &up, t * c.feed_forward)?;
            let down = ops::matmul(d, &layer.down, &Activations::new(&gate, t, c.feed_forward))?;
            ops::elementwise(d, "add_assign", &h, &down, t * e)?;
        }
        check_flags(&i32s(&d.download(&flags, 0..flags.len())?), t, c.heads)?;
        let logits = self.logits(items, &spans, &h)?;
        // Only a whole step counts: keys and values written past a cache's length by a failed
        // one are overwritten by the next.
        for (item, span) in items.iter_mut().zip(&spans) {
            item.cache.commit(span.len);
        }
        Ok(logits)
    }

    fn logits(
        &self,
        items: &[DeviceItem<'_>],
        spans: &[Span],
        h: &Buffer,
    ) -> Result<Vec<Option<Vec<f32>>>> {
        let d = self.device.as_ref();
        let (e, vocab) = (self.config.embedding, self.config.vocab_size);
        let wanted: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].want_logits && spans[i].len > 0)
            .collect();
        let mut out = vec![None; items.len()];
        if wanted.is_empty() {
            return Ok(out);
        }
        let row_bytes = e * 4;
        let last = d.alloc(wanted.len() * row_bytes)?;
        for (row, &i) in wanted.iter().enumerate() {
            let at = (spans[i].start + spans[i].len - 1) * row_bytes;
            d.copy(h, at..at + row_bytes, &last, row * row_bytes)?;
        }
        let bad = d.alloc_zeros(wanted.len() * 4)?;
        let norm = Norm {
            x: &last,
            first: 0,
            tokens: wanted.len(),
            len: e,
            eps: self.config.rms_eps,
            flags: &bad,
            flag_at: 0,
        };
        let normed = ops::rmsnorm(d, &norm, &self.weights.output_norm)?;
        let logits = ops::matmul(
            d,
            self.weights.output_head(),
            &Activations::new(&normed, wanted.len(), e),
        )?;
        if i32s(&d.download(&bad, 0..bad.len())?)
            .iter()
            .any(|&b| b != 0)
        {
            return Err(ModelError::NonFinite("the final norm").into());
        }
        let all = f32s(&d.download(&logits, 0..logits.len())?);
        if all.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite("logits").into());
        }
        for (row, &i) in wanted.iter().enumerate() {
            out[i] = Some(all[row * vocab..(row + 1) * vocab].to_vec());
        }
        Ok(out)
    }
}

/// The first non-finite value in forward order, as the CPU would have reported it.
fn check_flags(flags: &[i32], tokens: usize, heads: usize) -> std::result::Result<(), ModelError> {
    for layer in flags.chunks_exact(tokens * (2 + heads)) {
        let (attn_norm, rest) = layer.split_at(tokens);
        let (attention, ffn_norm) = rest.split_at(tokens * heads);
        if attn_norm.iter().any(|&f| f != 0) {
            return Err(ModelError::NonFinite("an RMSNorm sum of squares"));
        }
        if attention.iter().any(|&f| f != 0) {
            return Err(ModelError::NonFinite("attention scores"));
        }
        if ffn_norm.iter().any(|&f| f != 0) {
            return Err(ModelError::NonFinite("an RMSNorm sum of squares"));
        }
    }
    Ok(())
}
