// Causal attention over one sequence's KV cache (SPEC.md §6). One block per (token, query
// head), grid-stride; blockDim a multiple of 32, at most 256.
#include "common.cuh"

#define DET_ATTN_MAX_THREADS 256

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
        // 1. s[j] = dot16(q, k_j) × scale, one half-warp per key.
        int half_warps = blockDim.x >> 4;
        for (int base = (threadIdx.x >> 5) * 2; base < n; base += half_warps) {
            int j = base + ((threadIdx.x >> 4) & 1);
            bool live = j < n;
            float dot = det_dot16(qh, k + (i64)(live ? j : 0) * kv_width + kv_off, live ? head_dim : 0);
            if (live && (threadIdx.x & 15) == 0) s[j] = __fmul_rn(dot, scale);
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
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float acc = 0.0f;
            for (int j = 0; j < n; ++j) acc = __fmaf_rn(s[j], v[(i64)j * kv_width + kv_off + d], acc);
            out[(i64)t * width + h * head_dim + d] = __fdiv_rn(acc, z_shared);
        }
        __syncthreads();
    }
}
