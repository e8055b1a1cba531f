"""Control of the CuPy stand-in from tests: devices, counters.

    import cupy
    cupy.standin.set_devices(2)          # 0 = "no GPU": getDeviceCount() raises as CUDA does
    cupy.standin.counters.reset()
    ...                                  # the code under test
    c = cupy.standin.counters            # .launches .raw_launches .h2d_bytes .d2h_bytes
    assert c.syncs == 0                  # .syncs, .kernels (Counter by RawKernel name)
    with cupy.standin.counting() as c:   # the same, reset on entry
        ...
"""

from __future__ import annotations

import contextlib

from cupy import _state
from cupy._state import DEVICES_ENV, Counters, counters

IS_STANDIN = True
__all__ = ["DEVICES_ENV", "IS_STANDIN", "Counters", "counters", "counting", "device_count",
           "physical_id", "set_devices"]


def set_devices(count: int) -> None:
    """Make ``count`` fake devices visible, all of them (device 0 becomes current in this
    thread)."""
    _state.devices.physical = int(count)
    _state.devices.visible = list(range(int(count)))
    _state._current.id = 0


def device_count() -> int:
    return _state.devices.count


def physical_id(ordinal: int | None = None) -> int:
    """The physical fake GPU behind ``ordinal`` (default: the current device), after
    CUDA_VISIBLE_DEVICES."""
    ordinal = _state.current_device() if ordinal is None else ordinal
    _state.check_device(ordinal)
    return _state.devices.visible[ordinal]


@contextlib.contextmanager
def counting():
    """The counters, reset on entry; read them inside or after the block."""
    counters.reset()
    yield counters
