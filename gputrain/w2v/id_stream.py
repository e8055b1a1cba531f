"""Corpus ids for a corpus too large to keep on the device: double-buffered uploads.

Two device buffers and two page-locked host buffers, each one launch's worth of ids. While
launch ``i`` trains from one buffer, the host reads launch ``i + 1``'s ids (from the id
file) into a pinned buffer and queues their copy into the other device buffer on a side
stream; an event recorded after the copy makes the kernel of launch ``i + 1`` wait for its
ids (:meth:`IdStream.take`), and an event recorded after launch ``i`` keeps the next copy
from overwriting the buffer it still reads (:meth:`IdStream.release`). So every id crosses
once per epoch, in launch-sized copies that overlap the training, and no copy adds a host
synchronisation: the host refills a pinned buffer only once the launch that used it is
known finished (its loss was read), which implies that the copy from it is finished too.
"""

from __future__ import annotations

import numpy as np

from gputrain.backend import Device, pinned_empty, side_stream, stream_event, wait_event


class IdStream:
    def __init__(self, device: Device, corpus, capacity: int):
        self.device, self.corpus = device, corpus
        with device.activate():
            self.buffers = [device.xp.empty(capacity, dtype=np.int32) for _ in range(2)]
        self.host = [pinned_empty(capacity, np.int32) for _ in range(2)]
        self.stream = side_stream(device)
        self.holds: list[tuple[int, int] | None] = [None, None]  # id range queued in each slot
        self.copied = [None, None]  # event: the copy into the slot is done
        self.used = [None, None]  # event: the last launch reading the slot is done
        self.next = 0  # the slot the next prefetch fills
        self.uploads: list[tuple[int, int]] = []  # ranges copied, in order (for tests)

    def prefetch(self, lo: int, hi: int) -> int:
        """Queue the copy of ids ``[lo, hi)`` into the free slot (at once, on the side
        stream); the slot number. A range already queued is not copied again."""
        if (lo, hi) in self.holds:
            return self.holds.index((lo, hi))
        slot, n = self.next, hi - lo
        self.next ^= 1
        if self.used[slot] is not None and not self.used[slot].done:
            self.used[slot].synchronize()  # not reached by the engine's launch order
        self._read(lo, hi, self.host[slot][:n])
        with self.device.activate(), self.stream:
            if self.used[slot] is not None:
                self.stream.wait_event(self.used[slot])
            self.buffers[slot][:n].set(self.host[slot][:n], stream=self.stream)
            self.copied[slot] = stream_event(self.stream)
        self.holds[slot] = (lo, hi)
        self.uploads.append((lo, hi))
        return slot

    def take(self, lo: int, hi: int):
        """The device ids ``[lo, hi)`` for a launch about to be queued on the current
        stream, which is made to wait for their copy."""
        slot = self.prefetch(lo, hi)
        with self.device.activate():
            wait_event(self.copied[slot])
        self._taken = slot
        return self.buffers[slot][:hi - lo]

    def release(self) -> None:
        """Call after queueing the launch that took the last range: its buffer is free for
        a copy once that launch is done."""
        with self.device.activate():
            self.used[self._taken] = stream_event()
        self.holds[self._taken] = None  # a later launch of the same range copies it again

    def _read(self, lo: int, hi: int, out: np.ndarray) -> None:
        if self.corpus.ids_path is None:
            out[...] = self.corpus.ids[lo:hi]
            return
        with open(self.corpus.ids_path, "rb") as f:
            f.seek(4 * lo)
            if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise OSError(f"{self.corpus.ids_path}: shorter than {hi} ids")
