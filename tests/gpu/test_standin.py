"""What the CuPy stand-in (tests/standin) refuses and counts, so that the GPU code path
tested on it fails where it would fail on CuPy. The refusals hold on CuPy too; device
mix-ups and counters are checked on the stand-in only (a GPU with peer access allows the
first, and has no counters)."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain import backend, kernels

pytestmark = pytest.mark.gpu

ADD_ONE = r"""
extern "C" __global__ void add_one(float* x, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    x[i] += 1.0f;
}
"""


@pytest.fixture
def cp():
    return backend.cupy_module()


def test_device_arrays_refuse_implicit_host_conversion_and_host_operands(cp):
    a = cp.arange(4, dtype=np.float32)
    assert not isinstance(a, np.ndarray)
    with pytest.raises(TypeError):
        np.asarray(a)
    with pytest.raises(TypeError):
        a + np.ones(4, np.float32)
    with pytest.raises(TypeError):
        np.ones(4, np.float32) * a
    np.testing.assert_array_equal(cp.asnumpy(a + 1), [1, 2, 3, 4])
    assert float(a.sum()) == 6.0


def test_raw_kernel_checks_its_arguments(cp):
    kernel = cp.RawKernel(ADD_ONE, "add_one")
    x = cp.zeros(100, dtype=np.float32)
    kernel((2,), (32,), (x, np.int32(100)))
    np.testing.assert_array_equal(cp.asnumpy(x), 1.0)
    with pytest.raises(TypeError):
        kernel((1,), (32,), (np.zeros(100, np.float32), np.int32(100)))  # a host array
    if getattr(cp, "standin", None) is None:
        return  # CuPy passes raw pointers: the C signature checks are the emulator's
    with pytest.raises(TypeError, match="float32"):
        kernel((1,), (32,), (cp.zeros(100, dtype=np.float64), np.int32(100)))
    with pytest.raises(TypeError, match="int32"):
        kernel((1,), (32,), (x, 100))  # CuPy would pass 8 bytes for a Python int
    with pytest.raises(ValueError, match="contiguous"):
        kernel((1,), (32,), (x[::2], np.int32(50)))


def test_gputrain_kernels_refuse_what_the_raw_kernels_would_misread(cp):
    x = cp.zeros((8, 4), dtype=np.float32)
    with pytest.raises(Exception, match="C-contiguous"):
        kernels.sigmoid_bce_forward(x.T, x.T)
    with pytest.raises(Exception, match="float32"):
        kernels.sigmoid_bce_forward(x.astype(np.float64), x.astype(np.float64))


@pytest.fixture
def standin(cp):
    if getattr(cp, "standin", None) is None:
        pytest.skip("checked on the CuPy stand-in only")
    return cp.standin


def test_arrays_remember_their_device_and_ops_run_on_the_current_one(cp, standin):
    assert cp.cuda.runtime.getDeviceCount() >= 2
    with cp.cuda.Device(1):
        a = cp.ones(3, dtype=np.float32)
        assert cp.cuda.runtime.getDevice() == 1
    assert a.device.id == 1 and cp.cuda.runtime.getDevice() == 0
    with pytest.raises(ValueError, match="different from the current device"):
        a + 1  # device 0 is current
    b = cp.zeros(3, dtype=np.float32)
    with cp.cuda.Device(1), pytest.raises(ValueError, match="different from the current"):
        a + b
    with cp.cuda.Device(1):
        np.testing.assert_array_equal(cp.asnumpy(a * 2), 2.0)
        assert cp.asarray(b) is b  # asarray does not move an array across devices
        assert cp.array(b).device.id == 1  # a copy is made on the current device


def test_kernel_launch_with_arrays_of_another_device_fails(cp, standin):
    kernel = cp.RawKernel(ADD_ONE, "add_one")
    with cp.cuda.Device(1):
        x = cp.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="lives on device 1"):
        kernel((1,), (32,), (x, np.int32(10)))
    with cp.cuda.Device(1):
        kernel((1,), (32,), (x, np.int32(10)))
    with pytest.raises(Exception, match="invalid device ordinal"):
        with cp.cuda.Device(standin.device_count()):
            pass


def test_counters_see_launches_transfers_and_syncs(cp, standin_counters):
    c = standin_counters
    x = cp.asarray(np.ones((4, 8), np.float32))
    assert (c.h2d_bytes, c.launches, c.syncs) == (128, 0, 0)
    y = (x * 2 + 1).sum(axis=1)
    assert c.launches == 3 and c.syncs == 0
    kernels.sigmoid_bce_forward(x, x)
    assert c.raw_launches == 1 and c.kernels["sigmoid_bce_forward"] == 1
    host = cp.asnumpy(y)
    assert c.d2h_bytes == host.nbytes and c.syncs == 1
    float(y[0])
    y[1].item()
    bool(y[2] > 0)
    x[x > 1]  # a boolean mask: the result's shape depends on the data
    assert c.syncs == 5
    cp.cuda.get_current_stream().synchronize()
    assert c.syncs == 6
    c.reset()
    assert c.snapshot() == {"launches": 0, "raw_launches": 0, "h2d_bytes": 0,
                            "h2d_pinned_bytes": 0, "d2h_bytes": 0, "syncs": 0, "kernels": {}}


def test_empty_memory_is_not_zero(cp, standin):
    """Uninitialised device memory reads as NaN, so code that forgets to fill it shows."""
    assert bool(cp.isnan(cp.empty(4, dtype=np.float32)).all())
