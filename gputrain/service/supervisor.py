"""The service's moving parts in one object: data dir, store, metrics, workers.

``start()`` takes the data-dir lock, stops trainers a crashed server left behind and
re-queues the jobs they were running, then starts one worker per device slot.
``begin_shutdown()`` (first SIGTERM) stops the workers from taking jobs and has them ask
their trainers to checkpoint; ``wait()`` lets them put those jobs back in the queue;
``kill_now()`` (second signal) kills every trainer at once.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import threading
import time

from gputrain.errors import GputrainError
from gputrain.service.constants import LOW_SPACE_BYTES, MAX_RECOVERIES, ORPHAN_GRACE_SECONDS
from gputrain.service.datadir import DataDir
from gputrain.service.devicepool import DevicePool
from gputrain.service.metrics import ServiceMetrics
from gputrain.service.nospace import NoSpace
from gputrain.service.runner import signal_group, stop_orphans
from gputrain.service.states import InvalidTransition, JobState
from gputrain.service.store import JobStore
from gputrain.service.worker import Slot, Worker

log = logging.getLogger("gputrain.service")


def visible_gpus(env_value: str | None) -> list[str] | None:
    """The GPUs this server was given (``CUDA_VISIBLE_DEVICES``: ordinals, ``GPU-``
    UUIDs or ``MIG-`` ids), in order; None when unset (every GPU, in PCI order)."""
    if env_value is None:
        return None
    return [item.strip() for item in env_value.split(",") if item.strip()]


def make_slots(devices: list[int] | None, workers: int | None,
               visible: list[str] | None = None) -> list[Slot]:
    """``--devices 0,1`` -> one GPU slot each; otherwise ``workers`` CPU slots (default 1).

    ``--devices`` counts the GPUs the server sees: with an inherited
    ``CUDA_VISIBLE_DEVICES=2,3`` (``visible``), device 0 is GPU 2. Each trainer sees its
    own GPU alone, as its device 0, named as the scheduler named it (an ordinal, a UUID or
    a MIG id), which is also how NVML finds it for the memory gauge."""
    if devices:
        if visible is not None and max(devices) >= len(visible):
            raise GputrainError(f"--devices {','.join(map(str, devices))}: "
                                f"CUDA_VISIBLE_DEVICES gives this server {len(visible)} GPU(s)")
        return [
            Slot(f"gpu:{d}", "gpu:0", {"CUDA_VISIBLE_DEVICES": str(d) if visible is None
                                       else visible[d], "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})
            for d in devices
        ]
    return [Slot(f"cpu:{i}", "cpu") for i in range(workers or 1)]


class Supervisor:
    def __init__(self, data: DataDir, slots: list[Slot], retain_days: float | None = None):
        self.data = data
        self.slots = slots
        self.retain_seconds = None if retain_days is None else retain_days * 86400.0
        self.store = JobStore(data.db)
        gpus = {s.name: s.env["CUDA_VISIBLE_DEVICES"] for s in slots if s.device != "cpu"}
        devices = sorted({s.name if s.device != "cpu" else "cpu" for s in slots})
        self.metrics = ServiceMetrics(self.store, devices, gpus)
        self.stopping = threading.Event()
        self.wake = threading.Condition()
        self.pool = DevicePool(slots)
        self.workers = [
            Worker(s, self.store, data, self.metrics, self.stopping, self.wake, self.pool)
            for s in slots
        ]

    def start(self) -> None:
        self.recover()
        for worker in self.workers:
            worker.start()
        if self.retain_seconds is not None:
            threading.Thread(target=self._retain, name="retention", daemon=True).start()

    def _retain(self) -> None:
        """Delete finished jobs (row and directory) older than ``--retain-days``, now and then
        every tenth of that period (at least every second, at most every hour)."""
        period = min(max(self.retain_seconds / 10, 1.0), 3600.0)
        while True:
            try:
                for job_id in self.store.finished_before(time.time() - self.retain_seconds):
                    try:
                        self.forget(job_id)
                    except (KeyError, InvalidTransition):  # deleted or retried meanwhile
                        continue
                    log.info("job %s deleted (finished more than %g days ago)", job_id,
                             self.retain_seconds / 86400)
            except NoSpace as e:  # deleting also writes; try again next round
                log.warning("retention: %s", e)
            if self.stopping.wait(period):
                return

    def forget(self, job_id: str) -> None:
        """Delete a finished job: its row, then its directory (outputs, checkpoints, logs)."""
        self.store.delete(job_id)
        shutil.rmtree(self.data.job_dir(job_id), ignore_errors=True)

    def recover(self) -> list[str]:
        """Re-queue the jobs a previous server left ``running`` (after stopping its trainers)."""
        running = self.store.list(JobState.RUNNING, limit=1_000_000)
        orphans = [(j.pid, str(self.data.job_dir(j.id))) for j in running if j.pid]
        if orphans:
            n = stop_orphans(orphans, ORPHAN_GRACE_SECONDS)
            log.info("stopped %d trainer(s) left by the previous server", n)
        for job in running:
            recoveries = job.recoveries + 1
            ended = job.updated_at  # last heard of: the time the server was down is no run time
            if job.cancel_requested:
                done = self.store.transition(job.id, JobState.CANCELLED, ended, error="cancelled")
                self.metrics.job_finished(done.kind, JobState.CANCELLED, done.run_seconds)
            elif recoveries > MAX_RECOVERIES:
                error = (f"the server died {recoveries} times while running this job "
                         "(out of memory?); not retried again")
                done = self.store.transition(job.id, JobState.FAILED, ended, error=error,
                                             recoveries=recoveries)
                self.metrics.job_finished(done.kind, JobState.FAILED, done.run_seconds)
                log.warning("job %s: %s", job.id, error)
            else:
                self.store.transition(job.id, JobState.QUEUED, ended, recoveries=recoveries)
                log.info("job %s was running when the server stopped; queued again", job.id)
        return [j.id for j in running]

    def notify(self) -> None:
        """A job was queued: wake an idle worker now rather than at its next poll."""
        with self.wake:
            self.wake.notify_all()

    def begin_shutdown(self) -> None:
        if not self.stopping.is_set():
            log.info("shutting down: no new jobs; running trainers checkpoint and stop")
        self.stopping.set()
        self.notify()

    def wait(self, timeout: float) -> bool:
        """Wait for the workers to finish their attempt; True if they all did in time."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in self.workers)

    def kill_now(self) -> None:
        for worker in self.workers:
            proc = worker.proc
            if proc is not None:
                signal_group(proc.pid, signal.SIGKILL)

    def readiness(self) -> dict[str, dict]:
        """/readyz: ``{check: {"ok": bool, "detail": str}}`` for the store, the workers and
        the devices."""
        try:
            self.store.check_writable()
            room = not self.data.out_of_space()
            store = {"ok": room, "detail": "writable" if room else
                     f"less than {LOW_SPACE_BYTES} bytes free in the data directory"}
        except (NoSpace, sqlite3.Error) as e:
            store = {"ok": False, "detail": str(e)}
        dead = [w.slot.name for w in self.workers if not w.is_alive()]
        if self.stopping.is_set():
            workers = {"ok": False, "detail": "shutting down"}
        else:
            workers = {"ok": not dead, "detail": f"not running: {', '.join(dead)}" if dead
                       else f"{len(self.workers)} running"}
        memory = self.metrics.memory
        unseen = memory.unseen() if memory is not None else []
        devices = {"ok": not unseen, "detail": f"NVML does not see GPU(s) {unseen}" if unseen
                   else ", ".join(self.device_names)}
        return {"store": store, "workers": workers, "devices": devices}

    @property
    def device_names(self) -> list[str]:
        return [s.name for s in self.slots]
