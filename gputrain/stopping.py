"""Two-stage shutdown for long training runs.

The first SIGTERM (or Ctrl-C) asks the trainer to stop at the next safe point: it writes a
checkpoint and exits with :data:`EXIT_CHECKPOINTED`. A second signal stops at once.
Trainers poll ``stop.requested`` between batches.
"""

from __future__ import annotations

import signal
import threading

EXIT_CHECKPOINTED = 75  # EX_TEMPFAIL: stopped early, resumable with --resume


class GracefulStop:
    """Context manager installing the two-stage SIGTERM/SIGINT handler (main thread only)."""

    def __init__(self):
        self._event = threading.Event()
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    def _handle(self, signum, frame):
        if self._event.is_set():
            raise SystemExit(128 + signum)
        self._event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False
