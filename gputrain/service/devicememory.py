"""GPU memory in use, read through NVML (``libnvidia-ml.so.1``, shipped with the driver).

The server itself never creates a CUDA context (its trainers do, in their own processes);
NVML reports the memory every process holds on a device without one. NVML ignores
CUDA_VISIBLE_DEVICES: a GPU is found by the name the trainer's CUDA_VISIBLE_DEVICES gives
it, an index in PCI bus order (the workers set ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that the
index means the same GPU to CUDA and here) or a UUID.
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
    """Memory in use on the workers' GPUs: ``gpus`` maps a worker's device name
    (``gpu:0``) to the GPU as NVML finds it: an index (PCI order) or a ``GPU-``/``MIG-``
    UUID, as CUDA_VISIBLE_DEVICES named it. Empty readings without NVML."""

    def __init__(self, gpus: dict[str, str]):
        self.gpus = {name: str(gpu) for name, gpu in gpus.items()}
        self._lock = threading.Lock()
        self._cache: dict[str, int] = {}
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

    def used_bytes(self) -> dict[str, int]:
        """Device name -> bytes in use (cached for a moment: scrapes can come often)."""
        if self._nvml is None:
            return {}
        with self._lock:
            if time.monotonic() - self._cache_time > DEVICE_MEMORY_CACHE_SECONDS:
                self._cache = {name: u for name, gpu in self.gpus.items()
                               if (u := self._read(gpu)) is not None}
                self._cache_time = time.monotonic()
            return dict(self._cache)

    def unseen(self) -> list[str]:
        """The GPUs NVML does not find, as named for it (none without NVML to ask)."""
        if self._nvml is None:
            return []
        with self._lock:
            return [gpu for gpu in self.gpus.values() if self._read(gpu) is None]

    def _read(self, gpu: str) -> int | None:
        handle = ctypes.c_void_p()
        if gpu.isdigit():
            found = self._nvml.nvmlDeviceGetHandleByIndex_v2(int(gpu), ctypes.byref(handle))
        else:  # GPU-<uuid> or MIG-<uuid>
            found = self._nvml.nvmlDeviceGetHandleByUUID(gpu.encode(), ctypes.byref(handle))
        if found != 0:
            return None
        memory = _Memory()
        if self._nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
            return None
        return int(memory.used)
