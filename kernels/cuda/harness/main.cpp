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
#include <type_traits>
#include <utility>

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

// ---- Device mode (`--serve`): the emulated device of kernels/src/cuda/emulator/ ----
// Commands on stdin, each a tag byte then little-endian fields:
//   'Z' id:u64 len:u64            a buffer of len zero bytes
//   'U' id:u64 len:u64 bytes      a buffer holding bytes
//   'F' id:u64                    frees a buffer
//   'C' src:u64 at:u64 len:u64 dst:u64 to:u64   copies bytes between buffers
//   'D' id:u64 at:u64 len:u64     answers the bytes on stdout
//   'L' name:(u32 + bytes) grid:u32 threads:u32 count:u32, then per argument a tag byte:
//       'P' id:u64 offset:u64 (a pointer into a buffer), 'I' i32, 'F' f32 bits
// Launches check the argument list against the kernel's C signature (count and kinds).

struct Arg {
    char tag;
    unsigned long long id, offset;
    int i;
    float f;
};
typedef std::vector<Arg> Args;

static std::map<unsigned long long, Bytes> buffers;

static Bytes& buffer(unsigned long long id) {
    auto b = buffers.find(id);
    if (b == buffers.end()) emu::fail("no such buffer");
    return b->second;
}

template <class T> static T convert(const Arg& a) {
    if constexpr (std::is_pointer_v<T>) {
        if (a.tag != 'P') emu::fail("a pointer parameter got a scalar");
        Bytes& b = buffer(a.id);
        if (a.offset > b.size()) emu::fail("pointer past its buffer");
        return reinterpret_cast<T>(b.data() + a.offset);
    } else if constexpr (std::is_same_v<T, int>) {
        if (a.tag != 'I') emu::fail("an int parameter got another kind");
        return a.i;
    } else {
        static_assert(std::is_same_v<T, float>, "kernel parameters are pointers, int or float");
        if (a.tag != 'F') emu::fail("a float parameter got another kind");
        return a.f;
    }
}

template <class... P, size_t... I>
static void call(void (*kernel)(P...), unsigned grid, unsigned threads, const Args& a, std::index_sequence<I...>) {
    emu::launch(kernel, grid, threads, convert<P>(a[I])...);
}

template <class... P> static void invoke(void (*kernel)(P...), unsigned grid, unsigned threads, const Args& a) {
    if (a.size() != sizeof...(P)) emu::fail("wrong number of kernel arguments");
    call(kernel, grid, threads, a, std::index_sequence_for<P...>{});
}

typedef void (*Invoker)(unsigned, unsigned, const Args&);
#define KERNEL(name) {#name, [](unsigned g, unsigned t, const Args& a) { invoke(name, g, t, a); }}

static int serve() {
    const std::map<std::string, Invoker> kernels = {
        KERNEL(q8a_quantize), KERNEL(matvec_q8_0), KERNEL(matvec_q4_0), KERNEL(matvec_q4_1),
        KERNEL(matvec_q4_k),  KERNEL(matvec_q6_k), KERNEL(matvec_f32),  KERNEL(matvec_f16),
        KERNEL(embed_f32),    KERNEL(embed_f16),   KERNEL(embed_q8_0),  KERNEL(embed_q4_0),
        KERNEL(embed_q4_1),   KERNEL(embed_q4_k),  KERNEL(embed_q6_k),  KERNEL(rmsnorm),
        KERNEL(add_assign),   KERNEL(silu_mul),    KERNEL(rope),        KERNEL(attention),
        KERNEL(probe_reduce), KERNEL(probe_exp),
    };
    typedef unsigned long long u64;
    for (int tag; (tag = getchar()) != EOF;) {
        switch (tag) {
            case 'Z': {
                u64 id = read_value<u64>();
                buffers[id] = zeros(read_value<u64>());
                break;
            }
            case 'U': {
                u64 id = read_value<u64>();
                Bytes b(read_value<u64>());
                read_exact(b.data(), b.size());
                buffers[id] = std::move(b);
                break;
            }
            case 'F':
                buffers.erase(read_value<u64>());
                break;
            case 'C': {
                u64 src = read_value<u64>(), at = read_value<u64>(), len = read_value<u64>();
                u64 dst = read_value<u64>(), to = read_value<u64>();
                Bytes &s = buffer(src), &d = buffer(dst);
                if (at + len > s.size() || to + len > d.size()) emu::fail("copy past a buffer");
                memmove(d.data() + to, s.data() + at, len);
                break;
            }
            case 'D': {
                u64 id = read_value<u64>(), at = read_value<u64>(), len = read_value<u64>();
                Bytes& b = buffer(id);
                if (at + len > b.size()) emu::fail("download past a buffer");
                fwrite(b.data() + at, 1, len, stdout);
                fflush(stdout);
                break;
            }
            case 'L': {
                std::string name(read_value<unsigned>(), '\0');
                read_exact(&name[0], name.size());
                unsigned grid = read_value<unsigned>(), threads = read_value<unsigned>();
                Args args(read_value<unsigned>());
                for (auto& a : args) {
                    a.tag = (char)getchar();
                    if (a.tag == 'P') {
                        a.id = read_value<u64>();
                        a.offset = read_value<u64>();
                    } else if (a.tag == 'I') {
                        a.i = read_value<int>();
                    } else if (a.tag == 'F') {
                        a.f = read_value<float>();
                    } else {
                        emu::fail("unknown argument kind");
                    }
                }
                auto k = kernels.find(name);
                if (k == kernels.end()) emu::fail("unknown kernel");
                k->second(grid, threads, args);
                break;
            }
            default:
                emu::fail("unknown command");
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--serve") return serve();
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
