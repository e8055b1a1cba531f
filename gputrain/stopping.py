"""Two-stage shutdown for long training runs.

The first SIGTERM (or Ctrl-C) asks the trainer to stop at the next safe point: it writes a
checkpoint and exits with :data:`EXIT_CHECKPOINTED`. A second SIGTERM/SIGINT stops at once.
Trainers poll ``stop.requested`` between batches.

:data:`PARENT_DIED_SIGNAL` (what the service's trainers get from the kernel when the server
dies, ``PR_SET_PDEATHSIG``) only ever requests the stop: the kernel sends it again each
time one of the dying server's threads exits, and however many arrive, the trainer writes
its checkpoint. It does not count as a first signal either: a later SIGTERM still only asks.
"""

from __future__ import annotations

import signal
import threading

EXIT_CHECKPOINTED = 75  # EX_TEMPFAIL: stopped early, resumable with --resume
PARENT_DIED_SIGNAL = signal.SIGUSR1


class GracefulStop:
    """Context manager installing the two-stage SIGTERM/SIGINT handler (main thread only)."""

    def __init__(self):
        self._event = threading.Event()
        self._asked = False  # a SIGTERM/SIGINT has arrived: the next one exits
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    def _handle(self, signum, frame):
        if signum != PARENT_DIED_SIGNAL:
            if self._asked:
                raise SystemExit(128 + signum)
            self._asked = True
        self._event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT, PARENT_DIED_SIGNAL):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False
