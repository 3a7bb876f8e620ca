// The emulation harness: the GPU kernel sources compiled as C++ under emulate.h, driven by the
// Rust tests (kernels/src/cuda_emu/). Protocol on stdin: the op name (u32 length + bytes), then
// u32 count + that many u64 parameters (parameters 0 and 1 are the grid and block size; floats
// are passed as their f32 bits), then u32 count + that many buffers (u64 length + bytes). The
// outputs go to stdout as u32 count + buffers.
#include "../emulate.h"

#include "../quant.cu"
#include "../norm.cu"
#include "../elementwise.cu"
#include "../attention.cu"
#include "probes.cu"

#include <map>
#include <string>

typedef std::vector<unsigned char> Bytes;

static void read_exact(void* out, size_t len) {
    if (len && fread(out, 1, len, stdin) != len) emu::fail("short input");
}

template <class T> static T read_value() {
    T v;
    read_exact(&v, sizeof v);
    return v;
}

template <class T> static T* at(Bytes& b) { return reinterpret_cast<T*>(b.data()); }

static Bytes zeros(size_t n) { return Bytes(n, 0); }

struct Call {
    unsigned grid, threads;
    std::vector<unsigned long long> p;
    std::vector<Bytes> in;
    int i(size_t k) const { return (int)p.at(k + 2); }
    float f(size_t k) const {
        unsigned bits = (unsigned)p.at(k + 2);
        float v;
        memcpy(&v, &bits, 4);
        return v;
    }
};

typedef std::vector<Bytes> (*Op)(Call&);

template <void (*K)(const u8*, const i8*, const float*, const i32*, float*, int, int, int)>
static std::vector<Bytes> matvec_q(Call& c) {
    int rows = c.i(0), cols = c.i(1), tokens = c.i(2);
    Bytes y = zeros(4ull * rows * tokens);
    emu::launch(K, c.grid, c.threads, (const u8*)at<u8>(c.in[0]), (const i8*)at<i8>(c.in[1]),
                (const float*)at<float>(c.in[2]), (const i32*)at<i32>(c.in[3]), at<float>(y), rows, cols, tokens);
    return {y};
}

template <void (*K)(const u8*, const float*, float*, int, int, int)> static std::vector<Bytes> matvec_f(Call& c) {
    int rows = c.i(0), cols = c.i(1), tokens = c.i(2);
    Bytes y = zeros(4ull * rows * tokens);
    emu::launch(K, c.grid, c.threads, (const u8*)at<u8>(c.in[0]), (const float*)at<float>(c.in[1]), at<float>(y),
                rows, cols, tokens);
    return {y};
}

template <void (*K)(const u8*, const i32*, float*, int, int)> static std::vector<Bytes> embed(Call& c) {
    int n = c.i(0), cols = c.i(1);
    Bytes out = zeros(4ull * n * cols);
    emu::launch(K, c.grid, c.threads, (const u8*)at<u8>(c.in[0]), (const i32*)at<i32>(c.in[1]), at<float>(out), n,
                cols);
    return {out};
}

static std::vector<Bytes> op_q8a(Call& c) {
    int blocks = c.i(0);
    Bytes q = zeros(32ull * blocks), d = zeros(4ull * blocks), s = zeros(4ull * blocks);
    emu::launch(q8a_quantize, c.grid, c.threads, (const float*)at<float>(c.in[0]), at<i8>(q), at<float>(d),
                at<i32>(s), blocks);
    return {q, d, s};
}

static std::vector<Bytes> op_rmsnorm(Call& c) {
    int tokens = c.i(0), len = c.i(1);
    Bytes y = zeros(4ull * tokens * len), bad = zeros(4ull * tokens);
    emu::launch(rmsnorm, c.grid, c.threads, (const float*)at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                at<float>(y), at<i32>(bad), tokens, len, c.f(2));
    return {y, bad};
}

static std::vector<Bytes> op_add(Call& c) {
    emu::launch(add_assign, c.grid, c.threads, at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                (int)(c.in[0].size() / 4));
    return {c.in[0]};
}

static std::vector<Bytes> op_silu_mul(Call& c) {
    emu::launch(silu_mul, c.grid, c.threads, at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                (int)(c.in[0].size() / 4));
    return {c.in[0]};
}

static std::vector<Bytes> op_rope(Call& c) {
    emu::launch(rope, c.grid, c.threads, at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                (const float*)at<float>(c.in[2]), c.i(0), c.i(1), c.i(2));
    return {c.in[0]};
}

static std::vector<Bytes> op_attention(Call& c) {
    int tokens = c.i(0), heads = c.i(1), kv_heads = c.i(2), head_dim = c.i(3), pos0 = c.i(4);
    int stride = pos0 + tokens;
    Bytes scores = zeros(4ull * tokens * heads * stride);
    Bytes out = zeros(4ull * tokens * heads * head_dim), bad = zeros(4ull * tokens * heads);
    emu::launch(attention, c.grid, c.threads, (const float*)at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                (const float*)at<float>(c.in[2]), at<float>(scores), at<float>(out), at<i32>(bad), tokens, heads,
                kv_heads, head_dim, pos0, stride, c.f(5));
    return {out, bad};
}

static std::vector<Bytes> op_probe_reduce(Call& c) {
    int rows = c.i(0), n = c.i(1);
    Bytes dot = zeros(4ull * rows), sum = zeros(4ull * rows);
    emu::launch(probe_reduce, c.grid, c.threads, (const float*)at<float>(c.in[0]), (const float*)at<float>(c.in[1]),
                at<float>(dot), at<float>(sum), rows, n);
    return {dot, sum};
}

static std::vector<Bytes> op_probe_exp(Call& c) {
    int n = (int)(c.in[0].size() / 4);
    Bytes e = zeros(4ull * n), s = zeros(4ull * n);
    emu::launch(probe_exp, c.grid, c.threads, (const float*)at<float>(c.in[0]), at<float>(e), at<float>(s), n);
    return {e, s};
}

int main() {
    const std::map<std::string, Op> ops = {
        {"q8a_quantize", op_q8a},
        {"matvec_q8_0", matvec_q<matvec_q8_0>},
        {"matvec_q4_0", matvec_q<matvec_q4_0>},
        {"matvec_q4_1", matvec_q<matvec_q4_1>},
        {"matvec_q4_k", matvec_q<matvec_q4_k>},
        {"matvec_q6_k", matvec_q<matvec_q6_k>},
        {"matvec_f32", matvec_f<matvec_f32>},
        {"matvec_f16", matvec_f<matvec_f16>},
        {"embed_f32", embed<embed_f32>},
        {"embed_f16", embed<embed_f16>},
        {"embed_q8_0", embed<embed_q8_0>},
        {"embed_q4_0", embed<embed_q4_0>},
        {"embed_q4_1", embed<embed_q4_1>},
        {"embed_q4_k", embed<embed_q4_k>},
        {"embed_q6_k", embed<embed_q6_k>},
        {"rmsnorm", op_rmsnorm},
        {"add_assign", op_add},
        {"silu_mul", op_silu_mul},
        {"rope", op_rope},
        {"attention", op_attention},
        {"probe_reduce", op_probe_reduce},
        {"probe_exp", op_probe_exp},
    };
    std::string name(read_value<unsigned>(), '\0');
    read_exact(&name[0], name.size());
    Call call;
    call.p.resize(read_value<unsigned>());
    for (auto& v : call.p) v = read_value<unsigned long long>();
    call.in.resize(read_value<unsigned>());
    for (auto& b : call.in) {
        b.resize(read_value<unsigned long long>());
        read_exact(b.data(), b.size());
    }
    auto op = ops.find(name);
    if (op == ops.end() || call.p.size() < 2) emu::fail("unknown op or missing launch geometry");
    call.grid = (unsigned)call.p[0];
    call.threads = (unsigned)call.p[1];
    std::vector<Bytes> out = op->second(call);
    unsigned count = out.size();
    fwrite(&count, 4, 1, stdout);
    for (auto& b : out) {
        unsigned long long len = b.size();
        fwrite(&len, 8, 1, stdout);
        fwrite(b.data(), 1, b.size(), stdout);
    }
    return 0;
}
