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
