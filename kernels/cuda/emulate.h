// Runs CUDA kernel bodies on the CPU, sequentially and faithfully, so that the same sources
// NVRTC compiles for the GPU can be checked bit for bit against the Rust reference on machines
// without one (kernels/src/cuda/emulator/).
//
// Every thread of a block is a coroutine with its own stack (started with ucontext, switched
// with _setjmp/_longjmp, which save no signal mask: no system call per switch; the coroutines
// are made once per block size and run block after block). A scheduler resumes the runnable
// threads in one of four orders (see the schedules below); a thread runs until it reaches a
// synchronization point and then yields:
//   - __syncthreads(): waits until every live thread of the block has arrived;
//   - __syncwarp(): waits until every lane of the warp has arrived;
//   - warp shuffles: each lane publishes its value, waits for all 32 lanes of its warp, reads its
//     source lane's value, and waits again (so no lane overwrites a value another still needs).
// Shuffles must be called by full warps with the full mask, as on the GPU; a deadlock or a
// shuffle with exited lanes aborts. Blocks of the grid run one after another. Shared memory is
// a function-local static (one block at a time runs). Float intrinsics map to the correctly
// rounded C operations; compile with -ffp-contract=off so nothing is fused or reordered.
//
// Hazard detection (what a sequential run would otherwise hide):
//   - the order in which runnable threads are resumed between synchronization points changes
//     from block to block and launch to launch: threads in index order, in reverse order, and
//     warp by warp (each warp runs on alone, through its own shuffles, until it waits at a
//     __syncthreads or ends; warps and lanes ascending, then both descending), and the blocks of every other
//     launch run last to first. A missing __syncthreads or __syncwarp, or a block reading
//     another's output, then gives other bits than the reference. DET_EMU_SCHEDULE=forward|
//     reverse|warps|warps-reverse pins one order for every block;
//   - __shared__ memory is filled with 0xff bytes (NaN, −1) when each block starts, so a read
//     before any write, or of a previous block's values, shows;
//   - the threads released by a __syncthreads must all wait at the same one (same source line)
//     and none may have exited; the lanes released by a shuffle must all be at the same one.
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

// CUDA's built-in vector type for 16-byte loads.
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

namespace emu {

enum class State { Runnable, BlockBarrier, WarpBarrier, Done };

struct Thread {
    ucontext_t start;  // where a new coroutine begins (the trampoline)
    jmp_buf resume;    // where a started one goes on
    bool started;
    State state;
    std::vector<char> stack;
    // The synchronization point it waits at (file and line of the call).
    const char* site_file = nullptr;
    unsigned site_line = 0;
};

// Orders in which the scheduler resumes runnable threads (see the header comment).
enum class Schedule { Forward, Reverse, Warps, WarpsReverse };
constexpr unsigned SCHEDULES = 4;

struct Block {
    std::vector<Thread> threads;
    std::vector<unsigned long long> slots;
    jmp_buf scheduler_resume;
    unsigned current = 0;
    const std::function<void()>* body = nullptr;
};

inline Block block;
inline dim3 thread_idx, block_idx, block_dim, grid_dim;
inline unsigned long long launches = 0;

// DET_EMU_SCHEDULE pins one schedule; -1 (unset) rotates them block by block.
inline int pinned_schedule() {
    static const int pinned = [] {
        const char* s = getenv("DET_EMU_SCHEDULE");
        if (!s || !*s || !strcmp(s, "rotate")) return -1;
        if (!strcmp(s, "forward")) return (int)Schedule::Forward;
        if (!strcmp(s, "reverse")) return (int)Schedule::Reverse;
        if (!strcmp(s, "warps")) return (int)Schedule::Warps;
        if (!strcmp(s, "warps-reverse")) return (int)Schedule::WarpsReverse;
        fprintf(stderr, "emulator: unknown DET_EMU_SCHEDULE `%s`\n", s);
        abort();
    }();
    return pinned;
}

// __shared__ variables live in one section, poisoned when each block starts (weak: a program
// without shared memory has no such section).
extern "C" __attribute__((weak)) char __start_emu_shared[];
extern "C" __attribute__((weak)) char __stop_emu_shared[];

[[noreturn]] inline void fail(const char* what) {
    fprintf(stderr, "emulator: %s (block %u, thread %u)\n", what, block_idx.x, block.current);
    abort();
}

// Switches from the current thread to the scheduler; returns when the thread is resumed.
inline void yield(State state, const char* file = nullptr, unsigned line = 0) {
    Thread& t = block.threads[block.current];
    t.state = state;
    t.site_file = file;
    t.site_line = line;
    if (!_setjmp(t.resume)) _longjmp(block.scheduler_resume, 1);
}

// A coroutine's life: the kernel body once per block it is resumed for.
inline void trampoline() {
    for (;;) {
        (*block.body)();
        yield(State::Done);
    }
}

// Whether two waiting threads wait at the same barrier or shuffle.
inline bool same_site(const Thread& a, const Thread& b) {
    return a.site_line == b.site_line && (a.site_file == b.site_file || !strcmp(a.site_file, b.site_file));
}

// Releases warp `w` (its first thread) when all its lanes wait at the same shuffle.
inline bool release_warp(unsigned w) {
    unsigned waiting = 0, done = 0;
    for (unsigned i = w; i < w + 32; ++i) {
        waiting += block.threads[i].state == State::WarpBarrier;
        done += block.threads[i].state == State::Done;
    }
    if (waiting == 32) {
        for (unsigned i = w + 1; i < w + 32; ++i)
            if (!same_site(block.threads[i], block.threads[w])) {
                block.current = i;
                fail("lanes of a warp wait at different shuffles (divergent shuffle)");
            }
        for (unsigned i = w; i < w + 32; ++i) block.threads[i].state = State::Runnable;
        return true;
    }
    if (waiting > 0 && waiting + done == 32) fail("warp shuffle with exited lanes");
    return false;
}

// Releases the threads that may go on; false when none can (a deadlock).
inline bool release() {
    unsigned n = block.threads.size(), live = 0, at_barrier = 0;
    const Thread* first = nullptr;
    for (auto& t : block.threads) {
        live += t.state != State::Done;
        at_barrier += t.state == State::BlockBarrier;
        if (!first && t.state == State::BlockBarrier) first = &t;
    }
    if (at_barrier > 0 && at_barrier == live) {
        if (live != n) fail("__syncthreads after some threads of the block exited");
        for (unsigned i = 0; i < n; ++i)
            if (!same_site(block.threads[i], *first)) {
                block.current = i;
                fail("threads of a block wait at different __syncthreads (divergent barrier)");
            }
        for (auto& t : block.threads)
            if (t.state == State::BlockBarrier) t.state = State::Runnable;
        return true;
    }
    bool released = false;
    for (unsigned w = 0; w < n; w += 32) released |= release_warp(w);
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
    char *shared = __start_emu_shared, *shared_end = __stop_emu_shared;
    if (shared && shared_end > shared) memset(shared, 0xff, (size_t)(shared_end - shared));
    int pinned = pinned_schedule();
    Schedule schedule = (Schedule)(pinned >= 0 ? (unsigned)pinned : (unsigned)((launches + block_idx.x) % SCHEDULES));
    auto run = [&](unsigned i) {
        if (block.threads[i].state != State::Runnable) return false;
        block.current = i;
        thread_idx = dim3{i, 0, 0};
        resume(block.threads[i]);
        return true;
    };
    for (;;) {
        switch (schedule) {
            case Schedule::Forward:
                for (unsigned i = 0; i < threads; ++i) run(i);
                break;
            case Schedule::Reverse:
                for (unsigned i = threads; i-- > 0;) run(i);
                break;
            case Schedule::Warps:
            case Schedule::WarpsReverse:
                // Each warp alone, through its shuffles, until it waits for the block or ends.
                for (unsigned k = 0; k < threads / 32; ++k) {
                    unsigned w = 32 * (schedule == Schedule::Warps ? k : threads / 32 - 1 - k);
                    for (;;) {
                        bool ran = false;
                        // Lanes too run in reverse in the reverse order (a lane reading what
                        // another wrote without a __syncwarp or shuffle between shows).
                        for (unsigned l = 0; l < 32; ++l)
                            ran |= run(schedule == Schedule::Warps ? w + l : w + 31 - l);
                        if (!ran || !release_warp(w)) break;
                    }
                }
                break;
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
    // Every other launch runs its blocks last to first (a block must not see another's work).
    bool backwards = launches % 2 == 1;
    for (unsigned k = 0; k < grid; ++k) {
        block_idx = dim3{backwards ? grid - 1 - k : k, 0, 0};
        run_block(threads, body);
    }
    ++launches;
}

template <class T> T exchange(unsigned mask, T v, unsigned src_lane, const char* file, unsigned line) {
    static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffled type too wide");
    if (mask != 0xffffffffu) fail("only full-warp shuffles are emulated");
    unsigned me = block.current;
    unsigned long long bits = 0;
    memcpy(&bits, &v, sizeof(T));
    block.slots[me] = bits;
    yield(State::WarpBarrier, file, line);
    bits = block.slots[(me & ~31u) | (src_lane & 31u)];
    yield(State::WarpBarrier, file, line);
    T out;
    memcpy(&out, &bits, sizeof(T));
    return out;
}

}  // namespace emu

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static __attribute__((section("emu_shared")))
#define threadIdx (emu::thread_idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

// The call site (file, line) names the barrier or shuffle, so that divergent ones show.
inline void __syncthreads(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
    emu::yield(emu::State::BlockBarrier, file, line);
}

// A warp barrier: every lane of the warp waits here (full mask only, as the kernels use it).
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       unsigned line = __builtin_LINE()) {
    if (mask != 0xffffffffu) emu::fail("only full-warp __syncwarp is emulated");
    emu::yield(emu::State::WarpBarrier, file, line);
}

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, const char* file = __builtin_FILE(),
                  unsigned line = __builtin_LINE()) {
    return emu::exchange(mask, v, (emu::block.current & 31u) ^ (unsigned)lane_mask, file, line);
}

template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, const char* file = __builtin_FILE(),
              unsigned line = __builtin_LINE()) {
    return emu::exchange(mask, v, (unsigned)src_lane, file, line);
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
