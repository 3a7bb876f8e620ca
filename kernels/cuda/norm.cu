// RMSNorm (SPEC.md §4): one block per token (grid-stride), blockDim a multiple of 32.
#include "common.cuh"

// y = rmsnorm(x_t, w) for every token; bad[t] = 1 when the sum of squares is not finite.
extern "C" __global__ void rmsnorm(const float* x, const float* w, float* y, i32* bad, int tokens,
                                   int len, float eps) {
    __shared__ float r_shared;
    for (int t = blockIdx.x; t < tokens; t += gridDim.x) {
        const float* xt = x + (i64)t * len;
        if (threadIdx.x < 32) {
            // Both half-warps of warp 0 compute the same dot16; thread 0 keeps it.
            float ss = det_dot16(xt, xt, len);
            if (threadIdx.x == 0) {
                bad[t] = det_is_finite(ss) ? 0 : 1;
                float mean = __fdiv_rn(ss, __int2float_rn(len));
                r_shared = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
            }
        }
        __syncthreads();
        float r = r_shared;
        for (int i = threadIdx.x; i < len; i += blockDim.x)
            y[(i64)t * len + i] = __fmul_rn(__fmul_rn(xt[i], r), w[i]);
        __syncthreads();
    }
}
