"""Streams, events and pinned memory on the CuPy stand-in: it runs every op at once, so it
checks the order CUDA would guarantee instead (``cupy._order``) and raises StreamRace where
a GPU could race; pinned copies are counted apart. The same code runs on CuPy (no race
checks there)."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain import backend
from tests.gpu.test_standin import ADD_ONE

pytestmark = pytest.mark.gpu


@pytest.fixture
def cp(standin_counters):
    return backend.cupy_module()


def _copy_then_kernel(cp, side, wait: bool):
    kernel = cp.RawKernel(ADD_ONE, "add_one")
    x = cp.empty(8, dtype=np.float32)
    host = backend.pinned_empty(8, np.float32)
    host[...] = 1.0
    x.set(host, stream=side)
    copied = backend.stream_event(side)
    if wait:
        backend.wait_event(copied)
    kernel((1,), (8,), (x, np.int32(8)))  # on the current (default) stream
    return x


def test_a_kernel_must_wait_for_a_copy_on_a_non_blocking_stream(cp):
    side = backend.side_stream(backend.Device("gpu", 0))
    with pytest.raises(cp._order.StreamRace, match="add_one"):
        _copy_then_kernel(cp, side, wait=False)
    x = _copy_then_kernel(cp, side, wait=True)
    np.testing.assert_array_equal(cp.asnumpy(x), np.full(8, 2.0))


def test_a_blocking_stream_is_ordered_with_the_default_stream(cp):
    x = _copy_then_kernel(cp, cp.cuda.Stream(), wait=False)  # legacy default-stream order
    np.testing.assert_array_equal(cp.asnumpy(x), np.full(8, 2.0))


def test_a_copy_must_not_overwrite_what_a_kernel_on_another_stream_reads(cp):
    side = backend.side_stream(backend.Device("gpu", 0))
    kernel = cp.RawKernel(ADD_ONE, "add_one")
    x = cp.zeros(8, dtype=np.float32)
    kernel((1,), (8,), (x, np.int32(8)))
    with pytest.raises(cp._order.StreamRace, match="ndarray.set"):
        x.set(np.ones(8, np.float32), stream=side)
    side.wait_event(backend.stream_event())  # the side stream waits for the kernel
    x.set(np.ones(8, np.float32), stream=side)
    with pytest.raises(cp._order.StreamRace):  # the kernel did not wait for that copy
        kernel((1,), (8,), (x, np.int32(8)))
    backend.wait_event(backend.stream_event(side))
    kernel((1,), (8,), (x, np.int32(8)))
    with pytest.raises(cp._order.StreamRace):
        x.set(np.ones(8, np.float32), stream=side)
    cp.cuda.get_current_stream().synchronize()  # the host waited: later copies are after it
    x.set(np.ones(8, np.float32), stream=side)


def test_pinned_copies_are_counted_apart_and_set_checks_as_cupy_does(cp, standin_counters):
    x = cp.empty(4, dtype=np.int32)
    x.set(np.arange(4, dtype=np.int32))
    pinned = backend.pinned_empty(4, np.int32)
    pinned[...] = 7
    x.set(pinned)
    assert standin_counters.h2d_bytes == 32 and standin_counters.h2d_pinned_bytes == 16
    with pytest.raises(TypeError):
        x.set(np.arange(4, dtype=np.int64))  # CuPy refuses another dtype
    with pytest.raises(ValueError):
        x.set(np.arange(5, dtype=np.int32))
    with pytest.raises(TypeError):
        x.set([1, 2, 3, 4])
    with cp.cuda.Stream(non_blocking=True) as s:
        assert cp.cuda.get_current_stream() is s
    assert cp.cuda.get_current_stream() is cp.cuda.Stream.null
