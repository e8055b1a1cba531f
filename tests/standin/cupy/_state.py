"""The stand-in's global state: fake devices, the current device of each host thread,
and the counters tests read (see ``cupy.standin``)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field

DEVICES_ENV = "GPUTRAIN_STANDIN_DEVICES"


@dataclass
class Counters:
    """What the code asked of the "GPU" since the last :meth:`reset`.

    ``launches``: kernels and other device work (every elementwise op, reduction, matmul,
    fill, device-to-device copy, random draw and RawKernel launch counts one, as each is
    one launch on CuPy); ``raw_launches``: RawKernel launches alone, by kernel name in
    ``kernels``; ``h2d_bytes`` / ``d2h_bytes``: bytes copied host->device / device->host;
    ``h2d_pinned_bytes``: the part of ``h2d_bytes`` copied by ``ndarray.set`` from page-locked
    host memory (``cupyx.empty_pinned``), the copies that overlap kernels on a GPU;
    ``syncs``: calls that make the host wait for the device (``asnumpy``, ``.get()``,
    ``float()/int()/bool()/.item()/.tolist()`` of a device value, boolean-mask indexing and
    other data-dependent shapes, stream / device / event synchronize)."""

    launches: int = 0
    raw_launches: int = 0
    h2d_bytes: int = 0
    h2d_pinned_bytes: int = 0
    d2h_bytes: int = 0
    syncs: int = 0
    kernels: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        self.launches = self.raw_launches = self.h2d_bytes = self.d2h_bytes = self.syncs = 0
        self.h2d_pinned_bytes = 0
        self.kernels = Counter()

    def snapshot(self) -> dict:
        return {"launches": self.launches, "raw_launches": self.raw_launches,
                "h2d_bytes": self.h2d_bytes, "h2d_pinned_bytes": self.h2d_pinned_bytes,
                "d2h_bytes": self.d2h_bytes, "syncs": self.syncs,
                "kernels": dict(self.kernels)}


counters = Counters()
_lock = threading.Lock()


def _initial_devices() -> int:
    raw = os.environ.get(DEVICES_ENV, "2")
    try:
        return max(0, int(raw))
    except ValueError:
        raise RuntimeError(f"{DEVICES_ENV}={raw!r} is not a device count") from None


def uuid(physical: int) -> str:
    """The UUID of fake GPU ``physical`` (as ``nvidia-smi -L`` and CUDA_VISIBLE_DEVICES
    spell them)."""
    return f"GPU-5ada1d00-0000-4000-8000-{physical:012d}"


def _visible(physical: int, spec: str | None) -> list[int]:
    """CUDA's reading of CUDA_VISIBLE_DEVICES: ordinals or UUIDs (a unique prefix will
    do), cut at the first entry that names no device; unset = all of them."""
    if spec is None:
        return list(range(physical))
    out: list[int] = []
    for item in (s.strip() for s in spec.split(",")):
        if item.isdigit() and int(item) < physical:
            found = int(item)
        else:
            matches = [p for p in range(physical) if item and uuid(p).startswith(item)]
            if len(matches) != 1:
                break
            found = matches[0]
        if found in out:
            break
        out.append(found)
    return out


class _Devices:
    """``visible[ordinal]`` is the physical fake GPU that ordinal means in this process."""

    physical = _initial_devices()
    visible = _visible(physical, os.environ.get("CUDA_VISIBLE_DEVICES"))

    @property
    def count(self) -> int:
        return len(self.visible)


devices = _Devices()
LOG_ENV = "GPUTRAIN_STANDIN_LOG"


def _log_process() -> None:
    """With $GPUTRAIN_STANDIN_LOG set, each process that imports the stand-in appends
    ``{"pid", "visible"}`` (the physical fake GPUs it sees) there: a test can tell which
    GPU a subprocess (a service's trainer) was given."""
    path = os.environ.get(LOG_ENV)
    if path:
        import json

        with open(path, "a", encoding="utf-8") as log:  # one short append per process
            log.write(json.dumps({"pid": os.getpid(), "visible": devices.visible}) + "\n")


_log_process()
_current = threading.local()  # CUDA's current device is per host thread


def current_device() -> int:
    return getattr(_current, "id", 0)


def set_current_device(device_id: int) -> None:
    check_device(device_id)
    _current.id = device_id


def check_device(device_id: int) -> None:
    from cupy.cuda.runtime import CUDARuntimeError

    if devices.count == 0:
        raise CUDARuntimeError(100, "cudaErrorNoDevice: no CUDA-capable device is detected")
    if not 0 <= device_id < devices.count:
        raise CUDARuntimeError(101, "cudaErrorInvalidDevice: invalid device ordinal")


queued: list = []  # collectives in flight (cupy.cuda.nccl), oldest first


def drain() -> None:
    """Complete every queued collective (waiting for the other ranks): what a stream does
    before it runs later work. Device data is read through here (``ndarray._a``)."""
    while queued:
        queued[0].wait()


def count_launch(n: int = 1) -> None:
    with _lock:
        counters.launches += n


def count_sync(d2h_bytes: int = 0, waits_current: bool = True) -> None:
    """One synchronising call; by default it waits for the current stream (a read)."""
    if waits_current:
        from cupy import _order
        from cupy.cuda import get_current_stream

        _order.host_wait(get_current_stream().ptr)
    with _lock:
        counters.syncs += 1
        counters.d2h_bytes += d2h_bytes


def count_h2d(nbytes: int, pinned: bool = False) -> None:
    with _lock:
        counters.h2d_bytes += nbytes
        if pinned:
            counters.h2d_pinned_bytes += nbytes


def count_raw(name: str) -> None:
    with _lock:
        counters.launches += 1
        counters.raw_launches += 1
        counters.kernels[name] += 1
