"""Device memory accounting: every live device buffer, by device (``MemoryPool``)."""

from __future__ import annotations

import threading
import weakref

_lock = threading.Lock()
_live: dict[int, dict[int, int]] = {}  # device -> {id(buffer): nbytes}


def track(buffer, device: int) -> None:
    key = id(buffer)
    with _lock:
        _live.setdefault(device, {})[key] = buffer.nbytes
    weakref.finalize(buffer, _forget, device, key)


def _forget(device: int, key: int) -> None:
    with _lock:
        _live.get(device, {}).pop(key, None)


_pinned_ranges: dict[int, tuple[int, int]] = {}  # id(buffer) -> [start, end) address


def empty_pinned(shape, dtype=float, order="C"):
    """``cupyx.empty_pinned``: a NumPy array in (fake) page-locked host memory."""
    import numpy

    buffer = numpy.empty(shape, dtype=dtype, order=order)
    start = buffer.ctypes.data
    with _lock:
        _pinned_ranges[id(buffer)] = (start, start + buffer.nbytes)
    weakref.finalize(buffer, _unpin, id(buffer))
    return buffer


def _unpin(key: int) -> None:
    with _lock:
        _pinned_ranges.pop(key, None)


def is_pinned(a) -> bool:
    """Whether all of ``a``'s data lies in one pinned allocation (CUDA tells by address)."""
    start = a.ctypes.data
    with _lock:
        return any(lo <= start and start + a.nbytes <= hi for lo, hi in _pinned_ranges.values())


def used_bytes(device: int) -> int:
    with _lock:
        return sum(_live.get(device, {}).values())


class MemoryPool:
    """``cupy.get_default_memory_pool()``: bytes held by live arrays of the current
    device (the stand-in frees a buffer when its last array goes, with no caching)."""

    def used_bytes(self) -> int:
        from cupy import _state

        return used_bytes(_state.current_device())

    total_bytes = used_bytes

    def free_all_blocks(self, stream=None) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0

    def set_limit(self, size=None, fraction=None) -> None:
        pass

    def get_limit(self) -> int:
        return 0


class PinnedMemoryPool:
    def free_all_blocks(self) -> None:
        pass

    def n_free_blocks(self) -> int:
        return 0


_default = MemoryPool()
_pinned = PinnedMemoryPool()
