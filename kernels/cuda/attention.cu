// Causal attention over one sequence's KV cache (SPEC.md §6). One block per (token, query
// head), grid-stride; blockDim a multiple of 32, at most 256.
#include "common.cuh"

#define DET_ATTN_MAX_THREADS 256
// Keys each half-warp scores at once, and keys the output fold loads ahead.
#define DET_ATTN_KEYS 4
#define DET_ATTN_FOLD 16

// q: `tokens` rows of heads × head_dim (after RoPE), the tokens at positions pos0, pos0 + 1, ...
// k, v: the layer's cache, positions of `kv_width` values (key/value heads × head_dim), holding
// at least pos0 + tokens positions. scores: scratch of tokens × heads × score_stride floats
// (score_stride ≥ pos0 + tokens). out: like q. bad[t·heads + h] = 1 when a score is NaN or the
// maximum is not finite.
extern "C" __global__ void attention(const float* q, const float* k, const float* v, float* scores,
                                     float* out, i32* bad, int tokens, int heads, int kv_heads,
                                     int head_dim, int pos0, int score_stride, float scale) {
    __shared__ float part[DET_ATTN_MAX_THREADS];
    __shared__ int nan_part[DET_ATTN_MAX_THREADS];
    __shared__ float m_shared, z_shared;
    int width = heads * head_dim, kv_width = kv_heads * head_dim, group = heads / kv_heads;
    for (int item = blockIdx.x; item < tokens * heads; item += gridDim.x) {
        int t = item / heads, h = item % heads;
        int n = pos0 + t + 1;
        const float* qh = q + (i64)t * width + h * head_dim;
        int kv_off = (h / group) * head_dim;
        float* s = scores + (i64)item * score_stride;
        // 1. s[j] = dot16(q, k_j) × scale, one half-warp per key: each half-warp takes
        //    DET_ATTN_KEYS keys at once, H half-warps apart, so that their loads and their trees
        //    overlap; each key's sum is det_dot16's (lane l's elements in order, then the tree).
        int half_warps = blockDim.x >> 4, lane16 = threadIdx.x & 15;
        for (int base = (threadIdx.x >> 5) * 2; base < n; base += half_warps * DET_ATTN_KEYS) {
            int first = base + ((threadIdx.x >> 4) & 1);
            float dot[DET_ATTN_KEYS];
            for (int u = 0; u < DET_ATTN_KEYS; ++u) {
                int j = first + u * half_warps;
                const float* kj = k + (i64)(j < n ? j : 0) * kv_width + kv_off;
                dot[u] = 0.0f;
                if (j < n)
                    for (int i = lane16; i < head_dim; i += 16) dot[u] = __fmaf_rn(qh[i], kj[i], dot[u]);
            }
            for (int w = 8; w >= 1; w >>= 1)
                for (int u = 0; u < DET_ATTN_KEYS; ++u)
                    dot[u] = __fadd_rn(dot[u], __shfl_xor_sync(DET_FULL_MASK, dot[u], w));
            for (int u = 0; u < DET_ATTN_KEYS; ++u) {
                int j = first + u * half_warps;
                if (j < n && lane16 == 0) s[j] = __fmul_rn(dot[u], scale);
            }
        }
        __syncthreads();
        // 2. m = max s[j] (exact, order-free), and whether a score is NaN.
        float m = __int_as_float((int)0xff800000u);
        int any_nan = 0;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            m = fmaxf(m, s[j]);
            any_nan |= det_is_nan(s[j]) ? 1 : 0;
        }
        part[threadIdx.x] = m;
        nan_part[threadIdx.x] = any_nan;
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int i = 1; i < (int)blockDim.x; ++i) {
                m = fmaxf(m, part[i]);
                any_nan |= nan_part[i];
            }
            m_shared = m;
            bad[item] = (any_nan || !det_is_finite(m)) ? 1 : 0;
        }
        __syncthreads();
        m = m_shared;
        for (int j = threadIdx.x; j < n; j += blockDim.x) s[j] = det_exp32(__fsub_rn(s[j], m));
        __syncthreads();
        // 3. Z = sum16(e) on warp 0; o[d] = (sequential fold of fma(e[j], v_j[d], acc)) / Z.
        if (threadIdx.x < 32) {
            float z = det_sum16(s, n);
            if (threadIdx.x == 0) z_shared = z;
        }
        __syncthreads();
        //    The fold takes DET_ATTN_FOLD keys' weights and values into registers before their
        //    fmas, so the loads overlap; the fmas stay key after key.
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
            const float* vd = v + kv_off + d;
            float acc = 0.0f;
            int j = 0;
            for (; j + DET_ATTN_FOLD <= n; j += DET_ATTN_FOLD) {
                float e[DET_ATTN_FOLD], x[DET_ATTN_FOLD];
                for (int u = 0; u < DET_ATTN_FOLD; ++u) {
                    e[u] = s[j + u];
                    x[u] = vd[(i64)(j + u) * kv_width];
                }
                for (int u = 0; u < DET_ATTN_FOLD; ++u) acc = __fmaf_rn(e[u], x[u], acc);
            }
            for (; j < n; ++j) acc = __fmaf_rn(s[j], vd[(i64)j * kv_width], acc);
            out[(i64)t * width + h * head_dim + d] = __fdiv_rn(acc, z_shared);
        }
        __syncthreads();
    }
}
