// Element-wise steps of the forward pass (SPEC.md §4, §5): residual add, SiLU gating, RoPE.
// One thread per element or pair, grid-stride.
#include "common.cuh"

// h[i] = h[i] + y[i].
extern "C" __global__ void add_assign(float* h, const float* y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        h[i] = __fadd_rn(h[i], y[i]);
}

// g[i] = silu(g[i]) × u[i].
extern "C" __global__ void silu_mul(float* g, const float* u, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        g[i] = __fmul_rn(det_silu(g[i]), u[i]);
}

// RoPE (SPEC.md §5) on `tokens` rows of `width` values (heads of `head_dim` back to back):
// pair i of each head of token t rotates by cos/sin[t·head_dim/2 + i], two products and one
// add or subtract each, no FMA. The angles come from the host (f64, computed once per position).
extern "C" __global__ void rope(float* x, const float* cos, const float* sin, int tokens, int width,
                                int head_dim) {
    int pairs = width / 2, half = head_dim / 2;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < tokens * pairs;
         idx += gridDim.x * blockDim.x) {
        int t = idx / pairs, p = idx % pairs;
        float c = cos[t * half + p % half], s = sin[t * half + p % half];
        float* pair = x + (i64)t * width + 2 * p;
        float x0 = pair[0], x1 = pair[1];
        pair[0] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
        pair[1] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
    }
}
