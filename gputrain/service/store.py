"""Jobs persisted in SQLite (WAL) in DATA_DIR; every state change goes through here.

One connection, shared by the API threads and the workers under a lock; every write is its
own ``BEGIN IMMEDIATE`` transaction, committed with ``synchronous=FULL`` before the caller
hears about it, so an acknowledged submission survives ``kill -9`` and power loss. State
changes are checked against :mod:`gputrain.service.states` inside the same transaction that
writes them (compare and set): two workers can never claim the same job.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from gputrain.errors import GputrainError
from gputrain.service.constants import DB_FILE_MODE, SQLITE_BUSY_TIMEOUT_SECONDS
from gputrain.service.job import Job
from gputrain.service.nospace import NoSpace, is_full
from gputrain.service.states import InvalidTransition, JobState, check_transition

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    input TEXT NOT NULL,
    input_size INTEGER,
    input_sha256 TEXT,
    devices INTEGER NOT NULL DEFAULT 1,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_seconds REAL NOT NULL DEFAULT 0,
    recoveries INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS readiness (id INTEGER PRIMARY KEY, checked_at REAL NOT NULL);
"""
# columns added after version 1, with their types: added to an older database at open
ADDED_COLUMNS = (("input_size", "INTEGER"), ("input_sha256", "TEXT"),
                 ("devices", "INTEGER NOT NULL DEFAULT 1"))


class JobStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.exists():  # created private; SQLite gives -wal/-shm the same mode
            with contextlib.suppress(OSError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                 DB_FILE_MODE))
        try:
            self._db = sqlite3.connect(
                self.path,
                timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit; transactions are explicit below
                check_same_thread=False,
            )
        except sqlite3.Error as e:  # a directory, no permission...
            raise GputrainError(f"cannot open the job store {self.path}: {e}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            self._db.close()
            if is_full(e):
                raise GputrainError(f"{self.path}: {NoSpace(self.path.name)}") from None
            raise GputrainError(
                f"the job store {self.path} is damaged ({e}): move it away with its -wal and "
                "-shm files, then restore it from a backup or start without it (an empty "
                "store: its jobs are forgotten)"
            ) from None

    def _open(self) -> None:
        """Check the file (``PRAGMA quick_check``), then set up WAL and the schema."""
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(problems))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)  # idempotent (IF NOT EXISTS)
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}
        for name, sql_type in ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type}")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _write(self):
        """One transaction; a full disk is :class:`NoSpace` naming the database file."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                if not is_full(e):
                    raise
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise NoSpace(self.path.name) from None

    def _read(self, sql: str, args=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- reads ----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(rows[0]) if rows else None

    def list(self, state: JobState | None = None, limit: int = 100, newest_first: bool = True,
             after: str | None = None) -> list[Job]:
        """Up to ``limit`` jobs in submission order (``newest_first`` or not), starting after
        job ``after`` (a cursor: the last id of the previous page; KeyError if unknown)."""
        where, args = [], []
        if state is not None:
            where.append("state = ?")
            args.append(state.value)
        if after is not None:
            rows = self._read("SELECT seq FROM jobs WHERE id = ?", (after,))
            if not rows:
                raise KeyError(after)
            where.append("seq < ?" if newest_first else "seq > ?")
            args.append(rows[0]["seq"])
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        return [Job.from_row(r) for r in self._read(sql, (*args, limit))]

    def finished_before(self, when: float) -> list[str]:
        """Ids of the finished jobs that finished before ``when`` (seconds since the epoch)."""
        rows = self._read("SELECT id FROM jobs WHERE finished_at < ? AND state IN (?, ?, ?)",
                          (when, *(s.value for s in JobState if s.finished)))
        return [r["id"] for r in rows]

    def active_using(self, input_name: str) -> list[str]:
        """Ids of the queued and running jobs whose input is ``input_name``."""
        rows = self._read("SELECT id FROM jobs WHERE input = ? AND state IN (?, ?) ORDER BY seq",
                          (input_name, JobState.QUEUED.value, JobState.RUNNING.value))
        return [r["id"] for r in rows]

    def counts(self) -> dict[JobState, int]:
        rows = self._read("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        counts = {s: 0 for s in JobState}
        for r in rows:
            counts[JobState(r["state"])] = r["n"]
        return counts

    # -- writes ---------------------------------------------------------------------------
    def create(self, kind: str, input: str, params: dict, *, input_size: int | None = None,
               input_sha256: str | None = None, devices: int = 1) -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex[:16]
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, input, input_size, input_sha256, devices, params,"
                " state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, kind, input, input_size, input_sha256, devices, json.dumps(params),
                 JobState.QUEUED.value, now, now),
            )
        return self.get(job_id)

    def claim_next(self, worker: str, free_devices: int | None = None,
                   most_devices: int | None = None) -> Job | None:
        """Move the oldest queued job to ``running`` for ``worker``; None when none waits,
        or when it asks for more than the ``free_devices`` (None: any number) but no more
        than ``most_devices`` (it will fit later; a job that never can is claimed, for the
        worker to fail it). Jobs start in order: one waiting for devices holds back those
        queued after it."""
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT id, devices FROM jobs WHERE state = ? ORDER BY seq LIMIT 1",
                (JobState.QUEUED.value,),
            ).fetchone()
            if row is None:
                return None
            wanted = row["devices"]
            if free_devices is not None and free_devices < wanted <= (most_devices or wanted):
                return None
            db.execute(
                "UPDATE jobs SET state = ?, worker = ?, attempts = attempts + 1, pid = NULL,"
                " started_at = ?, updated_at = ? WHERE id = ? AND state = ?",
                (JobState.RUNNING.value, worker, now, now, row["id"], JobState.QUEUED.value),
            )
        return self.get(row["id"])

    def transition(self, job_id: str, wanted: JobState, ended_at: float | None = None,
                   **fields) -> Job:
        """Change a job's state (checked against the state machine) and other columns.

        Leaving ``running`` adds the attempt's run time, up to ``ended_at`` (default: now;
        after a crash, the last time the job was heard of: server downtime is no run time).
        """
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT state, started_at, run_seconds FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                raise KeyError(job_id)
            current = JobState(row["state"])
            check_transition(job_id, current, wanted)
            if current is JobState.RUNNING and row["started_at"] is not None:
                end = now if ended_at is None else ended_at
                fields["run_seconds"] = row["run_seconds"] + max(0.0, end - row["started_at"])
            if wanted.finished:
                fields.setdefault("finished_at", now)
            if wanted is JobState.QUEUED:
                fields.update(worker=None, pid=None)
            if wanted is not JobState.RUNNING:
                fields.setdefault("pid", None)
            self._update(db, job_id, state=wanted.value, updated_at=now, **fields)
        return self.get(job_id)

    def retry(self, job_id: str) -> Job:
        """Queue a failed job again (it resumes from its checkpoint when it has one)."""
        return self.transition(job_id, JobState.QUEUED, error=None, finished_at=None,
                               cancel_requested=0, recoveries=0)

    def delete(self, job_id: str) -> None:
        """Forget a finished job (InvalidTransition for a queued or running one)."""
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            state = JobState(row["state"])
            if not state.finished:
                raise InvalidTransition(job_id, state, None)
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def check_writable(self) -> None:
        """One real write (a row of its own), for /readyz: NoSpace or sqlite3.Error if not."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO readiness (id, checked_at) VALUES (1, ?)",
                       (time.time(),))

    def set_pid(self, job_id: str, pid: int | None) -> None:
        with self._write() as db:
            self._update(db, job_id, pid=pid)

    def update_progress(self, job_id: str, progress: float, metrics: dict) -> None:
        with self._write() as db:
            self._update(
                db, job_id, progress=progress, metrics=metrics, updated_at=time.time()
            )

    def request_cancel(self, job_id: str) -> Job:
        """Cancel a queued job now; flag a running one for its worker to stop."""
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            state = JobState(row["state"])
            check_transition(job_id, state, JobState.CANCELLED)
            now = time.time()
            if state is JobState.QUEUED:
                self._update(
                    db, job_id, state=JobState.CANCELLED.value, finished_at=now, updated_at=now
                )
            else:
                self._update(db, job_id, cancel_requested=1, updated_at=now)
        return self.get(job_id)

    @staticmethod
    def _update(db: sqlite3.Connection, job_id: str, **fields) -> None:
        for key in ("params", "metrics"):
            if key in fields:
                fields[key] = json.dumps(fields[key])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*fields.values(), job_id))


__all__ = ["Job", "JobStore", "InvalidTransition"]
