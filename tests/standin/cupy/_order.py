"""Happens-before between CUDA streams, so that a missing wait shows on the stand-in.

The stand-in does all work when a call returns, so a kernel that reads a buffer another
stream is still copying into would silently see the finished copy. This module keeps the
order CUDA guarantees and raises :class:`StreamRace` where a GPU could race:

* work on one stream runs in issue order;
* the legacy default stream (``Stream.null``, where CuPy launches unless a stream is
  current) waits for earlier work on every *blocking* stream and they wait for it; a
  ``Stream(non_blocking=True)`` is ordered with nothing implicitly;
* ``stream.wait_event(e)`` orders later work on ``stream`` after the work ``e`` captured
  when it was recorded;
* a host wait (``stream/event/device.synchronize()``, a synchronising read on a stream, a
  polled ``event.done``) completes the work it waited for; later work is ordered after it.

Checked accesses: RawKernel launches (every array argument, as read and written) and
``ndarray.set`` (a write). Other stand-in ops are not tracked. Waits are not chained
(``A`` waits on ``B`` that waited on ``C`` does not order ``C`` before ``A``): the check can
only be stricter than CUDA, never laxer.
"""

from __future__ import annotations

import threading
import weakref

import numpy

_lock = threading.Lock()


class StreamRace(RuntimeError):
    """Two accesses to one device buffer on streams with no order between them."""


class _Stream:
    def __init__(self, blocking: bool, null: bool):
        self.seq = 0  # ops issued so far
        self.done = 0  # ops the host knows are complete
        self.waited: dict[int, int] = {}  # other stream key -> its ops ordered before ours
        self.blocking = blocking
        self.null = null


_streams: dict[int, _Stream] = {0: _Stream(blocking=True, null=True)}
_buffers: dict[int, tuple[int, int]] = {}  # id(root buffer) -> (stream key, seq) last access


def register(key: int, non_blocking: bool) -> None:
    with _lock:
        _streams[key] = _Stream(blocking=not non_blocking, null=False)


def _ordered(tag: tuple[int, int], key: int) -> bool:
    """Whether op ``tag`` comes before the next op issued on stream ``key``."""
    src, seq = tag
    if src == key:
        return True
    a, b = _streams[src], _streams[key]
    if seq <= a.done or seq <= b.waited.get(src, 0):
        return True
    return (a.null and b.blocking) or (b.null and a.blocking)  # the legacy default stream


def _root(a: numpy.ndarray) -> numpy.ndarray:
    while isinstance(a.base, numpy.ndarray):
        a = a.base
    return a


def access(arrays, key: int, what: str) -> None:
    """An op on stream ``key`` reading/writing ``arrays`` (NumPy data of device arrays)."""
    with _lock:
        stream = _streams[key]
        stream.seq += 1
        for a in arrays:
            root = _root(a)
            last = _buffers.get(id(root))
            if last is not None and not _ordered(last, key):
                raise StreamRace(
                    f"{what}: a device buffer last used on another stream (op {last[1]})"
                    " with no event wait or synchronisation in between (a race on a GPU)")
            if last is None:
                weakref.finalize(root, _buffers.pop, id(root), None)
            _buffers[id(root)] = (key, stream.seq)


def record(key: int) -> tuple[int, int]:
    """What an event recorded now on stream ``key`` captures."""
    with _lock:
        return key, _streams[key].seq


def wait(key: int, tag: tuple[int, int]) -> None:
    with _lock:
        waited = _streams[key].waited
        waited[tag[0]] = max(waited.get(tag[0], 0), tag[1])


def host_wait(key: int | None = None, upto: int | None = None) -> None:
    """The host waited for stream ``key`` (up to op ``upto``; all of it by default); every
    stream when ``key`` is None. Waiting on the legacy default stream also waits for the
    blocking streams' earlier work."""
    with _lock:
        chosen = list(_streams) if key is None else [key]
        if key is not None and _streams[key].null:
            chosen += [k for k, s in _streams.items() if s.blocking]
        for k in chosen:
            s = _streams[k]
            s.done = max(s.done, s.seq if upto is None or k != key else upto)
