"""GPU memory in use, read through NVML (``libnvidia-ml.so.1``, shipped with the driver).

The server itself never creates a CUDA context (its trainers do, in their own processes);
NVML reports the memory every process holds on a device without one. Device numbers are
NVML's (PCI bus order); the workers set ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that
``--devices 1`` means the same GPU to CUDA and here.
"""

from __future__ import annotations

import ctypes
import threading
import time

from gputrain.service.constants import DEVICE_MEMORY_CACHE_SECONDS


class _Memory(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


class DeviceMemory:
    """``used_bytes(index)`` for the given device indices; empty readings without NVML."""

    def __init__(self, indices: list[int]):
        self.indices = indices
        self._lock = threading.Lock()
        self._cache: dict[int, int] = {}
        self._cache_time = 0.0
        self._nvml = None
        try:
            nvml = ctypes.CDLL("libnvidia-ml.so.1")
            if nvml.nvmlInit_v2() == 0:
                self._nvml = nvml
        except (OSError, AttributeError):
            self._nvml = None

    @property
    def available(self) -> bool:
        return self._nvml is not None

    def used_bytes(self) -> dict[int, int]:
        """Device index -> bytes in use (cached for a moment: scrapes can come often)."""
        if self._nvml is None:
            return {}
        with self._lock:
            if time.monotonic() - self._cache_time > DEVICE_MEMORY_CACHE_SECONDS:
                self._cache = {i: u for i in self.indices if (u := self._read(i)) is not None}
                self._cache_time = time.monotonic()
            return dict(self._cache)

    def unseen(self) -> list[int]:
        """The device indices NVML does not find (none when NVML is not there to ask)."""
        if self._nvml is None:
            return []
        with self._lock:
            return [i for i in self.indices if self._read(i) is None]

    def _read(self, index: int) -> int | None:
        handle = ctypes.c_void_p()
        if self._nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
            return None
        memory = _Memory()
        if self._nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
            return None
        return int(memory.used)
