"""The layout of DATA_DIR and the lock that keeps a second server off it.

```
DATA_DIR/jobs.sqlite3      the job store (SQLite, WAL)
DATA_DIR/server.lock       held (flock) by the running server
DATA_DIR/inputs/           input files (uploads land here; jobs name files relative to it)
DATA_DIR/jobs/<id>/        one job: events.jsonl, trainer.log, its outputs and checkpoints
```
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from gputrain.errors import GputrainError
from gputrain.service.constants import (
    DATA_DIR_MODE,
    DB_FILENAME,
    EVENTS_FILENAME,
    INPUTS_DIRNAME,
    JOBS_DIRNAME,
    LOCK_FILENAME,
    LOG_FILENAME,
    LOW_SPACE_BYTES,
)


class DataDir:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.inputs = self.root / INPUTS_DIRNAME
        self.jobs = self.root / JOBS_DIRNAME
        self.db = self.root / DB_FILENAME
        self._lock_fd: int | None = None

    def create(self) -> DataDir:
        """Make the directories (0700: jobs, inputs and the token-free store are private)."""
        try:
            for path in (self.root, self.inputs, self.jobs):
                path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
        except OSError as e:
            raise GputrainError(f"cannot create the data directory {self.root}: {e}") from None
        return self

    def lock(self) -> None:
        """Hold DATA_DIR/server.lock until the process exits (not inherited by trainers)."""
        fd = os.open(self.root / LOCK_FILENAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise GputrainError(
                f"another gputrain server is using the data directory {self.root}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def redact(self, text: str) -> str:
        """``text`` without the data directory's absolute path (for errors shown to clients)."""
        return text.replace(str(self.inputs) + os.sep, "").replace(str(self.root), "DATA_DIR")

    def out_of_space(self) -> bool:
        try:
            return shutil.disk_usage(self.root).free < LOW_SPACE_BYTES
        except OSError:
            return False

    def job_dir(self, job_id: str) -> Path:
        return self.jobs / job_id

    def events(self, job_id: str) -> Path:
        return self.job_dir(job_id) / EVENTS_FILENAME

    def log(self, job_id: str) -> Path:
        return self.job_dir(job_id) / LOG_FILENAME
