// The emulated CUDA device (kernels/src/cuda/emulator/): the GPU kernel sources compiled as C++
// under emulate.h, in a process that holds the device memory and runs launches in order.
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

int main() {
    const std::map<std::string, Invoker> kernels = {
        KERNEL(q8a_quantize), KERNEL(matvec_q8_0), KERNEL(matvec_q4_0), KERNEL(matvec_q4_1),
        KERNEL(matvec_q4_k),  KERNEL(matvec_q6_k), KERNEL(matvec_f32),  KERNEL(matvec_f16),
        KERNEL(matmul_q8_0),  KERNEL(matmul_q4_0), KERNEL(matmul_q4_1),  KERNEL(matmul_q4_k),
        KERNEL(matmul_q6_k),
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
                buffers[id] = Bytes(read_value<u64>(), 0);
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

