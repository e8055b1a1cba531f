// Host emulation of the small CUDA subset used by kernels/*.cu, so that g++ compiles the
// same kernel files, unchanged, into a shared library that runs on the CPU:
//
//   g++ -std=c++20 -pthread -fPIC -shared -include kernels/host_emulation.h wrapper.cpp
//
// where wrapper.cpp #includes a .cu file and defines one launcher per kernel with
// GPUTRAIN_EMU_LAUNCHER(name) (tests/kernels/emulator.py writes it). The model:
//   * blocks run one after another; the threads of a block are fibers (coroutines with
//     their own stacks, switched at barriers, on the launching thread), or real
//     std::threads when GPUTRAIN_EMU_THREADS is defined (the sanitizer builds);
//   * __syncthreads() is a barrier over the block, __syncwarp() one over the warp;
//   * warp shuffles go through a double-buffered exchange buffer, one warp barrier each;
//   * atomicAdd is std::atomic_ref;
//   * __shared__ is a function-local static (one block at a time uses it), and dynamic
//     shared memory (GPUTRAIN_DYNAMIC_SHARED) is a per-launch buffer filled with NaN bytes;
//   * threadIdx / blockIdx / blockDim / gridDim are thread_local.
// Known limits: blocks never race each other (cross-block Hogwild is not exercised) and the
// lanes of a warp are not in lockstep (warp-synchronous code without __syncwarp breaks, as
// it does on Volta and later). A __syncthreads() that not every thread of a block reaches
// fails the launch (fibers; error code 4) or hangs it (threads, as it may on a GPU: run
// those under a timeout).
#ifndef GPUTRAIN_HOST_EMULATION_H
#define GPUTRAIN_HOST_EMULATION_H

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
#if !defined(GPUTRAIN_EMU_THREADS) && !defined(__x86_64__)
#include <ucontext.h>
#endif

#define __global__
#define __device__ static
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __shared__ static
// A kernel file declares its dynamic shared memory through this hook (its own fallback
// definition is `extern __shared__ T name[]`); here it is the launch's buffer.
#define GPUTRAIN_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(emu::dynamic_shared())

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// Per thread with real threads; plain globals with fibers (launches are serialized and a
// fiber switch sets threadIdx), which spares a TLS lookup on every use.
#if defined(GPUTRAIN_EMU_THREADS)
#define GPUTRAIN_EMU_TLS thread_local
#else
#define GPUTRAIN_EMU_TLS
#endif
inline GPUTRAIN_EMU_TLS uint3 threadIdx{0, 0, 0};
inline GPUTRAIN_EMU_TLS uint3 blockIdx{0, 0, 0};
inline GPUTRAIN_EMU_TLS dim3 blockDim;
inline GPUTRAIN_EMU_TLS dim3 gridDim;

namespace emu {

constexpr unsigned kWarpSize = 32;
constexpr unsigned kMaxThreads = 1024;
constexpr std::size_t kMaxDynamicShared = 227 * 1024;  // an H100 block's opt-in maximum

#if defined(GPUTRAIN_EMU_THREADS)
// -- Threads: every thread of a block is a std::thread (the sanitizer builds: ThreadSanitizer
// sees real concurrency between them).
struct Barrier {
  std::barrier<> b;
  explicit Barrier(unsigned n) : b(static_cast<std::ptrdiff_t>(n)) {}
  void arrive_and_wait() { b.arrive_and_wait(); }
};
#else
// -- Fibers: the threads of a block are coroutines with their own stacks on the launching
// OS thread, switched at barriers (a few nanoseconds where OS threads take microseconds).
// Round-robin, each runs until it waits at a barrier or ends; a barrier that not every
// thread of the block reaches ends the launch with an error instead of hanging.
#if defined(__x86_64__)
struct Context {
  void* sp = nullptr;
};
// Saves the callee-saved registers on the current stack, stores its pointer in *save and
// resumes the stack `load` (System V x86-64: rbx, rbp, r12-r15; no callee-saved vectors).
__attribute__((naked, noinline)) inline void switch_stack(void** /*save*/, void* /*load*/) {
  asm("pushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n\t"
      "movq %rsp, (%rdi)\n\tmovq %rsi, %rsp\n\t"
      "popq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n\tret");
}
inline void init_context(Context& c, char* stack, std::size_t size, void (*entry)()) {
  auto top = reinterpret_cast<std::uintptr_t>(stack + size) & ~std::uintptr_t{15};
  auto* sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                          // fake return address: entry starts "called"
  *--sp = reinterpret_cast<void*>(entry);   // where switch_stack's ret goes
  for (int i = 0; i < 6; ++i) *--sp = nullptr;  // rbp rbx r12-r15
  c.sp = sp;
}
inline void switch_context(Context& from, Context& to) { switch_stack(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc;
};
inline void init_context(Context& c, char* stack, std::size_t size, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
}
inline void switch_context(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

constexpr std::size_t kFiberStack = 128 * 1024;

struct Fiber {
  Context ctx;
  std::unique_ptr<char[]> stack;
  uint3 idx{0, 0, 0};
  bool done = false;
  const unsigned* wait_on = nullptr;  // a barrier's generation counter, while waiting
  unsigned wait_gen = 0;
};

struct Scheduler {
  static constexpr unsigned kNone = ~0u;
  Context main;
  std::vector<Fiber> fibers;  // grows, never shrinks: stacks are reused across launches
  unsigned count = 0;
  unsigned running = 0;
  unsigned left = 0;  // fibers of this block not finished
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;

  static void entry();

  bool runnable(unsigned t) const {
    const Fiber& f = fibers[t];
    return !f.done && !(f.wait_on && *f.wait_on == f.wait_gen);
  }

  // The next fiber to run after `running`: its own warp first (round-robin), so a warp's
  // shuffles run back to back on hot stacks, then the other warps in order.
  unsigned next() const {
    const unsigned w0 = running - running % kWarpSize;
    const unsigned lanes = std::min(kWarpSize, count - w0);
    for (unsigned i = 1; i <= lanes; ++i) {
      const unsigned t = w0 + (running - w0 + i) % lanes;
      if (runnable(t)) return t;
    }
    for (unsigned i = 1; i < count; ++i) {
      const unsigned t = (w0 + lanes - 1 + i) % count;
      if (t - w0 >= lanes && runnable(t)) return t;
    }
    return kNone;
  }

  // Leaves fiber `me` for the next runnable one, or for the launcher when there is none
  // (every fiber done, or the rest stuck at a barrier).
  void leave(Fiber& me) {
    const unsigned t = left ? next() : kNone;
    if (t == kNone) {
      switch_context(me.ctx, main);
      return;
    }
    Fiber& f = fibers[t];
    f.wait_on = nullptr;
    running = t;
    threadIdx = f.idx;
    switch_context(me.ctx, f.ctx);
  }

  // Runs one block; 0, or 4 when threads wait at a barrier the others never reach.
  int run_block(dim3 block) {
    for (unsigned t = 0; t < count; ++t) {
      Fiber& f = fibers[t];
      if (!f.stack) f.stack.reset(new char[kFiberStack]);
      f.idx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      f.done = false;
      f.wait_on = nullptr;
      init_context(f.ctx, f.stack.get(), kFiberStack, &Scheduler::entry);
    }
    left = count;
    running = 0;
    threadIdx = fibers[0].idx;
    switch_context(main, fibers[0].ctx);
    return left ? 4 : 0;
  }

  void wait(const unsigned* generation) {
    Fiber& me = fibers[running];
    me.wait_on = generation;
    me.wait_gen = *generation;
    leave(me);
  }
};

inline Scheduler scheduler;  // launches are serialized (launch_mutex)

inline void Scheduler::entry() {
  scheduler.fn(scheduler.arg);
  Fiber& me = scheduler.fibers[scheduler.running];
  me.done = true;
  --scheduler.left;
  scheduler.leave(me);
  std::abort();  // a finished fiber is never resumed
}

struct Barrier {
  unsigned expected, arrived = 0, generation = 0;
  explicit Barrier(unsigned n) : expected(n) {}
  void arrive_and_wait() {
    if (++arrived == expected) {  // the last one releases the others and runs on
      arrived = 0;
      ++generation;
      return;
    }
    scheduler.wait(&generation);
  }
};
#endif

struct Launch {
  unsigned threads;
  Barrier block_barrier;
  std::vector<std::unique_ptr<Barrier>> warp_barriers;
  // Shuffles: two slots per thread, used alternately (a lane can only write a slot again
  // after the whole warp passed the barrier of the shuffle in between, so each shuffle
  // needs one barrier, not two).
  std::vector<std::uint64_t> exchange;
  std::vector<unsigned char> parity;
  std::vector<std::max_align_t> shared;  // dynamic shared memory

  Launch(unsigned n, std::size_t shared_bytes)
      : threads(n), block_barrier(n), exchange(2 * std::size_t{n}), parity(n),
        shared((shared_bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)) {
    for (unsigned w = 0; w * kWarpSize < n; ++w) {
      unsigned lanes = std::min(kWarpSize, n - w * kWarpSize);
      warp_barriers.emplace_back(std::make_unique<Barrier>(lanes));
    }
    std::memset(shared.data(), 0xff, shared.size() * sizeof(std::max_align_t));  // NaN
  }
};

inline Launch* current = nullptr;  // set while a launch runs (launches are serialized)
inline std::mutex launch_mutex;

inline unsigned linear_thread() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

inline void* dynamic_shared() { return current->shared.data(); }

inline void warp_sync() { current->warp_barriers[linear_thread() / kWarpSize]->arrive_and_wait(); }

// Value of `v` held by lane `src(lane)` of this warp; `src` returns -1 to keep one's own.
template <class T, class Src>
T shuffle(T v, Src src) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>);
  const unsigned me = linear_thread();
  const unsigned base = me - me % kWarpSize;
  const std::size_t half = current->parity[me] ? current->threads : 0;
  current->parity[me] ^= 1;
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  current->exchange[half + me] = bits;
  warp_sync();
  const int lane = src(static_cast<int>(me - base));
  T out = v;
  if (lane >= 0 && base + static_cast<unsigned>(lane) < current->threads) {
    std::memcpy(&out, &current->exchange[half + base + lane], sizeof(T));
  }
  return out;
}

inline int check_config(dim3 grid, dim3 block, std::size_t shared_bytes) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreads || block.z > 64) return 1;
  if (1ull * grid.x * grid.y * grid.z == 0) return 2;
  if (shared_bytes > kMaxDynamicShared) return 3;
  return 0;
}

#if defined(GPUTRAIN_EMU_THREADS)
// The grid's blocks in turn, each thread of a block a std::thread for the whole grid.
template <class Body>
int run_grid(dim3 grid, dim3 block, unsigned threads, Body& body) {
  std::barrier<> block_done(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      blockDim = block;
      gridDim = grid;
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            blockIdx = uint3{bx, by, bz};
            body();
            block_done.arrive_and_wait();  // the next block starts when this one is over
          }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
#else
template <class Body>
void call_body(void* body) {
  (*static_cast<Body*>(body))();
}

// The grid's blocks in turn, each block's threads fibers; 4 when threads of a block wait
// at a barrier the others never reach.
template <class Body>
int run_grid(dim3 grid, dim3 block, unsigned threads, Body& body) {
  Scheduler& s = scheduler;
  if (s.fibers.size() < threads) s.fibers.resize(threads);
  s.count = threads;
  s.fn = &call_body<Body>;
  s.arg = &body;
  blockDim = block;
  gridDim = grid;
  int code = 0;
  for (unsigned bz = 0; bz < grid.z && !code; ++bz)
    for (unsigned by = 0; by < grid.y && !code; ++by)
      for (unsigned bx = 0; bx < grid.x && !code; ++bx) {
        blockIdx = uint3{bx, by, bz};
        code = s.run_block(block);
      }
  return code;
}
#endif

// Runs `body` as a grid of blocks; returns 0, or an error code (1-3: a bad configuration,
// 4: a barrier some threads of a block never reached, with fibers).
template <class Body>
int launch(dim3 grid, dim3 block, std::size_t shared_bytes, Body body) {
  if (int bad = check_config(grid, block, shared_bytes)) return bad;
  const unsigned threads = block.x * block.y * block.z;
  std::lock_guard<std::mutex> guard(launch_mutex);
  Launch state(threads, shared_bytes);
  current = &state;
  const int code = run_grid(grid, block, threads, body);
  current = nullptr;
  return code;
}

// Calls kernel f with its arguments read from args[i] (cuLaunchKernel's convention).
template <class... P, std::size_t... I>
void call(void (*f)(P...), void** args, std::index_sequence<I...>) {
  f(*static_cast<std::remove_cv_t<std::remove_reference_t<P>>*>(args[I])...);
}

template <class... P>
int launch_kernel(void (*f)(P...), const unsigned* cfg, std::size_t shared_bytes, void** args) {
  return launch(dim3(cfg[0], cfg[1], cfg[2]), dim3(cfg[3], cfg[4], cfg[5]), shared_bytes,
                [f, args] { call(f, args, std::index_sequence_for<P...>{}); });
}

}  // namespace emu

// extern "C" int emu_launch_<kernel>(const unsigned cfg[6], size_t shared, void** args)
#define GPUTRAIN_EMU_LAUNCHER(kernel)                                                 \
  extern "C" int emu_launch_##kernel(const unsigned* cfg, std::size_t shared_bytes, \
                                     void** args) {                                 \
    return emu::launch_kernel(&kernel, cfg, shared_bytes, args);                   \
  }

inline void __syncthreads() { emu::current->block_barrier.arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_sync(); }

template <class T>
T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  return emu::shuffle(v, [&](int lane) { return lane - lane % width + src_lane % width; });
}

template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  return emu::shuffle(v, [&](int lane) {
    return lane % width + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : -1;
  });
}

template <class T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  return emu::shuffle(v, [&](int lane) {
    int src = lane ^ mask;
    return src / width == lane / width ? src : -1;
  });
}

template <class T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }

#endif  // GPUTRAIN_HOST_EMULATION_H
