"""One job as the store holds it (a row of ``jobs``) and as the API shows it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from gputrain.service.states import JobState


@dataclass
class Job:
    id: str
    kind: str
    input: str
    params: dict
    state: JobState
    input_size: int | None = None  # bytes, recorded at submission
    input_sha256: str | None = None  # hex, recorded at submission
    devices: int = 1  # GPUs the job trains on (more than 1: that many mpiexec ranks)
    progress: float = 0.0
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    run_seconds: float = 0.0  # summed over attempts
    recoveries: int = 0  # times a server start found it running (the server had died)
    worker: str | None = None
    pid: int | None = None
    cancel_requested: bool = False
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        d = dict(row)
        d.pop("seq")
        d["params"] = json.loads(d["params"])
        d["metrics"] = json.loads(d["metrics"])
        d["state"] = JobState(d["state"])
        d["cancel_requested"] = bool(d["cancel_requested"])
        return cls(**d)

    def public(self) -> dict:
        """What the HTTP API shows (no PIDs or internal flags)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state.value,
            "input": self.input,
            "input_size_bytes": self.input_size,
            "input_sha256": self.input_sha256,
            "params": self.params,
            "devices": self.devices,
            "progress": self.progress,
            "metrics": self.metrics,
            "error": self.error,
            "attempts": self.attempts,
            "run_seconds": round(self.run_seconds, 3),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "updated_at": self.updated_at,
        }
