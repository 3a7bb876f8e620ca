//! Launches of the kernels of `kernels/cuda/`, one function per op, with the shapes the kernels
//! expect. Every launch geometry gives the same bits (the kernels stride over their items).

use super::gpu::launch_config;
use super::weights::DeviceMatrix;
use super::{CudaError, Gpu};
use cudarc::driver::{CudaSlice, CudaView, CudaViewMut, PushKernelArg};
use std::cell::OnceCell;

type Result<T> = std::result::Result<T, CudaError>;

fn int(n: usize) -> i32 {
    i32::try_from(n).expect("shape fits the kernels' int parameters")
}

/// Q8A activations (SPEC.md §3.2): integers, and per block the scale and the sum.
pub struct Quantized {
    q: CudaSlice<i8>,
    d: CudaSlice<f32>,
    s: CudaSlice<i32>,
}

/// `tokens` vectors of `len` values, quantized on first use by a quantized product.
pub struct Activations<'a> {
    pub values: &'a CudaSlice<f32>,
    pub tokens: usize,
    pub len: usize,
    quantized: OnceCell<Quantized>,
}

impl<'a> Activations<'a> {
    pub fn new(values: &'a CudaSlice<f32>, tokens: usize, len: usize) -> Self {
        Self {
            values,
            tokens,
            len,
            quantized: OnceCell::new(),
        }
    }

    fn quantized(&self, gpu: &Gpu) -> Result<&Quantized> {
        if let Some(q) = self.quantized.get() {
            return Ok(q);
        }
        let blocks = self.tokens * self.len / 32;
        let s = &gpu.stream;
        let mut out = Quantized {
            q: s.alloc_zeros(blocks * 32)?,
            d: s.alloc_zeros(blocks)?,
            s: s.alloc_zeros(blocks)?,
        };
        let n = int(blocks);
        // SAFETY: the buffers hold `blocks` blocks, the kernel's signature is matched.
        unsafe {
            s.launch_builder(gpu.function("q8a_quantize"))
                .arg(self.values)
                .arg(&mut out.q)
                .arg(&mut out.d)
                .arg(&mut out.s)
                .arg(&n)
                .launch(launch_config(blocks, 32))?;
        }
        Ok(self.quantized.get_or_init(|| out))
    }
}

/// `y[t·rows + r] = Σ_k W[r, k] x_t[k]` (SPEC.md §3.3).
pub fn matmul(gpu: &Gpu, w: &DeviceMatrix, x: &Activations<'_>) -> Result<CudaSlice<f32>> {
    assert_eq!(w.cols, x.len, "matmul shape mismatch");
    let s = &gpu.stream;
    let mut y = s.alloc_zeros::<f32>(w.rows * x.tokens)?;
    let (rows, cols, tokens) = (int(w.rows), int(w.cols), int(x.tokens));
    let items = w.rows * x.tokens;
    let f = gpu.function(&format!("matvec_{}", w.format.cuda_suffix()));
    // SAFETY: shapes checked above; the kernels read rows × cols weights and tokens × cols
    // activations and write rows × tokens outputs.
    unsafe {
        if w.format.is_quantized() {
            let q = x.quantized(gpu)?;
            s.launch_builder(f)
                .arg(&w.bytes)
                .arg(&q.q)
                .arg(&q.d)
                .arg(&q.s)
                .arg(&mut y)
                .arg(&rows)
                .arg(&cols)
                .arg(&tokens)
                .launch(launch_config(items, 32))?;
        } else {
            s.launch_builder(f)
                .arg(&w.bytes)
                .arg(x.values)
                .arg(&mut y)
                .arg(&rows)
                .arg(&cols)
                .arg(&tokens)
                .launch(launch_config(items, 16))?;
        }
    }
    Ok(y)
}

/// Rows `ids` of the embedding, dequantized (SPEC.md §3.4).
pub fn embed(gpu: &Gpu, w: &DeviceMatrix, ids: &CudaSlice<i32>) -> Result<CudaSlice<f32>> {
    let s = &gpu.stream;
    let mut out = s.alloc_zeros::<f32>(ids.len() * w.cols)?;
    let (n, cols) = (int(ids.len()), int(w.cols));
    // SAFETY: ids are checked against the vocabulary by the caller.
    unsafe {
        s.launch_builder(gpu.function(&format!("embed_{}", w.format.cuda_suffix())))
            .arg(&w.bytes)
            .arg(ids)
            .arg(&mut out)
            .arg(&n)
            .arg(&cols)
            .launch(launch_config(ids.len() * w.cols, 1))?;
    }
    Ok(out)
}

/// `rmsnorm` of `tokens` rows of `len` (SPEC.md §4); `bad[t]` = 1 for a non-finite sum.
pub fn rmsnorm(
    gpu: &Gpu,
    x: &CudaView<'_, f32>,
    weight: &CudaSlice<f32>,
    len: usize,
    eps: f32,
    bad: &mut CudaViewMut<'_, i32>,
) -> Result<CudaSlice<f32>> {
    let s = &gpu.stream;
    let tokens = x.len() / len;
    let mut y = s.alloc_zeros::<f32>(x.len())?;
    let (t, l) = (int(tokens), int(len));
    // SAFETY: x holds tokens × len values, bad tokens flags.
    unsafe {
        s.launch_builder(gpu.function("rmsnorm"))
            .arg(x)
            .arg(weight)
            .arg(&mut y)
            .arg(bad)
            .arg(&t)
            .arg(&l)
            .arg(&eps)
            .launch(launch_config(tokens, super::gpu::THREADS))?;
    }
    Ok(y)
}

/// `h += y` or `g = silu(g) × u`, element-wise.
pub fn elementwise(
    gpu: &Gpu,
    kernel: &str,
    a: &mut CudaSlice<f32>,
    b: &CudaSlice<f32>,
) -> Result<()> {
    let n = int(a.len());
    // SAFETY: both hold n values.
    unsafe {
        gpu.stream
            .launch_builder(gpu.function(kernel))
            .arg(a)
            .arg(b)
            .arg(&n)
            .launch(launch_config(b.len(), 1))?;
    }
    Ok(())
}

/// RoPE on rows of `width` values, each token with its own angle table (SPEC.md §5).
pub fn rope(
    gpu: &Gpu,
    x: &mut CudaSlice<f32>,
    cos: &CudaSlice<f32>,
    sin: &CudaSlice<f32>,
    width: usize,
    head_dim: usize,
) -> Result<()> {
    let tokens = x.len() / width;
    let (t, w, d) = (int(tokens), int(width), int(head_dim));
    // SAFETY: cos and sin hold tokens × head_dim / 2 values.
    unsafe {
        gpu.stream
            .launch_builder(gpu.function("rope"))
            .arg(x)
            .arg(cos)
            .arg(sin)
            .arg(&t)
            .arg(&w)
            .arg(&d)
            .launch(launch_config(tokens * width / 2, 1))?;
    }
    Ok(())
}

/// The shape of one sequence's attention step.
pub struct AttentionShape {
    pub tokens: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Position of the first of `tokens`.
    pub pos0: usize,
}

/// Causal attention of one sequence's new tokens over its cache (SPEC.md §6).
pub fn attention(
    gpu: &Gpu,
    shape: &AttentionShape,
    q: &CudaView<'_, f32>,
    keys: &CudaSlice<f32>,
    values: &CudaSlice<f32>,
    out: &mut CudaViewMut<'_, f32>,
    bad: &mut CudaViewMut<'_, i32>,
) -> Result<()> {
    let s = &gpu.stream;
    let items = shape.tokens * shape.heads;
    let stride = shape.pos0 + shape.tokens;
    let mut scores = s.alloc_zeros::<f32>(items * stride)?;
    let scale = 1.0 / (shape.head_dim as f32).sqrt();
    let (t, h, kvh, d) = (
        int(shape.tokens),
        int(shape.heads),
        int(shape.kv_heads),
        int(shape.head_dim),
    );
    let (pos0, stride) = (int(shape.pos0), int(stride));
    // SAFETY: the cache holds pos0 + tokens positions; scores holds items × stride floats.
    unsafe {
        s.launch_builder(gpu.function("attention"))
            .arg(q)
            .arg(keys)
            .arg(values)
            .arg(&mut scores)
            .arg(out)
            .arg(bad)
            .arg(&t)
            .arg(&h)
            .arg(&kvh)
            .arg(&d)
            .arg(&pos0)
            .arg(&stride)
            .arg(&scale)
            .launch(launch_config(items, super::gpu::THREADS))?;
    }
    Ok(())
}
