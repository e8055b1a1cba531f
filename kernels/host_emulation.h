// Host emulation of the small CUDA subset used by kernels/*.cu, so that g++ compiles the
// same kernel files, unchanged, into a shared library that runs on the CPU:
//
//   g++ -std=c++20 -pthread -fPIC -shared -include kernels/host_emulation.h wrapper.cpp
//
// where wrapper.cpp #includes a .cu file and defines one launcher per kernel with
// GPUTRAIN_EMU_LAUNCHER(name) (tests/kernels/emulator.py writes it). The model:
//   * blocks run one after another; the threads of a block are real std::threads;
//   * __syncthreads() is a std::barrier over the block, __syncwarp() one over the warp;
//   * warp shuffles go through an exchange buffer between two warp barriers;
//   * atomicAdd is std::atomic_ref;
//   * __shared__ is a function-local static (one block at a time uses it), and dynamic
//     shared memory (GPUTRAIN_DYNAMIC_SHARED) is a per-launch buffer filled with NaN bytes;
//   * threadIdx / blockIdx / blockDim / gridDim are thread_local.
// Known limits: blocks never race each other (cross-block Hogwild is not exercised) and the
// lanes of a warp are not in lockstep (warp-synchronous code without __syncwarp breaks, as
// it does on Volta and later). A __syncthreads() that not every thread of a block reaches
// hangs the launch, as it may on a GPU: run emulated kernels under a timeout.
#ifndef GPUTRAIN_HOST_EMULATION_H
#define GPUTRAIN_HOST_EMULATION_H

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

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

inline thread_local uint3 threadIdx{0, 0, 0};
inline thread_local uint3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace emu {

constexpr unsigned kWarpSize = 32;
constexpr unsigned kMaxThreads = 1024;
constexpr std::size_t kMaxDynamicShared = 227 * 1024;  // an H100 block's opt-in maximum

struct Launch {
  unsigned threads;
  std::barrier<> block_barrier;
  std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
  std::vector<std::uint64_t> exchange;  // one slot per thread, for shuffles
  std::vector<std::max_align_t> shared;  // dynamic shared memory

  Launch(unsigned n, std::size_t shared_bytes)
      : threads(n), block_barrier(n), exchange(n),
        shared((shared_bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)) {
    for (unsigned w = 0; w * kWarpSize < n; ++w) {
      unsigned lanes = std::min(kWarpSize, n - w * kWarpSize);
      warp_barriers.emplace_back(std::make_unique<std::barrier<>>(lanes));
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
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  current->exchange[me] = bits;
  warp_sync();
  const int lane = src(static_cast<int>(me - base));
  T out = v;
  if (lane >= 0 && base + static_cast<unsigned>(lane) < current->threads) {
    std::memcpy(&out, &current->exchange[base + lane], sizeof(T));
  }
  warp_sync();  // nobody overwrites the buffer before every lane has read it
  return out;
}

// Runs `body` as a grid of blocks; returns 0, or an error code for a bad configuration.
template <class Body>
int launch(dim3 grid, dim3 block, std::size_t shared_bytes, Body body) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreads || block.z > 64) return 1;
  if (1ull * grid.x * grid.y * grid.z == 0) return 2;
  if (shared_bytes > kMaxDynamicShared) return 3;
  std::lock_guard<std::mutex> guard(launch_mutex);
  Launch state(static_cast<unsigned>(threads), shared_bytes);
  current = &state;
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
  current = nullptr;
  return 0;
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
