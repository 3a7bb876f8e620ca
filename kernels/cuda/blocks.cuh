// The GGUF block formats (SPEC.md §3.1) as exact integers and float coefficients, element by
// element: the same decoding as kernels/src/quant/blocks.rs. Format codes match
// `WeightFormat` on the Rust side (see kernels/src/cuda/source.rs).
#pragma once
#include "common.cuh"

#define DET_F32 0
#define DET_F16 1
#define DET_Q8_0 2
#define DET_Q4_0 3
#define DET_Q4_1 4
#define DET_Q4_K 5
#define DET_Q6_K 6

// Bytes of one row of `cols` elements.
template <int FMT> __device__ __forceinline__ int det_row_bytes(int cols) {
    switch (FMT) {
    case DET_F32: return cols * 4;
    case DET_F16: return cols * 2;
    case DET_Q8_0: return cols / 32 * 34;
    case DET_Q4_0: return cols / 32 * 18;
    case DET_Q4_1: return cols / 32 * 20;
    case DET_Q4_K: return cols / 256 * 144;
    default: return cols / 256 * 210;
    }
}

// llama.cpp's get_scale_min_k4: the 6-bit scale and min of sub-block j (0..8).
__device__ __forceinline__ void det_q4k_scale_min(const u8* s, int j, int* sc, int* mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// The integer weight of element j (0..32) of 32-element block b of a row: Q8_0 q, Q4_0
// nib − 8, Q4_1/Q4_K nib, Q6_K q6 − 32.
template <int FMT> __device__ __forceinline__ int det_block_int(const u8* row, int b, int j) {
    if (FMT == DET_Q8_0) return (int)(i8)row[b * 34 + 2 + j];
    if (FMT == DET_Q4_0 || FMT == DET_Q4_1) {
        const u8* qs = row + b * (FMT == DET_Q4_0 ? 18 : 20) + (FMT == DET_Q4_0 ? 2 : 4);
        int nib = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
        return FMT == DET_Q4_0 ? nib - 8 : nib;
    }
    if (FMT == DET_Q4_K) {
        int sub = b % 8;
        const u8* qs = row + (b / 8) * 144 + 16 + 32 * (sub / 2);
        return (sub % 2 == 0) ? (qs[j] & 0x0f) : (qs[j] >> 4);
    }
    // Q6_K: element i of the super-block, as dequantize_row_q6_K.
    const u8* blk = row + (b / 8) * 210;
    int i = 32 * (b % 8) + j;
    int n = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
    int low = blk[64 * n + l + 32 * (quarter % 2)];
    low = quarter < 2 ? (low & 0x0f) : (low >> 4);
    int high = (blk[128 + 32 * n + l] >> (2 * quarter)) & 3;
    return (low | (high << 4)) - 32;
}

// Bytes b3 b2 b1 b0 (each 0..15) as the signed bytes b − 8: with the top bit set no byte
// borrows from the next, and flipping it back gives b − 8 in two's complement.
__device__ __forceinline__ int det_nibbles_minus_8(u32 w) {
    return (int)(((w | 0x80808080u) - 0x08080808u) ^ 0x80808080u);
}

__device__ __forceinline__ int det_pack4(int a, int b, int c, int d) {
    return (int)(((u32)a & 0xffu) | (((u32)b & 0xffu) << 8) | (((u32)c & 0xffu) << 16) | ((u32)d << 24));
}

// The integers of block b (det_block_int) as packed signed bytes for __dp4a: lo[k] holds
// elements 4k .. 4k + 3 and hi[k] elements 16 + 4k .. 16 + 4k + 3. Q4_1 blocks sit at
// 4-byte and Q8_0/Q4_0 blocks at 2-byte boundaries of a row (and rows of a matrix, whose
// buffer is aligned), so those are read a word or a half-word at a time.
template <int FMT> __device__ __forceinline__ void det_block_words(const u8* row, int b, int* lo, int* hi) {
    for (int k = 0; k < 4; ++k) {
        if (FMT == DET_Q4_1) {
            u32 w = det_u32_aligned(row + b * 20 + 4 + 4 * k);
            lo[k] = (int)(w & 0x0f0f0f0fu);
            hi[k] = (int)((w >> 4) & 0x0f0f0f0fu);
        } else if (FMT == DET_Q4_0) {
            const u8* qs = row + b * 18 + 2 + 4 * k;
            u32 w = det_u16_aligned(qs) | (det_u16_aligned(qs + 2) << 16);
            lo[k] = det_nibbles_minus_8(w & 0x0f0f0f0fu);
            hi[k] = det_nibbles_minus_8((w >> 4) & 0x0f0f0f0fu);
        } else if (FMT == DET_Q8_0) {
            const u8* qs = row + b * 34 + 2 + 4 * k;
            lo[k] = (int)(det_u16_aligned(qs) | (det_u16_aligned(qs + 2) << 16));
            hi[k] = (int)(det_u16_aligned(qs + 16) | (det_u16_aligned(qs + 18) << 16));
        } else {
            int j = 4 * k;
            lo[k] = det_pack4(det_block_int<FMT>(row, b, j), det_block_int<FMT>(row, b, j + 1),
                              det_block_int<FMT>(row, b, j + 2), det_block_int<FMT>(row, b, j + 3));
            hi[k] = det_pack4(det_block_int<FMT>(row, b, j + 16), det_block_int<FMT>(row, b, j + 17),
                              det_block_int<FMT>(row, b, j + 18), det_block_int<FMT>(row, b, j + 19));
        }
    }
}

// The float side of block b (SPEC.md §3.3): `scale` multiplies I (for Q6_K, `sc_lo`/`sc_hi`
// weight the two halves of I); `min` is Q4_1's m or Q4_K's f32(dmin) × f32(mn).
struct DetCoef {
    float scale;
    float min;
    int sc_lo;
    int sc_hi;
};

template <int FMT> __device__ __forceinline__ DetCoef det_block_coef(const u8* row, int b) {
    DetCoef c;
    c.min = 0.0f;
    c.sc_lo = 0;
    c.sc_hi = 0;
    if (FMT == DET_Q8_0) {
        c.scale = det_f16_at(row + b * 34);
    } else if (FMT == DET_Q4_0) {
        c.scale = det_f16_at(row + b * 18);
    } else if (FMT == DET_Q4_1) {
        c.scale = det_f16_at(row + b * 20);
        c.min = det_f16_at(row + b * 20 + 2);
    } else if (FMT == DET_Q4_K) {
        const u8* blk = row + (b / 8) * 144;
        int sc, mn;
        det_q4k_scale_min(blk + 4, b % 8, &sc, &mn);
        c.scale = __fmul_rn(det_f16_at(blk), __int2float_rn(sc));
        c.min = __fmul_rn(det_f16_at(blk + 2), __int2float_rn(mn));
    } else {
        const u8* blk = row + (b / 8) * 210;
        int t = b % 8;
        c.scale = det_f16_at(blk + 208);
        c.sc_lo = (int)(i8)blk[192 + 2 * t];
        c.sc_hi = (int)(i8)blk[192 + 2 * t + 1];
    }
    return c;
}

// Element i of a row, dequantized (SPEC.md §3.1, as reference.rs's dequantize_row).
template <int FMT> __device__ __forceinline__ float det_dequantize(const u8* row, int i) {
    if (FMT == DET_F32) return __int_as_float((int)(det_u16_at(row + 4 * i) | ((u32)det_u16_at(row + 4 * i + 2) << 16)));
    if (FMT == DET_F16) return det_f16_at(row + 2 * i);
    int b = i / 32, j = i % 32;
    DetCoef c = det_block_coef<FMT>(row, b);
    float w = __int2float_rn(det_block_int<FMT>(row, b, j));
    if (FMT == DET_Q4_1) return __fadd_rn(__fmul_rn(c.scale, w), c.min);
    if (FMT == DET_Q4_K) return __fsub_rn(__fmul_rn(c.scale, w), c.min);
    if (FMT == DET_Q6_K) return __fmul_rn(__fmul_rn(c.scale, __int2float_rn(j < 16 ? c.sc_lo : c.sc_hi)), w);
    return __fmul_rn(c.scale, w);
}
