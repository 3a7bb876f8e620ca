// Device helpers shared by every kernel file: fixed-width types, exact f16 decoding,
// the spec's exp32/silu, and the half-warp dot16/sum16 trees (SPEC.md §1.1, §2.1, §2.2).
//
// Compiled twice: by NVRTC with --fmad=false (kernels/src/cuda/), and as C++ under
// emulate.h on the CPU (kernels/src/cuda/emulator/). Every float operation is written as an
// explicit correctly rounded intrinsic so that neither compiler can contract or reorder it.
#pragma once

typedef unsigned char u8;
typedef signed char i8;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;

#define DET_FULL_MASK 0xffffffffu

__device__ __forceinline__ u16 det_u16_at(const u8* p) { return (u16)(p[0] | (p[1] << 8)); }

// Loads at addresses the caller knows to be aligned to their size (block layouts, buffer
// offsets): one instruction each on the GPU, where det_u16_at takes two. Little-endian.
__device__ __forceinline__ u32 det_u16_aligned(const u8* p) { return *(const u16*)p; }
__device__ __forceinline__ u32 det_u32_aligned(const u8* p) { return *(const u32*)p; }
__device__ __forceinline__ uint4 det_u32x4_aligned(const u8* p) { return *(const uint4*)p; }

// f32(h) for IEEE binary16 bits (exact), NaNs quieted as the `half` crate and F16C do.
__device__ __forceinline__ float det_f16(u16 h) {
    u32 sign = (u32)(h & 0x8000u) << 16;
    u32 exp = (h >> 10) & 0x1fu;
    u32 mant = h & 0x3ffu;
    if (exp == 0) {
        // Zero or subnormal: mant × 2⁻²⁴, exact in f32.
        float v = __fmul_rn(__int2float_rn((int)mant), 5.9604644775390625e-8f);
        return __int_as_float((int)(sign | (u32)__float_as_int(v)));
    }
    if (exp == 31) {
        return __int_as_float((int)(sign | 0x7f800000u | (mant ? 0x400000u | (mant << 13) : 0u)));
    }
    return __int_as_float((int)(sign | ((exp + 112u) << 23) | (mant << 13)));
}

__device__ __forceinline__ float det_f16_at(const u8* p) { return det_f16(det_u16_at(p)); }

__device__ __forceinline__ bool det_is_finite(float x) {
    return ((u32)__float_as_int(x) & 0x7f800000u) != 0x7f800000u;
}

__device__ __forceinline__ bool det_is_nan(float x) {
    return ((u32)__float_as_int(x) & 0x7fffffffu) > 0x7f800000u;
}

// exp32 (SPEC.md §2.1); the constants are given by their bits.
__device__ __forceinline__ float det_exp32(float x) {
    if (x > 88.0f) return __int_as_float(0x7f800000);
    if (x < -87.0f) return 0.0f;
    float n = rintf(__fmul_rn(x, __int_as_float(0x3fb8aa3b)));
    float r = __fmaf_rn(-n, __int_as_float(0x3f317200), x);
    r = __fmaf_rn(-n, __int_as_float(0x35bfbe8e), r);
    float p = __int_as_float(0x39500d01);
    p = __fmaf_rn(p, r, __int_as_float(0x3ab60b61));
    p = __fmaf_rn(p, r, __int_as_float(0x3c088889));
    p = __fmaf_rn(p, r, __int_as_float(0x3d2aaaab));
    p = __fmaf_rn(p, r, __int_as_float(0x3e2aaaab));
    p = __fmaf_rn(p, r, 0.5f);
    p = __fmaf_rn(p, r, 1.0f);
    p = __fmaf_rn(p, r, 1.0f);
    return __fmul_rn(p, __int_as_float((int)(((u32)((int)n + 127)) << 23)));
}

// silu (SPEC.md §2.2).
__device__ __forceinline__ float det_silu(float x) {
    return __fdiv_rn(x, __fadd_rn(1.0f, det_exp32(-x)));
}

// The fixed tree of SPEC.md §1.1 over the sixteen lanes of each half-warp: after the xor
// butterfly every lane holds a[0] (lane l adds a[l ^ w], which for l < w is a[l + w]).
// Both half-warps of the warp must call it together.
__device__ __forceinline__ float det_tree16(float a) {
    a = __fadd_rn(a, __shfl_xor_sync(DET_FULL_MASK, a, 8));
    a = __fadd_rn(a, __shfl_xor_sync(DET_FULL_MASK, a, 4));
    a = __fadd_rn(a, __shfl_xor_sync(DET_FULL_MASK, a, 2));
    a = __fadd_rn(a, __shfl_xor_sync(DET_FULL_MASK, a, 1));
    return a;
}

// dot16(x, y) over n elements (SPEC.md §1.1) on one half-warp: lane l = threadIdx.x % 16
// accumulates elements l, l + 16, ... in order. Every lane of the warp must call it (a half-warp
// with nothing to do passes n = 0); each half-warp gets its own result in all its lanes.
__device__ __forceinline__ float det_dot16(const float* x, const float* y, int n) {
    int lane = threadIdx.x & 15;
    float a = 0.0f;
    for (int i = lane; i < n; i += 16) a = __fmaf_rn(x[i], y[i], a);
    return det_tree16(a);
}

// sum16(x) over n elements (SPEC.md §1.1), same lane layout as det_dot16.
__device__ __forceinline__ float det_sum16(const float* x, int n) {
    int lane = threadIdx.x & 15;
    float a = 0.0f;
    for (int i = lane; i < n; i += 16) a = __fadd_rn(a, x[i]);
    return det_tree16(a);
}
