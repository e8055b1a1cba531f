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

import contextlib
import signal
import threading

EXIT_CHECKPOINTED = 75  # EX_TEMPFAIL: stopped early, resumable with --resume
PARENT_DIED_SIGNAL = signal.SIGUSR1


class StopRequested(Exception):
    """A stop was asked for before there was anything to checkpoint (while the corpus was
    still being read): the run ends at once, with :data:`EXIT_CHECKPOINTED` and nothing
    to resume."""


class GracefulStop:
    """Context manager installing the two-stage SIGTERM/SIGINT handler (main thread only)."""

    def __init__(self):
        self._event = threading.Event()
        self._asked = False  # a SIGTERM/SIGINT has arrived: the next one exits
        self._interrupt = False  # inside interrupting(): a request raises StopRequested
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    @contextlib.contextmanager
    def interrupting(self):
        """While active, a stop request raises :class:`StopRequested` in the main thread at
        once: for work with nothing to checkpoint (reading the corpus), so that even a read
        blocked on a stalled pipe ends promptly."""
        if self.requested:
            raise StopRequested
        self._interrupt = True
        try:
            yield
        finally:
            self._interrupt = False

    def _handle(self, signum, frame):
        if signum != PARENT_DIED_SIGNAL:
            if self._asked:
                raise SystemExit(128 + signum)
            self._asked = True
        self._event.set()
        if self._interrupt:
            self._interrupt = False
            raise StopRequested

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
