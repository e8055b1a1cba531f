"""Workers: one thread per device slot, one trainer subprocess at a time.

A job asking for several devices (``"devices": N``) runs as ``mpiexec -n N`` on the
claiming worker's GPU and N-1 GPUs lent by idle workers (:mod:`~gputrain.service.devicepool`);
each rank takes its own of the N GPUs the launch sees.

A worker claims the oldest queued job, starts its trainer, follows its events (progress,
metrics), and ends the attempt in exactly one state:

- exit 0 -> ``succeeded``; a cancel request -> ``cancelled`` (SIGTERM, SIGKILL after a grace);
- server shutting down and the trainer checkpointed (exit 75) or had to be killed ->
  ``queued`` again (it resumes from its checkpoint at the next start);
- anything else -> ``failed`` with the trainer's one-line error, and the worker goes on.

A full disk never stops a worker: a state it cannot record is retried every
:data:`NO_SPACE_RETRY_SECONDS` until space is back (or the server stops: the next start
re-queues the job), and the queue is polled again at the same pace.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from gputrain.service import specs
from gputrain.service.constants import (
    CANCEL_GRACE_SECONDS,
    ERROR_MESSAGE_CHARS,
    HEARTBEAT_SECONDS,
    NO_SPACE_RETRY_SECONDS,
    TAIL_POLL_SECONDS,
    TRAINER_STOP_SECONDS,
    WORKER_POLL_SECONDS,
)
from gputrain.service.datadir import DataDir
from gputrain.service.devicepool import DevicePool
from gputrain.service.inputs import input_changed
from gputrain.service.metrics import ServiceMetrics
from gputrain.service.nospace import NoSpace, is_full
from gputrain.service.progress import EventTail, LiveJob, resume_point
from gputrain.service.runner import (
    error_message,
    kill_session,
    mpi_launch,
    signal_group,
    spawn,
    trainer_env,
)
from gputrain.service.states import JobKind, JobState
from gputrain.service.store import Job, JobStore
from gputrain.stopping import EXIT_CHECKPOINTED

log = logging.getLogger("gputrain.service")

# exit statuses that mean "stopped because we asked", when the server is shutting down
_STOPPED = {EXIT_CHECKPOINTED, -signal.SIGTERM, -signal.SIGKILL}


@dataclass(frozen=True)
class Slot:
    name: str  # worker name in the store and logs, e.g. "gpu:1" or "cpu:0"
    device: str  # the trainer's --device
    env: dict = field(default_factory=dict)  # extra environment (CUDA_VISIBLE_DEVICES)


class Worker(threading.Thread):
    def __init__(self, slot: Slot, store: JobStore, data: DataDir, metrics: ServiceMetrics,
                 stopping: threading.Event, wake: threading.Condition,
                 pool: DevicePool | None = None):
        super().__init__(name=f"worker-{slot.name}", daemon=True)
        self.slot, self.store, self.data, self.metrics = slot, store, data, metrics
        self.stopping, self.wake = stopping, wake
        self.pool = pool or DevicePool([slot])
        self.proc: subprocess.Popen | None = None
        self.slots: list[Slot] = [slot]  # the devices of the job running now
        self._last_write = 0.0

    def _claim(self) -> Job | None:
        """The next job, with its devices taken; None while none fits (or this worker's
        GPU is lent to another worker's job)."""
        with self.pool.lock:
            if self.pool.lent(self.slot):
                return None
            free, most = self.pool.room(self.slot)
            job = self.store.claim_next(self.slot.name, free, most)
            if job is not None and job.devices <= most:
                self.slots = self.pool.take(self.slot, job.devices)
            return job

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self._claim()
            except NoSpace as e:
                log.warning("worker %s: %s; trying again in %.0f s", self.slot.name, e,
                            NO_SPACE_RETRY_SECONDS)
                self.stopping.wait(NO_SPACE_RETRY_SECONDS)
                continue
            if job is None:
                with self.wake:
                    self.wake.wait(WORKER_POLL_SECONDS)
                continue
            try:
                self.run_job(job)
            except Exception as e:  # a bug or a full disk here must not take the worker down
                if is_full(e):
                    error = str(NoSpace(f"the job directory jobs/{job.id}/"))
                else:
                    log.exception("worker %s: job %s", self.slot.name, job.id)
                    error = f"internal error: {type(e).__name__}: {e}"
                try:
                    self._finish(job, JobState.FAILED, error=error)
                except Exception:
                    log.exception("worker %s: could not mark job %s failed", self.slot.name,
                                  job.id)
            finally:
                self._release()

    def _release(self) -> None:
        """Give the job's devices back and wake the workers that lent theirs."""
        if len(self.slots) > 1 or self.slot.device != "cpu":
            self.pool.give_back(self.slots)
            self.slots = [self.slot]
            with self.wake:
                self.wake.notify_all()

    def run_job(self, job: Job) -> None:
        job_dir = self.data.job_dir(job.id)
        job_dir.mkdir(parents=True, exist_ok=True)
        events = self.data.events(job.id)
        kind = JobKind(job.kind)
        try:  # checked at submission; a symlink may have changed since
            argv, resuming = specs.job_argv(
                kind, job.input, job.params, job_dir, self.data.inputs, self.slot.device, events
            )
        except specs.SpecError as e:
            self._finish(job, JobState.FAILED, error=str(e))
            return
        if job.devices > len(self.slots):  # a server restarted with fewer GPUs
            self._finish(job, JobState.FAILED, error=f"devices: the job asks for {job.devices}; "
                         f"this server trains on {self.pool.size} GPU(s)")
            return
        changed = input_changed(self.data.inputs, job.input, job.input_size, job.input_sha256)
        if changed:
            self._finish(job, JobState.FAILED, error=f"{changed}; submit it again")
            return
        argv = [sys.executable, "-m", "gputrain", *argv]
        env = dict(self.slot.env)
        if job.devices > 1:  # N ranks, each on its own of the N GPUs they see
            argv, mpi_env = mpi_launch(argv, job.devices)
            env.update(mpi_env, CUDA_VISIBLE_DEVICES=",".join(
                s.env["CUDA_VISIBLE_DEVICES"] for s in self.slots))
        live = LiveJob(job.kind, job.progress, dict(job.metrics))
        live.words_seen = resume_point(events) if resuming else 0
        tail = EventTail.at_end(events)
        log.info("job %s attempt %d on %s%s", job.id, job.attempts, self.slot.name,
                 " (resuming from checkpoint)" if resuming else "")
        self.metrics.board.start(job.id, live)
        try:
            self.proc = spawn(argv, trainer_env(env), job_dir, self.data.log(job.id))
        except OSError as e:
            self.metrics.board.finish(job.id)
            self._finish(job, JobState.FAILED, error=f"cannot start the trainer: {e}")
            return
        try:
            with contextlib.suppress(NoSpace):  # only a later start's orphan check needs it
                self.store.set_pid(job.id, self.proc.pid)
            rc, cancelled = self._follow(job, tail, live)
        finally:
            signal_group(self.proc.pid, signal.SIGKILL)  # anything the trainer left behind
            if job.devices > 1:
                kill_session(self.proc.pid)  # the ranks (process groups of their own)
            self.proc = None
            self.metrics.board.finish(job.id)
        self._absorb(job, tail, live)
        if live.diverged:
            self._finish(job, JobState.FAILED, error=live.diverged, metrics=live.metrics)
        elif rc == 0:
            self._finish(job, JobState.SUCCEEDED, progress=1.0, metrics=live.metrics)
        elif cancelled:
            self._finish(job, JobState.CANCELLED, error="cancelled", metrics=live.metrics)
        elif self.stopping.is_set() and (rc in _STOPPED or (job.devices > 1 and rc == 1)):
            # (mpiexec exits 1 when its ranks checkpointed and exited 75)
            log.info("job %s stopped for shutdown (exit %s); queued again", job.id, rc)
            self._record(job, lambda: self.store.transition(job.id, JobState.QUEUED,
                                                            metrics=live.metrics))
        else:
            message = error_message(self.data.log(job.id), rc)
            if self.data.out_of_space():  # the trainer could not even log why, maybe
                message = f"{NoSpace(f'the job directory jobs/{job.id}/')} (trainer: {message})"
            self._finish(job, JobState.FAILED, error=message, metrics=live.metrics)

    def _follow(self, job: Job, tail: EventTail, live: LiveJob) -> tuple[int, bool]:
        """Wait for the trainer, following its events and cancel/stop requests."""
        proc = self.proc
        cancelled = stop_sent = False
        kill_at = None
        while True:
            try:
                return proc.wait(timeout=TAIL_POLL_SECONDS), cancelled
            except subprocess.TimeoutExpired:
                pass
            self._absorb(job, tail, live)
            if live.diverged:  # a NaN loss never recovers: no checkpoint worth writing
                signal_group(proc.pid, signal.SIGKILL)
                return proc.wait(), cancelled
            now = time.monotonic()
            if not cancelled and self._cancel_requested(job.id):
                cancelled = True
                signal_group(proc.pid, signal.SIGTERM)
                kill_at = now + CANCEL_GRACE_SECONDS
            elif not stop_sent and not cancelled and self.stopping.is_set():
                stop_sent = True
                signal_group(proc.pid, signal.SIGTERM)  # the trainer checkpoints, exits 75
                kill_at = now + TRAINER_STOP_SECONDS
            if kill_at is not None and now > kill_at:
                signal_group(proc.pid, signal.SIGKILL)
                kill_at = None

    def _cancel_requested(self, job_id: str) -> bool:
        job = self.store.get(job_id)
        return job is not None and job.cancel_requested

    def _absorb(self, job: Job, tail: EventTail, live: LiveJob) -> None:
        events = tail.read_new()
        if not events:
            if time.monotonic() - self._last_write > HEARTBEAT_SECONDS:
                self._save_progress(job, live)  # updated_at: when the job was last heard of
            return
        new_words = live.apply(events)
        if new_words > 0:
            self.metrics.words.inc(new_words)
        self.metrics.board.update(live)
        self._save_progress(job, live)

    def _save_progress(self, job: Job, live: LiveJob) -> None:
        self._last_write = time.monotonic()
        try:
            self.store.update_progress(job.id, live.progress, live.metrics)
        except NoSpace:  # progress is advisory: the final state is what must be recorded
            pass

    def _record(self, job: Job, write):
        """``write()`` to the store, retried while the disk is full; None if the server
        stops first (the job stays ``running`` and the next start re-queues it)."""
        warned = False
        while True:
            try:
                return write()
            except NoSpace as e:
                if not warned:
                    log.warning("job %s: %s; retrying every %.0f s until there is space",
                                job.id, e, NO_SPACE_RETRY_SECONDS)
                    warned = True
            if self.stopping.wait(NO_SPACE_RETRY_SECONDS):
                return None

    def _finish(self, job: Job, state: JobState, **fields) -> None:
        if fields.get("error"):
            fields["error"] = self.data.redact(fields["error"])[:ERROR_MESSAGE_CHARS]
        done = self._record(job, lambda: self.store.transition(job.id, state, **fields))
        if done is None:
            return
        self.metrics.job_finished(done.kind, state, done.run_seconds)
        log.info("job %s %s%s", job.id, state.value, f": {done.error}" if done.error else "")
