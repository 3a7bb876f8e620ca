//! The llama forward pass on the GPU (SPEC.md §4–6), step for step the CPU's
//! (`model/forward.rs`): the same ops in the same order on the same values, so the logits carry
//! the same bits. Non-finite checks are flags the kernels write; they are read once per step
//! and reported in forward order, as the CPU reports its first failure.

use super::cache::DeviceCache;
use super::ops::{self, Activations, AttentionShape};
use super::weights::DeviceWeights;
use super::{CudaError, Gpu};
use crate::model::{LlamaConfig, LlamaModel, ModelError, Rope};
use cudarc::driver::CudaSlice;

/// New tokens of one sequence for one step (as [`crate::model::BatchItem`]).
pub struct DeviceItem<'a> {
    pub cache: &'a mut DeviceCache,
    pub tokens: &'a [u32],
    pub want_logits: bool,
}

/// A model on one GPU.
#[derive(Debug)]
pub struct CudaModel {
    gpu: Gpu,
    config: LlamaConfig,
    rope: Rope,
    weights: DeviceWeights,
}

/// Per step: where each item's tokens sit among the step's tokens.
struct Span {
    start: usize,
    len: usize,
    pos0: usize,
}

impl CudaModel {
    /// Uploads `model` (loaded on the scalar path, so its matrices are the file's bytes) to GPU
    /// `ordinal`.
    pub fn upload(model: &LlamaModel, ordinal: usize) -> Result<Self, CudaError> {
        let gpu = Gpu::new(ordinal)?;
        let weights = DeviceWeights::upload(&gpu, model)?;
        Ok(Self {
            gpu,
            config: model.config.clone(),
            rope: model.rope.clone(),
            weights,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// An empty KV cache for one sequence.
    pub fn new_cache(&self) -> DeviceCache {
        DeviceCache::new(self.config.kv_width())
    }

    /// Runs one step for every item; appends their keys and values to their caches. Returns
    /// the logits of each item's last token when it asked for them.
    pub fn forward(
        &self,
        items: &mut [DeviceItem<'_>],
    ) -> Result<Vec<Option<Vec<f32>>>, CudaError> {
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
            item.cache
                .reserve(&self.gpu, layers, pos0 + item.tokens.len())?;
        }
        let t = ids.len();
        if t == 0 {
            return Ok(vec![None; items.len()]);
        }
        let s = &self.gpu.stream;
        let (cos, sin) = (s.clone_htod(&cos)?, s.clone_htod(&sin)?);
        let mut h = ops::embed(&self.gpu, &self.weights.embed, &s.clone_htod(&ids)?)?;
        // Flags per layer: attention norm (t), attention (t × heads), feed-forward norm (t).
        let per_layer = t * (2 + c.heads);
        let mut flags = s.alloc_zeros::<i32>(layers * per_layer)?;
        for (l, layer) in self.weights.layers.iter().enumerate() {
            let base = l * per_layer;
            let n = ops::rmsnorm(
                &self.gpu,
                &h.slice(..),
                &layer.attn_norm,
                e,
                c.rms_eps,
                &mut flags.slice_mut(base..base + t),
            )?;
            let input = Activations::new(&n, t, e);
            let mut q = ops::matmul(&self.gpu, &layer.q, &input)?;
            let mut k = ops::matmul(&self.gpu, &layer.k, &input)?;
            let v = ops::matmul(&self.gpu, &layer.v, &input)?;
            ops::rope(&self.gpu, &mut q, &cos, &sin, e, hd)?;
            ops::rope(&self.gpu, &mut k, &cos, &sin, kvw, hd)?;
            let mut o = s.alloc_zeros::<f32>(t * e)?;
            for (item, span) in items.iter_mut().zip(&spans) {
                if span.len == 0 {
                    continue;
                }
                let (keys, values) = item.cache.layer_mut(l);
                let (rows, at) = (
                    span.start * kvw..(span.start + span.len) * kvw,
                    span.pos0 * kvw,
                );
                s.memcpy_dtod(
                    &k.slice(rows.clone()),
                    &mut keys.slice_mut(at..at + rows.len()),
                )?;
                s.memcpy_dtod(
                    &v.slice(rows.clone()),
                    &mut values.slice_mut(at..at + rows.len()),
                )?;
                let shape = AttentionShape {
                    tokens: span.len,
                    heads: c.heads,
                    kv_heads: c.kv_heads,
                    head_dim: hd,
                    pos0: span.pos0,
                };
                let (rows, flag_at) = (
                    span.start * e..(span.start + span.len) * e,
                    base + t + span.start * c.heads,
                );
                ops::attention(
                    &self.gpu,
                    &shape,
                    &q.slice(rows.clone()),
                    keys,
                    values,
                    &mut o.slice_mut(rows),
                    &mut flags.slice_mut(flag_at..flag_at + span.len * c.heads),
                )?;
            }
            let y = ops::matmul(&self.gpu, &layer.o, &Activations::new(&o, t, e))?;
            ops::elementwise(&self.gpu, "add_assign", &mut h, &y)?;
            let at = base + t * (1 + c.heads);
            let n = ops::rmsnorm(
                &self.gpu,
                &h.slice(..),
                &layer.ffn_norm,
                e,
                c.rms_eps,
                &mut flags.slice_mut(at..at + t),
            )?;
            let input = Activations::new(&n, t, e);
            let mut gate = ops::matmul(&self.gpu, &layer.gate, &input)?;
            let up = ops::matmul(&self.gpu, &layer.up, &input)?;
            ops::elementwise(&self.gpu, "silu_mul", &mut gate, &up)?;
            let down = ops::matmul(
                &self.gpu,
                &layer.down,
                &Activations::new(&gate, t, c.feed_forward),
            )?;
            ops::elementwise(&self.gpu, "add_assign", &mut h, &down)?;
        }
        for (item, span) in items.iter_mut().zip(&spans) {
            item.cache.commit(span.len);
        }
        check_flags(&s.clone_dtoh(&flags)?, t, c.heads)?;
        self.logits(items, &spans, &h)
    }

    fn logits(
        &self,
        items: &[DeviceItem<'_>],
        spans: &[Span],
        h: &CudaSlice<f32>,
    ) -> Result<Vec<Option<Vec<f32>>>, CudaError> {
        let (e, vocab) = (self.config.embedding, self.config.vocab_size);
        let s = &self.gpu.stream;
        let wanted: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].want_logits && spans[i].len > 0)
            .collect();
        let mut out = vec![None; items.len()];
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut last = s.alloc_zeros::<f32>(wanted.len() * e)?;
        for (row, &i) in wanted.iter().enumerate() {
            let at = (spans[i].start + spans[i].len - 1) * e;
            s.memcpy_dtod(
                &h.slice(at..at + e),
                &mut last.slice_mut(row * e..(row + 1) * e),
            )?;
        }
        let mut bad = s.alloc_zeros::<i32>(wanted.len())?;
        let normed = ops::rmsnorm(
            &self.gpu,
            &last.slice(..),
            &self.weights.output_norm,
            e,
            self.config.rms_eps,
            &mut bad.slice_mut(..),
        )?;
        let logits = ops::matmul(
            &self.gpu,
            self.weights.output_head(),
            &Activations::new(&normed, wanted.len(), e),
        )?;
        if s.clone_dtoh(&bad)?.iter().any(|&b| b != 0) {
            return Err(ModelError::NonFinite("the final norm").into());
        }
        let all = s.clone_dtoh(&logits)?;
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
fn check_flags(flags: &[i32], tokens: usize, heads: usize) -> Result<(), ModelError> {
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
