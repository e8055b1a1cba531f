"""``cupy.cuda`` stand-in: devices with a current-device context, streams and events.

Work is done when an op returns, except the collectives of ``cupy.cuda.nccl``, which
stay queued until the other ranks take part: an event recorded after one is ``done``
once it has landed, synchronising waits for it, and any later read of device data waits
for it first (as a stream would run it before later work). Otherwise streams and events
only count the synchronisations a caller asks for and time on the host clock.
"""

from __future__ import annotations

import threading
import time

from cupy import _order, _state
from cupy.cuda import memory, nccl, runtime
from cupy.cuda.memory import MemoryPool, PinnedMemoryPool
from cupy.cuda.runtime import CUDARuntimeError

__all__ = ["CUDARuntimeError", "Device", "Event", "MemoryPool", "PinnedMemoryPool", "Stream",
           "get_current_stream", "get_elapsed_time", "is_available", "memory", "nccl",
           "runtime"]


class Device:
    """``with cupy.cuda.Device(n):`` makes device ``n`` current for this host thread and
    restores the previous one on exit; an ordinal past the device count raises."""

    def __init__(self, device=None):
        self.id = _state.current_device() if device is None else int(device)
        self._previous: list[int] = []

    def __enter__(self):
        self._previous.append(_state.current_device())
        _state.set_current_device(self.id)
        return self

    def __exit__(self, *exc):
        _state.set_current_device(self._previous.pop())
        return False

    def use(self) -> None:
        _state.set_current_device(self.id)

    def synchronize(self) -> None:
        _state.check_device(self.id)
        _state.drain()
        _order.host_wait()
        _state.count_sync(waits_current=False)

    @property
    def compute_capability(self) -> str:
        return "90"

    @property
    def mem_info(self) -> tuple[int, int]:
        used = memory.used_bytes(self.id)
        return runtime.TOTAL_MEMORY - used, runtime.TOTAL_MEMORY

    @property
    def pci_bus_id(self) -> str:
        return f"0000:{_state.devices.visible[self.id] + 1:02x}:00.0"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("cupy.cuda.Device", self.id))

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Stream:
    """A CUDA stream: ``with stream:`` makes it current for this host thread (RawKernel
    launches and ``ndarray.set`` without ``stream=`` go to the current stream). Ordering
    between streams is checked by ``cupy._order``; ``non_blocking=True`` streams are not
    ordered with the legacy default stream (``Stream.null``)."""

    null = None

    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.device_id = _state.current_device()
        self.ptr = 0 if null else id(self)
        self.non_blocking = bool(non_blocking)
        self._previous: list = []
        if not null:
            _order.register(self.ptr, self.non_blocking)

    def synchronize(self) -> None:
        _state.drain()
        _order.host_wait(self.ptr)
        _state.count_sync(waits_current=False)

    def use(self):
        _current_stream.stream = self
        return self

    def __enter__(self):
        self._previous.append(get_current_stream())
        _current_stream.stream = self
        return self

    def __exit__(self, *exc):
        _current_stream.stream = self._previous.pop()
        return False

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event) -> None:
        if event._tag is not None:
            _order.wait(self.ptr, event._tag)

    @property
    def done(self) -> bool:
        _order.host_wait(self.ptr)
        return not _state.queued


Stream.null = Stream(null=True)
_current_stream = threading.local()


def get_current_stream(device_id=None) -> Stream:
    return getattr(_current_stream, "stream", Stream.null)


class Event:
    """``record()`` captures the work issued so far on a stream (the current one by
    default); ``stream.wait_event(e)`` orders later work after it; ``synchronize()`` and
    ``done`` wait for it on the host (the stand-in's work is always finished)."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._time: float | None = None
        self._tag: tuple[int, int] | None = None
        self._after: list = []  # the queued collectives recorded before this event

    def record(self, stream=None) -> None:
        stream = get_current_stream() if stream is None else stream
        self._tag = _order.record(stream.ptr)
        self._time = time.perf_counter()
        self._after = list(_state.queued)

    def synchronize(self) -> None:
        for work in self._after:
            work.wait()
        if self._tag is not None:
            _order.host_wait(*self._tag)
        _state.count_sync(waits_current=False)

    @property
    def done(self) -> bool:
        """Polls: every collective queued before the record has landed (never waits for
        one)."""
        if self._tag is not None:
            _order.host_wait(*self._tag)
        return all(work.test() for work in self._after)


def get_elapsed_time(start: Event, end: Event) -> float:
    """Milliseconds between two recorded events (host clock: the stand-in says nothing
    about GPU speed)."""
    if start._time is None or end._time is None:
        raise CUDARuntimeError(600, "cudaErrorNotReady: event not recorded")
    _state.count_sync()
    return (end._time - start._time) * 1e3


def is_available() -> bool:
    return _state.devices.count > 0
