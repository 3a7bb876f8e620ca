// Runs CUDA kernel bodies on the CPU, sequentially and faithfully, so that the same sources
// NVRTC compiles for the GPU can be checked bit for bit against the Rust reference on machines
// without one (kernels/src/cuda/emulator/).
//
// Every thread of a block is a coroutine with its own stack (started with ucontext, switched
// with _setjmp/_longjmp, which save no signal mask: no system call per switch; the coroutines
// are made once per block size and run block after block). A scheduler resumes the runnable
// threads in index order; a thread runs until it reaches a synchronization point and then
// yields:
//   - __syncthreads(): waits until every live thread of the block has arrived;
//   - warp shuffles: each lane publishes its value, waits for all 32 lanes of its warp, reads its
//     source lane's value, and waits again (so no lane overwrites a value another still needs).
// Shuffles must be called by full warps with the full mask, as on the GPU; a deadlock or a
// shuffle with exited lanes aborts. Blocks of the grid run one after another. Shared memory is
// a function-local static (one block at a time runs). Float intrinsics map to the correctly
// rounded C operations; compile with -ffp-contract=off so nothing is fused or reordered.
#pragma once

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <functional>
#include <vector>

struct dim3 {
    unsigned x, y, z;
};

namespace emu {

enum class State { Runnable, BlockBarrier, WarpBarrier, Done };

struct Thread {
    ucontext_t start;  // where a new coroutine begins (the trampoline)
    jmp_buf resume;    // where a started one goes on
    bool started;
    State state;
    std::vector<char> stack;
};

struct Block {
    std::vector<Thread> threads;
    std::vector<unsigned long long> slots;
    jmp_buf scheduler_resume;
    unsigned current = 0;
    const std::function<void()>* body = nullptr;
};

inline Block block;
inline dim3 thread_idx, block_idx, block_dim, grid_dim;

[[noreturn]] inline void fail(const char* what) {
    fprintf(stderr, "emulator: %s (block %u, thread %u)\n", what, block_idx.x, block.current);
    abort();
}

// Switches from the current thread to the scheduler; returns when the thread is resumed.
inline void yield(State state) {
    Thread& t = block.threads[block.current];
    t.state = state;
    if (!_setjmp(t.resume)) _longjmp(block.scheduler_resume, 1);
}

// A coroutine's life: the kernel body once per block it is resumed for.
inline void trampoline() {
    for (;;) {
        (*block.body)();
        yield(State::Done);
    }
}

// Releases the threads that may go on; false when none can (a deadlock).
inline bool release() {
    unsigned n = block.threads.size(), live = 0, at_barrier = 0;
    for (auto& t : block.threads) {
        live += t.state != State::Done;
        at_barrier += t.state == State::BlockBarrier;
    }
    if (at_barrier > 0 && at_barrier == live) {
        for (auto& t : block.threads)
            if (t.state == State::BlockBarrier) t.state = State::Runnable;
        return true;
    }
    bool released = false;
    for (unsigned w = 0; w < n; w += 32) {
        unsigned waiting = 0, done = 0;
        for (unsigned i = w; i < w + 32; ++i) {
            waiting += block.threads[i].state == State::WarpBarrier;
            done += block.threads[i].state == State::Done;
        }
        if (waiting == 32) {
            for (unsigned i = w; i < w + 32; ++i) block.threads[i].state = State::Runnable;
            released = true;
        } else if (waiting > 0 && waiting + done == 32) {
            fail("warp shuffle with exited lanes");
        }
    }
    return released;
}

constexpr size_t STACK_BYTES = 256 * 1024;

// Runs `t` until it yields (its own frame, so nothing of the caller's lives across the jumps).
[[gnu::noinline]] inline void resume(Thread& t) {
    if (_setjmp(block.scheduler_resume)) return;
    if (t.started) _longjmp(t.resume, 1);
    t.started = true;
    setcontext(&t.start);
}

inline void run_block(unsigned threads, const std::function<void()>& body) {
    if (threads == 0 || threads % 32 != 0 || threads > 1024) fail("block size must be 32·k ≤ 1024");
    if (block.threads.size() != threads) {
        block.threads = std::vector<Thread>(threads);
        for (auto& t : block.threads) {
            t.stack.resize(STACK_BYTES);
            getcontext(&t.start);
            t.start.uc_stack.ss_sp = t.stack.data();
            t.start.uc_stack.ss_size = t.stack.size();
            t.start.uc_link = nullptr;
            makecontext(&t.start, trampoline, 0);
            t.started = false;
        }
    }
    for (auto& t : block.threads) t.state = State::Runnable;
    block.slots.assign(threads, 0);
    block.body = &body;
    for (;;) {
        for (unsigned i = 0; i < threads; ++i) {
            if (block.threads[i].state != State::Runnable) continue;
            block.current = i;
            thread_idx = dim3{i, 0, 0};
            resume(block.threads[i]);
        }
        bool all_done = true;
        for (auto& t : block.threads) all_done &= t.state == State::Done;
        if (all_done) return;
        if (!release()) fail("deadlock: threads wait on barriers that can never complete");
    }
}

// Launches `kernel` on a 1-D grid of `grid` blocks of `threads` threads.
template <class... P, class... A>
void launch(void (*kernel)(P...), unsigned grid, unsigned threads, A... args) {
    grid_dim = dim3{grid, 1, 1};
    block_dim = dim3{threads, 1, 1};
    std::function<void()> body = [&] { kernel(args...); };
    for (unsigned b = 0; b < grid; ++b) {
        block_idx = dim3{b, 0, 0};
        run_block(threads, body);
    }
}

template <class T> T exchange(unsigned mask, T v, unsigned src_lane) {
    static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffled type too wide");
    if (mask != 0xffffffffu) fail("only full-warp shuffles are emulated");
    unsigned me = block.current;
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    block.slots[me] = bits;
    yield(State::WarpBarrier);
    bits = block.slots[(me & ~31u) | (src_lane & 31u)];
    yield(State::WarpBarrier);
    T out;
    memcpy(&out, &bits, sizeof(T));
    return out;
}

}  // namespace emu

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define threadIdx (emu::thread_idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

inline void __syncthreads() { emu::yield(emu::State::BlockBarrier); }

template <class T> T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    return emu::exchange(mask, v, (emu::block.current & 31u) ^ (unsigned)lane_mask);
}

template <class T> T __shfl_sync(unsigned mask, T v, int src_lane) {
    return emu::exchange(mask, v, (unsigned)src_lane);
}

inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __int2float_rn(int i) { return (float)i; }

inline float __int_as_float(int i) {
    float f;
    memcpy(&f, &i, 4);
    return f;
}

inline int __float_as_int(float f) {
    int i;
    memcpy(&i, &f, 4);
    return i;
}

// Σ of the four signed byte products, plus c (exact).
inline int __dp4a(int a, int b, int c) {
    for (int k = 0; k < 4; ++k) c += (int)(signed char)(a >> (8 * k)) * (int)(signed char)(b >> (8 * k));
    return c;
}
