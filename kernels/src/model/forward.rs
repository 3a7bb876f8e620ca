//! The batched forward pass (SPEC.md §4–6). Tokens of several sequences go through every
//! matrix product together; each token's arithmetic is the same as if it were alone.

use super::{KvCache, LlamaModel, ModelError};
use crate::matmul::{Compute, Input};
use crate::ops::{add_assign, attend, rmsnorm, silu_mul};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// New tokens of one sequence for one forward step.
pub struct BatchItem<'a> {
    /// The sequence's cache; the tokens continue it at position `cache.len()`.
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
    /// Whether to compute logits for the last of `tokens`.
    pub want_logits: bool,
}

/// What a forward step returns for each item, in order.
#[derive(Debug, Default)]
pub struct ForwardOutput {
    /// Logits of each item's last token, when it asked for them.
    pub logits: Vec<Option<Vec<f32>>>,
    /// Per item, per layer: SHA-256 of the f32 bits of the item's hidden states after the layer
    /// (only when tracing).
    pub traces: Vec<Vec<[u8; 32]>>,
}

struct TokenSlot {
    item: usize,
    position: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl LlamaModel {
    /// Runs one step for every item; appends their keys and values to their caches. When the
    /// step fails, every cache is left exactly as it was before it. The whole step runs on
    /// `compute`'s pool: its many products do not each hop threads, and every op runs the
    /// builds of `compute`'s path.
    pub fn forward(
        &self,
        compute: &Compute,
        items: &mut [BatchItem<'_>],
        trace: bool,
    ) -> Result<ForwardOutput, ModelError> {
        let output = compute.install(|| self.forward_uncommitted(compute, items, trace));
        for item in items.iter_mut() {
            if output.is_ok() {
                item.cache.commit(item.tokens.len());
            } else {
                item.cache.discard_uncommitted();
            }
        }
        output
    }

    /// The step, with the new keys and values pushed to the caches but not yet committed.
    fn forward_uncommitted(
        &self,
        compute: &Compute,
        items: &mut [BatchItem<'_>],
        trace: bool,
    ) -> Result<ForwardOutput, ModelError> {
        let c = &self.config;
        let (e, kvw, hd) = (c.embedding, c.kv_width(), c.head_dim);
        let mut slots = Vec::new();
        let mut h = Vec::new();
        for (i, item) in items.iter().enumerate() {
            for (j, &token) in item.tokens.iter().enumerate() {
                let position = item.cache.len() + j;
                if position >= c.context_length {
                    return Err(ModelError::ContextOverflow {
                        position,
                        context: c.context_length,
                    });
                }
                if token as usize >= c.vocab_size {
                    return Err(ModelError::TokenOutOfRange {
                        id: token,
                        vocab: c.vocab_size,
                    });
                }
                let (cos, sin) = self.rope.table(position);
                slots.push(TokenSlot {
                    item: i,
                    position,
                    cos,
                    sin,
                });
                h.extend(self.embed.dequantize_row(token as usize));
            }
        }
        let t = slots.len();
        let mut traces = vec![Vec::new(); if trace { items.len() } else { 0 }];
        let mut n = vec![0f32; t * e];
        let scale = 1.0 / (hd as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            norm_all(&h, &layer.attn_norm, c.rms_eps, &mut n, e)?;
            let input = Input::new(&n, e);
            let mut q = compute.matmul(&layer.q, &input);
            let mut k = compute.matmul(&layer.k, &input);
            let v = compute.matmul(&layer.v, &input);
            for (s, slot) in slots.iter().enumerate() {
                super::Rope::apply(&mut q[s * e..(s + 1) * e], hd, &slot.cos, &slot.sin);
                super::Rope::apply(&mut k[s * kvw..(s + 1) * kvw], hd, &slot.cos, &slot.sin);
                items[slot.item].cache.push(
                    l,
                    &k[s * kvw..(s + 1) * kvw],
                    &v[s * kvw..(s + 1) * kvw],
                );
            }
            let mut o = vec![0f32; t * e];
            let group = c.heads / c.kv_heads;
            let caches: Vec<&KvCache> = items.iter().map(|it| &*it.cache).collect();
            let ok = compute.install(|| {
                o.par_chunks_mut(e)
                    .zip(q.par_chunks(e))
                    .zip(slots.par_iter())
                    .all(|((out, q), slot)| {
                        let cache = caches[slot.item];
                        let n_keys = slot.position + 1;
                        let mut scores = vec![0f32; n_keys];
                        (0..c.heads).all(|head| {
                            attend(
                                &q[head * hd..(head + 1) * hd],
                                cache.keys(l),
                                cache.values(l),
                                n_keys,
                                kvw,
                                (head / group) * hd,
                                scale,
                                &mut scores,
                                &mut out[head * hd..(head + 1) * hd],
                            )
                        })
                    })
            });
            if !ok {
                return Err(ModelError::NonFinite("attention scores"));
            }
            add_assign(&mut h, &compute.matmul(&layer.o, &Input::new(&o, e)));
            norm_all(&h, &layer.ffn_norm, c.rms_eps, &mut n, e)?;
            let input = Input::new(&n, e);
            let mut gate = compute.matmul(&layer.gate, &input);
            let up = compute.matmul(&layer.up, &input);
            silu_mul(&mut gate, &up);
            add_assign(
                &mut h,
                &compute.matmul(&layer.down, &Input::new(&gate, c.feed_forward)),
            );
            if trace {
                for (i, digests) in traces.iter_mut().enumerate() {
                    let mut hasher = Sha256::new();
                    for (s, slot) in slots.iter().enumerate() {
                        if slot.item == i {
                            for v in &h[s * e..(s + 1) * e] {
                                hasher.update(v.to_le_bytes());
                            }
                        }
                    }
                    digests.push(hasher.finalize().into());
                }
            }
        }
        let logits = self.logits(compute, items, &slots, &h)?;
        Ok(ForwardOutput { logits, traces })
    }

    fn logits(
        &self,
        compute: &Compute,
        items: &[BatchItem<'_>],
        slots: &[TokenSlot],
        h: &[f32],
    ) -> Result<Vec<Option<Vec<f32>>>, ModelError> {
        let e = self.config.embedding;
        let mut last = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if item.want_logits && !item.tokens.is_empty() {
                let s = slots
                    .iter()
                    .rposition(|slot| slot.item == i)
                    .expect("item has tokens");
                last.push((i, s));
            }
        }
        let mut normed = vec![0f32; last.len() * e];
        for (row, &(_, s)) in last.iter().enumerate() {
            if !rmsnorm(
                &h[s * e..(s + 1) * e],
                &self.output_norm,
                self.config.rms_eps,
                &mut normed[row * e..(row + 1) * e],
            ) {
                return Err(ModelError::NonFinite("the final norm"));
            }
        }
        let vocab = self.config.vocab_size;
        let all = if last.is_empty() {
            Vec::new()
        } else {
            compute.matmul(self.output_head(), &Input::new(&normed, e))
        };
        if all.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite("logits"));
        }
        let mut out = vec![None; items.len()];
        for (row, &(i, _)) in last.iter().enumerate() {
            out[i] = Some(all[row * vocab..(row + 1) * vocab].to_vec());
        }
        Ok(out)
    }
}

fn norm_all(
    h: &[f32],
    weight: &[f32],
    eps: f32,
    out: &mut [f32],
    e: usize,
) -> Result<(), ModelError> {
    for (x, y) in h.chunks_exact(e).zip(out.chunks_exact_mut(e)) {
        if !rmsnorm(x, weight, eps, y) {
            return Err(ModelError::NonFinite("an RMSNorm sum of squares"));
        }
    }
    Ok(())
}
