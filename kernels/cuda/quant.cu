// Quantized products (SPEC.md §3.2, §3.3) and embedding lookup (§3.4).
//
// Launch: any grid of blocks whose size is a multiple of 32; every kernel walks its work items
// with a grid-stride loop, so the geometry changes speed only, never bits.
#include "blocks.cuh"

// Q8A (SPEC.md §3.2): one warp per 32-element block. q: i8 per element; d: f32 and s: Σ q
// (exact) per block. `blocks` = tokens × K / 32. A block holding a NaN or an infinity is
// poisoned (d = NaN, q = 0), so every product over it is NaN and the next check fails.
extern "C" __global__ void q8a_quantize(const float* x, i8* q, float* d, i32* s, int blocks) {
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    for (int blk = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; blk < blocks; blk += warps) {
        float v = x[(i64)blk * 32 + lane];
        float amax = fabsf(v);
        int non_finite = det_is_finite(v) ? 0 : 1;
        for (int w = 16; w >= 1; w >>= 1) {
            amax = fmaxf(amax, __shfl_xor_sync(DET_FULL_MASK, amax, w));
            non_finite |= __shfl_xor_sync(DET_FULL_MASK, non_finite, w);
        }
        int qi = 0;
        float scale = 0.0f;
        if (non_finite) {
            scale = __int_as_float(0x7fc00000);
        } else {
            // amax = 0, or below about 3.7e-37 where 127 / amax overflows: a zero block.
            float inv = __fdiv_rn(127.0f, amax);
            if (det_is_finite(inv)) {
                scale = __fdiv_rn(amax, 127.0f);
                qi = (int)fminf(fmaxf(rintf(__fmul_rn(v, inv)), -127.0f), 127.0f);
            }
        }
        q[(i64)blk * 32 + lane] = (i8)qi;
        int sum = qi;
        for (int w = 16; w >= 1; w >>= 1) sum += __shfl_xor_sync(DET_FULL_MASK, sum, w);
        if (lane == 0) {
            d[blk] = scale;
            s[blk] = sum;
        }
    }
}

// The exact integer sums of one block (det_block_words' packed weights lo, hi) against its 32
// Q8A activation bytes at a (16-byte aligned): *dlo over elements 0..16, *dhi over 16..32.
__device__ __forceinline__ void det_block_dots(const int* lo, const int* hi, const i8* a, int* dlo, int* dhi) {
    uint4 a_lo = det_u32x4_aligned((const u8*)a), a_hi = det_u32x4_aligned((const u8*)a + 16);
    int l = __dp4a(lo[0], (int)a_lo.x, 0), h = __dp4a(hi[0], (int)a_hi.x, 0);
    l = __dp4a(lo[1], (int)a_lo.y, l);
    h = __dp4a(hi[1], (int)a_hi.y, h);
    l = __dp4a(lo[2], (int)a_lo.z, l);
    h = __dp4a(hi[2], (int)a_hi.z, h);
    l = __dp4a(lo[3], (int)a_lo.w, l);
    h = __dp4a(hi[3], (int)a_hi.w, h);
    *dlo = l;
    *dhi = h;
}

// y[t·rows + r] = Σ_k W[r, k] x_t[k] for block-quantized W (SPEC.md §3.3). One warp per (row,
// token): lane l computes the exact integer sums and coefficient products of blocks l, l + 32,
// ...; then every lane runs the sequential fold over blocks in order, taking each block's terms
// from its lane by shuffle. Nothing splits the fold.
template <int FMT>
__device__ void det_matvec_q(const u8* w, const i8* qa, const float* da, const i32* sa, float* y,
                             int rows, int cols, int tokens) {
    const bool two_terms = FMT == DET_Q4_1 || FMT == DET_Q4_K;
    int nb = cols / 32;
    i64 rb = det_row_bytes<FMT>(cols);
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    for (int item = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; item < rows * tokens; item += warps) {
        int t = item / rows, r = item % rows;
        const u8* row = w + (i64)r * rb;
        float acc = 0.0f;
        for (int base = 0; base < nb; base += 32) {
            int b = base + lane;
            float u1 = 0.0f, f1 = 0.0f, u2 = 0.0f, f2 = 0.0f;
            if (b < nb) {
                const i8* a = qa + (i64)t * cols + b * 32;
                float d_a = da[(i64)t * nb + b];
                DetCoef c = det_block_coef<FMT>(row, b);
                int lo[4], hi[4], dlo, dhi;
                det_block_words<FMT>(row, b, lo, hi);
                det_block_dots(lo, hi, a, &dlo, &dhi);
                int ints = FMT == DET_Q6_K ? c.sc_lo * dlo + c.sc_hi * dhi : dlo + dhi;
                u1 = __fmul_rn(c.scale, d_a);
                f1 = __int2float_rn(ints);
                if (FMT == DET_Q4_1) u2 = __fmul_rn(c.min, d_a);
                if (FMT == DET_Q4_K) u2 = -__fmul_rn(c.min, d_a);
                f2 = __int2float_rn(sa[(i64)t * nb + b]);
            }
            int count = nb - base < 32 ? nb - base : 32;
            for (int k = 0; k < count; ++k) {
                acc = __fmaf_rn(__shfl_sync(DET_FULL_MASK, u1, k), __shfl_sync(DET_FULL_MASK, f1, k), acc);
                if (two_terms)
                    acc = __fmaf_rn(__shfl_sync(DET_FULL_MASK, u2, k), __shfl_sync(DET_FULL_MASK, f2, k), acc);
            }
        }
        if (lane == 0) y[(i64)t * rows + r] = acc;
    }
}

// Tokens per work item of the tiled product, and the most warps a block of it may have (its
// shared memory is sized for them).
#define DET_TILE 16
#define DET_TILE_WARPS 4

// y[t·rows + r] as det_matvec_q (the same integers, products and fold), for steps of several
// tokens: one warp per (row, tile of DET_TILE tokens). Lane l decodes blocks l, l + 32, ... of
// the row once for the tile and computes every token's terms of them into shared memory; then
// lane i runs token i's sequential fold over the blocks in order. The weights are read once a
// tile instead of once a token, and the folds run side by side instead of on every lane.
// blockDim: a multiple of 32, at most 32 × DET_TILE_WARPS (kernels/src/device/ops.rs launches
// 128: a test ties the two). w: a matrix's own buffer (block layouts then keep the word loads
// aligned); qa: 16-byte aligned (a Q8A buffer, each block's 32 bytes read as two 16-byte loads).
template <int FMT>
__device__ void det_matmul_q(const u8* w, const i8* qa, const float* da, const i32* sa, float* y,
                             int rows, int cols, int tokens) {
    // terms[warp][u1, f1, u2, f2][token][block]: a token stride of 33 puts lane i's reads of
    // token i's terms on distinct banks.
    __shared__ float terms[DET_TILE_WARPS][4][DET_TILE][33];
    const bool two_terms = FMT == DET_Q4_1 || FMT == DET_Q4_K;
    int nb = cols / 32;
    i64 rb = det_row_bytes<FMT>(cols);
    int lane = threadIdx.x & 31;
    float(*mine)[DET_TILE][33] = terms[threadIdx.x >> 5];
    int warps = (gridDim.x * blockDim.x) >> 5;
    int tiles = (tokens + DET_TILE - 1) / DET_TILE;
    for (int item = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; item < rows * tiles; item += warps) {
        int t0 = item / rows * DET_TILE, r = item % rows;
        int in_tile = tokens - t0 < DET_TILE ? tokens - t0 : DET_TILE;
        const u8* row = w + (i64)r * rb;
        float acc = 0.0f;
        for (int base = 0; base < nb; base += 32) {
            int b = base + lane;
            if (b < nb) {
                DetCoef c = det_block_coef<FMT>(row, b);
                int lo[4], hi[4];
                det_block_words<FMT>(row, b, lo, hi);
                for (int i = 0; i < in_tile; ++i) {
                    i64 at = (i64)(t0 + i) * nb + b;
                    int dlo, dhi;
                    det_block_dots(lo, hi, qa + at * 32, &dlo, &dhi);
                    int ints = FMT == DET_Q6_K ? c.sc_lo * dlo + c.sc_hi * dhi : dlo + dhi;
                    float d_a = da[at];
                    mine[0][i][lane] = __fmul_rn(c.scale, d_a);
                    mine[1][i][lane] = __int2float_rn(ints);
                    if (FMT == DET_Q4_1) mine[2][i][lane] = __fmul_rn(c.min, d_a);
                    if (FMT == DET_Q4_K) mine[2][i][lane] = -__fmul_rn(c.min, d_a);
                    if (two_terms) mine[3][i][lane] = __int2float_rn(sa[at]);
                }
            }
            __syncwarp();
            int count = nb - base < 32 ? nb - base : 32;
            if (lane < in_tile)
                for (int k = 0; k < count; ++k) {
                    acc = __fmaf_rn(mine[0][lane][k], mine[1][lane][k], acc);
                    if (two_terms) acc = __fmaf_rn(mine[2][lane][k], mine[3][lane][k], acc);
                }
            __syncwarp();
        }
        if (lane < in_tile) y[(i64)(t0 + lane) * rows + r] = acc;
    }
}

// y[t·rows + r] = dot16(W[r, ·], x_t) for F32/F16 W (SPEC.md §3.3): one half-warp per (row,
// token), the lanes of §1.1.
template <int FMT>
__device__ void det_matvec_f(const u8* w, const float* x, float* y, int rows, int cols, int tokens) {
    int half = (threadIdx.x >> 4) & 1, lane = threadIdx.x & 15;
    int half_warps = (gridDim.x * blockDim.x) >> 4;
    i64 rb = det_row_bytes<FMT>(cols);
    int n = rows * tokens;
    for (int base = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * 2; base < n; base += half_warps) {
        int item = base + half;
        bool live = item < n;
        int t = live ? item / rows : 0, r = live ? item % rows : 0;
        const u8* row = w + (i64)r * rb;
        const float* xt = x + (i64)t * cols;
        float a = 0.0f;
        if (live)
            for (int i = lane; i < cols; i += 16) a = __fmaf_rn(det_dequantize<FMT>(row, i), xt[i], a);
        a = det_tree16(a);
        if (live && lane == 0) y[(i64)t * rows + r] = a;
    }
}

// out[t·cols + i] = element i of row tokens[t] (SPEC.md §3.4); one thread per element.
template <int FMT> __device__ void det_embed(const u8* w, const i32* tokens, float* out, int n, int cols) {
    i64 rb = det_row_bytes<FMT>(cols);
    int threads = gridDim.x * blockDim.x;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < n * cols; idx += threads) {
        out[idx] = det_dequantize<FMT>(w + (i64)tokens[idx / cols] * rb, idx % cols);
    }
}

#define DET_QUANTIZED(name, FMT)                                                                    \
    extern "C" __global__ void matvec_##name(const u8* w, const i8* qa, const float* da,          \
                                             const i32* sa, float* y, int rows, int cols,          \
                                             int tokens) {                                         \
        det_matvec_q<FMT>(w, qa, da, sa, y, rows, cols, tokens);                                   \
    }                                                                                              \
    extern "C" __global__ void matmul_##name(const u8* w, const i8* qa, const float* da,          \
                                             const i32* sa, float* y, int rows, int cols,          \
                                             int tokens) {                                         \
        det_matmul_q<FMT>(w, qa, da, sa, y, rows, cols, tokens);                                   \
    }
#define DET_FLOAT(name, FMT)                                                                        \
    extern "C" __global__ void matvec_##name(const u8* w, const float* x, float* y, int rows,     \
                                             int cols, int tokens) {                               \
        det_matvec_f<FMT>(w, x, y, rows, cols, tokens);                                            \
    }
#define DET_EMBED(name, FMT)                                                                        \
    extern "C" __global__ void embed_##name(const u8* w, const i32* tokens, float* out, int n,    \
                                            int cols) {                                            \
        det_embed<FMT>(w, tokens, out, n, cols);                                                   \
    }

DET_QUANTIZED(q8_0, DET_Q8_0)
DET_QUANTIZED(q4_0, DET_Q4_0)
DET_QUANTIZED(q4_1, DET_Q4_1)
DET_QUANTIZED(q4_k, DET_Q4_K)
DET_QUANTIZED(q6_k, DET_Q6_K)
DET_FLOAT(f32, DET_F32)
DET_FLOAT(f16, DET_F16)
DET_EMBED(f32, DET_F32)
DET_EMBED(f16, DET_F16)
DET_EMBED(q8_0, DET_Q8_0)
DET_EMBED(q4_0, DET_Q4_0)
DET_EMBED(q4_1, DET_Q4_1)
DET_EMBED(q4_k, DET_Q4_K)
DET_EMBED(q6_k, DET_Q6_K)
