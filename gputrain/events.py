"""Machine-readable training events: one JSON object per line, flushed as written.

``gputrain w2v``/``gputrain mlp train`` take ``--events FILE``; the service tails that
file to report progress and metrics. Every event has ``event`` (``start``, ``progress``,
``epoch``, ``checkpoint``, ``done``) and ``time`` (Unix seconds); progress events carry
``progress`` (0..1) and whatever the trainer measures (``words``, ``words_per_second``,
``loss``, ``alpha``, ``epoch``, ``accuracy``, ``val_loss`` ...).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class EventLog:
    """Append JSON lines to a file; a no-op when ``path`` is None."""

    def __init__(self, path: str | Path | None):
        self.path = path
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def emit(self, event: str, **fields) -> None:
        if self._file is None:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        try:
            self._file.write(json.dumps(record, default=float) + "\n")
            self._file.flush()
        except OSError as e:  # a full disk: name the file (a write error names none)
            raise type(e)(e.errno, e.strerror, str(self.path)) from None

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:  # the failed write was already reported by emit()
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def read_events(path: str | Path) -> list[dict]:
    """All complete events in a file (a torn last line is ignored)."""
    events = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return events
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
