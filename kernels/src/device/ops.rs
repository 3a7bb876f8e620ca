//! Launches of the kernels of `kernels/cuda/`, one function per op, with the shapes the kernels
//! expect. Every launch geometry gives the same bits (the kernels stride over their items).

use super::{Arg, Buffer, Device, LaunchConfig, Result, THREADS};
use crate::quant::WeightFormat;
use std::cell::OnceCell;

/// A matrix on the device: its block bytes exactly as in the file.
#[derive(Debug)]
pub struct DeviceMatrix {
    pub format: WeightFormat,
    pub rows: usize,
    pub cols: usize,
    pub bytes: Buffer,
}

/// Q8A activations (SPEC.md §3.2): integers, and per block the scale and the sum.
struct Quantized {
    q: Buffer,
    d: Buffer,
    s: Buffer,
}

/// `tokens` vectors of `len` f32 values, quantized on first use by a quantized product.
pub struct Activations<'a> {
    pub values: &'a Buffer,
    pub tokens: usize,
    pub len: usize,
    quantized: OnceCell<Quantized>,
}

impl<'a> Activations<'a> {
    pub fn new(values: &'a Buffer, tokens: usize, len: usize) -> Self {
        Self {
            values,
            tokens,
            len,
            quantized: OnceCell::new(),
        }
    }

    fn quantized(&self, device: &dyn Device) -> Result<&Quantized> {
        if let Some(q) = self.quantized.get() {
            return Ok(q);
        }
        let blocks = self.tokens * self.len / 32;
        let out = Quantized {
            q: device.alloc(blocks * 32)?,
            d: device.alloc(blocks * 4)?,
            s: device.alloc(blocks * 4)?,
        };
        device.launch(
            "q8a_quantize",
            LaunchConfig::covering(blocks, 32)?,
            &[
                Arg::buf(self.values),
                Arg::buf(&out.q),
                Arg::buf(&out.d),
                Arg::buf(&out.s),
                Arg::int(blocks),
            ],
        )?;
        Ok(self.quantized.get_or_init(|| out))
    }
}

/// Tokens per work item of the tiled quantized product (`DET_TILE` in `quant.cu`; it sizes
/// the launch only: the kernel counts its own items).
const MATMUL_TILE: usize = 16;
/// The most threads a block of the tiled product may have (`DET_TILE_WARPS` × 32).
const MATMUL_MAX_THREADS: u32 = 128;
const _: () = assert!(THREADS <= MATMUL_MAX_THREADS);

/// `y[t·rows + r] = Σ_k W[r, k] x_t[k]` (SPEC.md §3.3). A quantized product of several tokens
/// runs the tiled kernel (`matmul_*`: each row's weights read once per tile of tokens), of one
/// token the per-item one (`matvec_*`); both compute each value the same way, to the bit.
pub fn matmul(device: &dyn Device, w: &DeviceMatrix, x: &Activations<'_>) -> Result<Buffer> {
    assert_eq!(w.cols, x.len, "matmul shape mismatch");
    let y = device.alloc(w.rows * x.tokens * 4)?;
    let shape = [Arg::int(w.rows), Arg::int(w.cols), Arg::int(x.tokens)];
    if w.format.is_quantized() {
        let (kernel, items) = if x.tokens > 1 {
            ("matmul", w.rows * x.tokens.div_ceil(MATMUL_TILE))
        } else {
            ("matvec", w.rows)
        };
        let kernel = format!("{kernel}_{}", w.format.cuda_suffix());
        let q = x.quantized(device)?;
        let args = [
            Arg::buf(&w.bytes),
            Arg::buf(&q.q),
            Arg::buf(&q.d),
            Arg::buf(&q.s),
            Arg::buf(&y),
        ];
        device.launch(
            &kernel,
            LaunchConfig::covering(items, 32)?,
            &[&args[..], &shape].concat(),
        )?;
    } else {
        let args = [Arg::buf(&w.bytes), Arg::buf(x.values), Arg::buf(&y)];
        device.launch(
            &format!("matvec_{}", w.format.cuda_suffix()),
            LaunchConfig::covering(w.rows * x.tokens, 16)?,
            &[&args[..], &shape].concat(),
        )?;
    }
    Ok(y)
}

/// Rows `ids` (a buffer of `count` i32 token ids) of the embedding, dequantized (SPEC.md §3.4).
pub fn embed(device: &dyn Device, w: &DeviceMatrix, ids: &Buffer, count: usize) -> Result<Buffer> {
    let out = device.alloc(count * w.cols * 4)?;
    device.launch(
        &format!("embed_{}", w.format.cuda_suffix()),
        LaunchConfig::covering(count * w.cols, 1)?,
        &[
            Arg::buf(&w.bytes),
            Arg::buf(ids),
            Arg::buf(&out),
            Arg::int(count),
            Arg::int(w.cols),
        ],
    )?;
    Ok(out)
}

/// `rmsnorm` of `tokens` rows of `len` starting at row `first` of `x` (SPEC.md §4); the flag
/// `bad[flag_at + t]` = 1 for a non-finite sum.
pub struct Norm<'a> {
    pub x: &'a Buffer,
    pub first: usize,
    pub tokens: usize,
    pub len: usize,
    pub eps: f32,
    pub flags: &'a Buffer,
    pub flag_at: usize,
}

pub fn rmsnorm(device: &dyn Device, norm: &Norm<'_>, weight: &Buffer) -> Result<Buffer> {
    let y = device.alloc(norm.tokens * norm.len * 4)?;
    device.launch(
        "rmsnorm",
        LaunchConfig::covering(norm.tokens, THREADS)?,
        &[
            Arg::at(norm.x, norm.first * norm.len),
            Arg::buf(weight),
            Arg::buf(&y),
            Arg::at(norm.flags, norm.flag_at),
            Arg::int(norm.tokens),
            Arg::int(norm.len),
            Arg::F32(norm.eps),
        ],
    )?;
    Ok(y)
}

/// `a += b` (`add_assign`) or `a = silu(a) × b` (`silu_mul`), element-wise over `len` values.
pub fn elementwise(
    device: &dyn Device,
    kernel: &str,
    a: &Buffer,
    b: &Buffer,
    len: usize,
) -> Result<()> {
    device.launch(
        kernel,
        LaunchConfig::covering(len, 1)?,
        &[Arg::buf(a), Arg::buf(b), Arg::int(len)],
    )
}

/// RoPE on `tokens` rows of `width` values, each token with its own angle table (SPEC.md §5).
pub fn rope(
    device: &dyn Device,
    x: &Buffer,
    (cos, sin): (&Buffer, &Buffer),
    tokens: usize,
    (width, head_dim): (usize, usize),
) -> Result<()> {
    device.launch(
        "rope",
        LaunchConfig::covering(tokens * width / 2, 1)?,
        &[
            Arg::buf(x),
            Arg::buf(cos),
            Arg::buf(sin),
            Arg::int(tokens),
            Arg::int(width),
            Arg::int(head_dim),
        ],
    )
}

/// One sequence's attention step: its new tokens' queries (rows `first..first + tokens` of the
/// step's `q`), its cache, and where the outputs and flags go.
pub struct Attention<'a> {
    pub tokens: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Position of the first of `tokens`.
    pub pos0: usize,
    /// Row of the step's activations where this sequence's tokens start.
    pub first: usize,
    pub keys: &'a Buffer,
    pub values: &'a Buffer,
    pub flags: &'a Buffer,
    pub flag_at: usize,
}

/// Most bytes of score scratch one attention launch may use: a long prefill runs in tiles of
/// tokens that fit (each (token, head) is computed alone, so tiling never changes a bit).
const ATTENTION_SCRATCH_BYTES: usize = 64 << 20;

/// Causal attention of one sequence's new tokens over its cache (SPEC.md §6).
pub fn attention(device: &dyn Device, a: &Attention<'_>, q: &Buffer, out: &Buffer) -> Result<()> {
    attention_in_tiles(device, a, q, out, ATTENTION_SCRATCH_BYTES)
}

/// [`attention`], with launches of as many tokens as fit `scratch_bytes` of scores (at least
/// one).
fn attention_in_tiles(
    device: &dyn Device,
    a: &Attention<'_>,
    q: &Buffer,
    out: &Buffer,
    scratch_bytes: usize,
) -> Result<()> {
    let stride = a.pos0 + a.tokens;
    let tile = (scratch_bytes / (a.heads * stride * 4)).clamp(1, a.tokens.max(1));
    let scores = device.alloc(tile * a.heads * stride * 4)?;
    let width = a.heads * a.head_dim;
    for t0 in (0..a.tokens).step_by(tile) {
        let tokens = tile.min(a.tokens - t0);
        let first = a.first + t0;
        device.launch(
            "attention",
            LaunchConfig::covering(tokens * a.heads, THREADS)?,
            &[
                Arg::at(q, first * width),
                Arg::buf(a.keys),
                Arg::buf(a.values),
                Arg::buf(&scores),
                Arg::at(out, first * width),
                Arg::at(a.flags, a.flag_at + t0 * a.heads),
                Arg::int(tokens),
                Arg::int(a.heads),
                Arg::int(a.kv_heads),
                Arg::int(a.head_dim),
                Arg::int(a.pos0 + t0),
                Arg::int(stride),
                Arg::F32(1.0 / (a.head_dim as f32).sqrt()),
            ],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::emulator::Emulator;
    use crate::device::{f32_bytes, f32s, i32s};
    use crate::quant::tests::Lcg;

    #[test]
    fn the_tiled_products_launch_sizes_match_its_kernel() {
        // A block wider than the kernel's shared memory is sized for would index past it.
        let source = crate::cuda::source();
        let warps = format!("#define DET_TILE_WARPS {}\n", MATMUL_MAX_THREADS / 32);
        assert!(source.contains(&warps), "quant.cu must say {warps}");
        let tile = format!("#define DET_TILE {MATMUL_TILE}\n");
        assert!(source.contains(&tile), "quant.cu must say {tile}");
    }

    #[test]
    fn tiled_attention_gives_the_same_bits() {
        let device = Emulator::start().unwrap();
        let (tokens, heads, kv_heads, head_dim, pos0) = (7, 4, 2, 32, 5);
        let positions = pos0 + tokens;
        let mut rng = Lcg::new(3);
        let mut random = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f32()).collect() };
        // Two rows before this sequence's, as in a batch.
        let first = 2;
        let q = device
            .upload(&f32_bytes(&random((first + tokens) * heads * head_dim)))
            .unwrap();
        let keys = device
            .upload(&f32_bytes(&random(positions * kv_heads * head_dim)))
            .unwrap();
        let values = device
            .upload(&f32_bytes(&random(positions * kv_heads * head_dim)))
            .unwrap();
        let run = |scratch_bytes: usize| {
            let out = device
                .alloc_zeros((first + tokens) * heads * head_dim * 4)
                .unwrap();
            let flags = device.alloc_zeros((1 + tokens * heads) * 4).unwrap();
            let a = Attention {
                tokens,
                heads,
                kv_heads,
                head_dim,
                pos0,
                first,
                keys: &keys,
                values: &values,
                flags: &flags,
                flag_at: 1,
            };
            attention_in_tiles(&device, &a, &q, &out, scratch_bytes).unwrap();
            let out = f32s(&device.download(&out, 0..out.len()).unwrap());
            let flags = i32s(&device.download(&flags, 0..flags.len()).unwrap());
            (out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), flags)
        };
        let whole = run(usize::MAX / 2);
        assert!(whole.0[first * heads * head_dim..].iter().all(|&b| b != 0));
        assert_eq!(whole.1, vec![0; 1 + tokens * heads]);
        // One token per launch, then three (a ragged last tile).
        for scratch_bytes in [1, 3 * heads * positions * 4] {
            assert_eq!(run(scratch_bytes), whole, "{scratch_bytes}");
        }
    }
}
