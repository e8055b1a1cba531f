"""The CPU emulator itself: CuPy's call shape, argument checks against the C signature,
and the CUDA features the kernels rely on (barriers, shuffles, atomics, shared memory)."""

from __future__ import annotations

import numpy as np
import pytest

# A kernel whose threads miss a barrier hangs the emulator inside a C call, where only the
# thread method of pytest-timeout can stop it.
pytestmark = pytest.mark.timeout(120, method="thread")

PROBE = r"""
__device__ __forceinline__ float lane_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
// out[block] = sum of x over the block's threads, via shuffles + shared memory.
extern "C" __global__ void block_sums(const float* x, float* out, int n) {
  __shared__ float part[32];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = lane_sum(i < n ? x[i] : 0.0f);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0.0f;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) s += part[w];
    out[blockIdx.x] = s;
  }
}
// counts[k % buckets] += 1 for k < n: every thread of the grid collides on a few slots.
extern "C" __global__ void histogram(int* counts, int buckets, int n) {
  for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += gridDim.x * blockDim.x)
    atomicAdd(&counts[k % buckets], 1);
}
"""


@pytest.fixture(scope="module")
def probe(emulator):
    return emulator.EmulatedModule(code=PROBE)


def test_block_reduction_with_shuffles_and_shared_memory(probe):
    x = np.arange(300, dtype=np.float32)
    out = np.zeros(3, np.float32)
    probe.get_function("block_sums")((3,), (128,), (x, out, np.int32(300)), shared_mem=0)
    np.testing.assert_array_equal(out, [x[:128].sum(), x[128:256].sum(), x[256:].sum()])


def test_atomic_add_counts_every_collision(probe):
    counts = np.zeros(7, np.int32)
    probe.get_function("histogram")((2,), (96,), (counts, np.int32(7), np.int32(1000)))
    np.testing.assert_array_equal(counts, np.bincount(np.arange(1000) % 7))


@pytest.mark.parametrize(
    "args,error",
    [
        ((np.zeros(7, np.int32), 7, np.int32(10)), "numpy.int32 scalar, got builtins.int"),
        ((np.zeros(7, np.int32), np.int64(7), np.int32(10)), "got numpy.int64"),
        ((np.zeros(7, np.int64), np.int32(7), np.int32(10)), "must be int32, got int64"),
        ((np.zeros((7, 2), np.int32)[:, 0], np.int32(7), np.int32(10)), "C-contiguous"),
        ((np.zeros(7, np.int32), np.int32(7)), "takes 3 arguments, got 2"),
        ((7, np.int32(7), np.int32(10)), "must be an array"),
    ],
)
def test_arguments_are_checked_against_the_signature(probe, args, error):
    with pytest.raises((TypeError, ValueError), match=None) as info:
        probe.get_function("histogram")((1,), (32,), args)
    assert error in str(info.value)


def test_bad_launch_configuration_is_refused(probe):
    counts = np.zeros(7, np.int32)
    with pytest.raises(ValueError, match="bad launch configuration"):
        probe.get_function("histogram")((1,), (2048,), (counts, np.int32(7), np.int32(1)))
    with pytest.raises(AttributeError, match="no kernel 'missing'"):
        probe.get_function("missing")


def test_kernel_signatures_are_parsed(emulator):
    params = emulator.parse_kernels(
        'extern "C" __global__ void k(const float* __restrict__ a, int n, float lr) {}'
    )["k"]
    assert [(p.name, p.dtype, p.pointer, p.const) for p in params] == [
        ("a", np.float32, True, True), ("n", np.int32, False, False),
        ("lr", np.float32, False, False)]


DIVERGENT = r"""
extern "C" __global__ void divergent(float* x) {
  if (threadIdx.x < 16) __syncthreads();  // half the block never reaches the barrier
  x[threadIdx.x] = 1.0f;
}
"""


def test_divergent_barrier_fails_the_launch(emulator):
    """Threads that wait at a barrier the others never reach: a GPU may hang; the fiber
    emulator sees that no thread can run on and fails the launch (the threaded sanitizer
    builds would hang, which is why those run under a timeout)."""
    module = emulator.EmulatedModule(code=DIVERGENT)
    with pytest.raises(RuntimeError, match="never reach"):
        module.get_function("divergent")((1,), (32,), (np.zeros(32, np.float32),))
