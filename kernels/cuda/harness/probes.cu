// Test-only kernels that expose common.cuh's device functions (dot16, sum16, exp32, silu) to
// the emulation tests. Not part of the GPU module.
#include "../common.cuh"

// dot[r] = dot16(x_r, y_r) and sum[r] = sum16(x_r) over `rows` rows of n; one half-warp per row.
extern "C" __global__ void probe_reduce(const float* x, const float* y, float* dot, float* sum, int rows,
                                        int n) {
    int half = (threadIdx.x >> 4) & 1;
    int half_warps = (gridDim.x * blockDim.x) >> 4;
    for (int base = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * 2; base < rows; base += half_warps) {
        int r = base + half;
        bool live = r < rows;
        const float* xr = x + (i64)(live ? r : 0) * n;
        const float* yr = y + (i64)(live ? r : 0) * n;
        float d = det_dot16(xr, yr, live ? n : 0);
        float s = det_sum16(xr, live ? n : 0);
        if (live && (threadIdx.x & 15) == 0) {
            dot[r] = d;
            sum[r] = s;
        }
    }
}

// e[i] = exp32(x[i]), s[i] = silu(x[i]).
extern "C" __global__ void probe_exp(const float* x, float* e, float* s, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        e[i] = det_exp32(x[i]);
        s[i] = det_silu(x[i]);
    }
}
