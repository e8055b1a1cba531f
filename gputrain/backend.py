"""The array shim: NumPy on any machine, CuPy on an NVIDIA GPU.

This is the only module that imports cupy. Everything else writes array code against
``xp`` (the module a :class:`Device` or :func:`get_array_module` hands out), moves arrays
with :func:`to_cpu` / :func:`to_device`, and draws random numbers from the device's
generator (:meth:`Device.rng`).

Device choice: ``auto`` (CuPy when it imports and sees a CUDA device, else NumPy), ``cpu``
or ``gpu`` (an error when there is none), from ``--device`` on every command or from the
``GPUTRAIN_DEVICE`` environment variable. ``gpu:1`` picks a device id.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType

import numpy

from gputrain.errors import GputrainError

_cupy_state: dict = {}  # "module" (or None) and "error", filled by the first _cupy() call


def _cupy() -> ModuleType | None:
    """Import cupy once, on first need (guarded as Chainer's backends/cuda.py does).

    Importing cupy costs a few hundred milliseconds, so ``--device cpu`` never pays it.
    """
    if "module" not in _cupy_state:
        try:
            import cupy
        except Exception as e:  # ImportError, or a CUDA library that fails to load
            _cupy_state.update(module=None, error=e)
        else:
            _cupy_state.update(module=cupy, error=None)
    return _cupy_state["module"]


def _cupy_if_imported() -> ModuleType | None:
    """cupy when something already imported it; a cupy array cannot exist otherwise."""
    return _cupy() if "cupy" in sys.modules else None


DEFAULT_DTYPE = numpy.float32
DEVICE_ENV = "GPUTRAIN_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "gpu")


def cupy_module() -> ModuleType | None:
    """The cupy module if it imports, else None (for gputrain/kernels and GPU-only tests)."""
    return _cupy()


def gpu_count() -> int:
    """Number of CUDA devices CuPy can use; 0 without cupy, a driver or a device."""
    cupy = _cupy()
    if cupy is None:
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, driver too old, no device
        return 0


def gpu_available() -> bool:
    return gpu_count() > 0


@dataclass(frozen=True)
class Device:
    """Where arrays live: ``kind`` is ``"cpu"`` or ``"gpu"``; ``id`` is the CUDA ordinal."""

    kind: str
    id: int = 0

    @property
    def xp(self) -> ModuleType:
        return _cupy() if self.kind == "gpu" else numpy

    @property
    def is_gpu(self) -> bool:
        return self.kind == "gpu"

    def __str__(self) -> str:
        return f"gpu:{self.id}" if self.is_gpu else "cpu"

    def rng(self, seed: int | None = None):
        """A fresh seeded generator that draws on this device (``xp.random.default_rng``)."""
        if self.is_gpu:
            cupy = _cupy()
            with cupy.cuda.Device(self.id):
                return cupy.random.default_rng(seed)
        return numpy.random.default_rng(seed)

    def activate(self):
        """Context manager that makes this device current (a no-op on the CPU)."""
        if self.is_gpu:
            return _cupy().cuda.Device(self.id)
        return contextlib.nullcontext()


CPU = Device("cpu")


def resolve_device(spec: str | None = None) -> Device:
    """Turn ``auto``/``cpu``/``gpu``/``gpu:N`` (or ``$GPUTRAIN_DEVICE``) into a Device."""
    raw = spec if spec is not None else os.environ.get(DEVICE_ENV, "auto")
    text = (raw or "auto").strip().lower()
    kind, _, ordinal = text.partition(":")
    if kind not in DEVICE_CHOICES or (ordinal and (kind != "gpu" or not ordinal.isdigit())):
        raise GputrainError(f"unknown device {raw!r}: use auto, cpu, gpu or gpu:N")
    if kind == "cpu":
        return CPU
    count = gpu_count()
    if kind == "auto":
        return Device("gpu", 0) if count else CPU
    index = int(ordinal or 0)
    if count == 0:
        why = f" (cupy: {_cupy_state['error']})" if _cupy() is None else ""
        raise GputrainError(f"--device gpu: no CUDA device is available{why}")
    if index >= count:
        raise GputrainError(f"--device {text}: only {count} CUDA device(s) present")
    return Device("gpu", index)


def get_array_module(*arrays) -> ModuleType:
    """cupy if any argument is a cupy array, else numpy."""
    cupy = _cupy_if_imported()
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return numpy


def is_gpu_array(a) -> bool:
    cupy = _cupy_if_imported()
    return cupy is not None and isinstance(a, cupy.ndarray)


def device_of(a) -> Device:
    if is_gpu_array(a):
        return Device("gpu", int(a.device.id))
    return CPU


def to_cpu(a):
    """A NumPy array (copied from the GPU when needed); scalars and None pass through."""
    if is_gpu_array(a):
        return _cupy().asnumpy(a)
    return a


def to_device(a, device: Device, dtype=None):
    """``a`` as an array on ``device`` (no copy when it is already there with that dtype)."""
    if device.is_gpu:
        cupy = _cupy()
        with cupy.cuda.Device(device.id):
            if is_gpu_array(a) and int(a.device.id) != device.id:
                return cupy.array(a, dtype=dtype)  # asarray would leave it on its device
            return cupy.asarray(a, dtype=dtype)
    return numpy.asarray(to_cpu(a), dtype=dtype)


def nccl_module() -> ModuleType | None:
    """``cupy.cuda.nccl`` (NCCL collectives on device buffers), or None without it."""
    cupy = _cupy()
    if cupy is None:
        return None
    try:
        from cupy.cuda import nccl
    except ImportError:
        return None
    return nccl if getattr(nccl, "available", True) else None


def current_stream_ptr() -> int:
    """The raw handle of the current device's current CUDA stream (for NCCL calls)."""
    return _cupy().cuda.get_current_stream().ptr


def stream_event(stream=None):
    """A CUDA event recorded now on ``stream`` (default: the current stream); ``.done``
    polls it, ``.synchronize()`` waits for it, ``wait_event`` orders another stream after it."""
    event = _cupy().cuda.Event(disable_timing=True)
    event.record(stream)
    return event


def side_stream(device: Device):
    """A new non-blocking CUDA stream on ``device`` (not ordered with the default stream,
    so its copies overlap the kernels there); ``with stream:`` makes it current."""
    cupy = _cupy()
    with cupy.cuda.Device(device.id):
        return cupy.cuda.Stream(non_blocking=True)


def wait_event(event) -> None:
    """Order later work on the current stream after ``event`` (no host wait)."""
    _cupy().cuda.get_current_stream().wait_event(event)


def pinned_empty(n: int, dtype):
    """A NumPy array of ``n`` items in page-locked host memory (``cupyx.empty_pinned``):
    ``device_array.set(a, stream=s)`` copies from it asynchronously."""
    _cupy()
    import cupyx

    return cupyx.empty_pinned((n,), dtype=dtype)


def free_memory(device: Device) -> int:
    """Bytes of device memory free now (``cudaMemGetInfo``); 0 on the CPU."""
    if not device.is_gpu:
        return 0
    return int(_cupy().cuda.Device(device.id).mem_info[0])


def synchronize(device: Device) -> None:
    """Wait for queued GPU work (for honest timings); a no-op on the CPU."""
    if device.is_gpu:
        cupy = _cupy()
        with cupy.cuda.Device(device.id):
            cupy.cuda.get_current_stream().synchronize()
