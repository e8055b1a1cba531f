"""Follow a running trainer's ``--events`` file: job progress, metrics and word counts.

The trainer appends JSON lines (see :mod:`gputrain.events`); :class:`EventTail` reads what
was added since the last look (a torn last line waits for the next look) and folds it into
a :class:`LiveJob`: progress 0..1, the latest metrics (``words``, ``words_per_second``,
``loss``, ``epoch``, ``accuracy`` ...) and how many new words were trained since the
previous look (for ``gputrain_train_words_total``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from gputrain.events import read_events

_NOT_METRICS = {"event", "time", "progress"}


class EventTail:
    """Incremental reader of a JSON-lines file that another process appends to."""

    def __init__(self, path: Path, offset: int = 0):
        self.path = path
        self.offset = offset

    @classmethod
    def at_end(cls, path: Path) -> EventTail:
        return cls(path, path.stat().st_size if path.exists() else 0)

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        events = []
        for line in data[: end + 1].splitlines():
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(event, dict):
                events.append(event)
        return events


@dataclass
class LiveJob:
    """What the service knows about one running job (mirrored into the store and metrics)."""

    kind: str
    progress: float = 0.0
    metrics: dict = field(default_factory=dict)
    words_seen: int = 0  # trained-word count at the last look (cumulative, from the trainer)
    diverged: str | None = None  # why training cannot go on (a NaN/infinite loss), if so

    def apply(self, events: list[dict]) -> int:
        """Fold ``events`` in; return how many words were trained since the last look."""
        new_words = 0
        for event in events:
            kind = event.get("event")
            if kind == "done":
                self.progress = 1.0
            elif "progress" in event and _finite(event["progress"]):
                self.progress = min(1.0, max(0.0, float(event["progress"])))
            for key, value in event.items():
                if key not in _NOT_METRICS and _finite(value):
                    self.metrics[key] = value
            loss = event.get("loss")
            if isinstance(loss, float) and not math.isfinite(loss) and self.diverged is None:
                self.diverged = (f"training diverged: loss is {loss} at "
                                 f"{100 * self.progress:.1f}% (lower the learning rate)")
            if kind == "checkpoint":
                self.metrics["checkpoint_time"] = event.get("time")
            words = event.get("words")
            if kind in ("progress", "epoch", "done") and _finite(words):
                words = int(words)
                new_words += words - self.words_seen if words >= self.words_seen else words
                self.words_seen = words
        return new_words


def resume_point(events_path: Path) -> int:
    """Trained words at the last checkpoint in an events file (where a resumed run restarts)."""
    words = 0
    for event in read_events(events_path):
        if event.get("event") == "start":
            words = int(event["resumed_words"]) if _finite(event.get("resumed_words")) else 0
        if event.get("event") == "checkpoint" and _finite(event.get("words")):
            words = int(event["words"])
    return words


def _finite(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
