"""What a server start does with the jobs and trainers a dead server left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from gputrain.service import supervisor as supervisor_mod
from gputrain.service.datadir import DataDir
from gputrain.service.states import JobState
from gputrain.service.supervisor import Supervisor, make_slots

IGNORES_SIGTERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "time.sleep(60)")


@pytest.fixture
def sup(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor_mod, "ORPHAN_GRACE_SECONDS", 1.0)
    s = Supervisor(DataDir(tmp_path / "data").create(), make_slots(None, 1))
    yield s
    s.store.close()


def fake_trainer(job_dir, code="import time; time.sleep(60)"):
    """A process that looks like a trainer of ``job_dir`` (argv names gputrain and the dir)."""
    return subprocess.Popen([sys.executable, "-c", code, "gputrain", str(job_dir)],
                            start_new_session=True)


def test_orphaned_trainers_are_stopped_and_their_jobs_requeued(sup):
    polite = sup.store.create("w2v", "a.txt", {})
    stubborn = sup.store.create("w2v", "b.txt", {})
    stranger = sup.store.create("w2v", "c.txt", {})
    procs = {}
    for job, code in ((polite, "import time; time.sleep(60)"), (stubborn, IGNORES_SIGTERM)):
        sup.store.claim_next("cpu:0")
        procs[job.id] = fake_trainer(sup.data.job_dir(job.id), code)
        sup.store.set_pid(job.id, procs[job.id].pid)
    sup.store.claim_next("cpu:0")
    sup.store.set_pid(stranger.id, os.getpid())  # a reused PID: not a trainer of that job
    time.sleep(0.3)  # let the stubborn one install its handler
    t0 = time.monotonic()
    try:
        assert sorted(sup.recover()) == sorted([polite.id, stubborn.id, stranger.id])
        assert procs[polite.id].wait(5) == -signal.SIGTERM
        assert procs[stubborn.id].wait(5) == -signal.SIGKILL  # after the grace period
        assert time.monotonic() - t0 < 8
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    for job in (polite, stubborn, stranger):
        again = sup.store.get(job.id)
        assert again.state is JobState.QUEUED and again.pid is None and again.recoveries == 1


def test_a_job_that_keeps_killing_the_server_is_failed(sup):
    job = sup.store.create("mlp", "t.csv", {})
    for _ in range(supervisor_mod.MAX_RECOVERIES):
        sup.store.claim_next("cpu:0")
        sup.recover()
        assert sup.store.get(job.id).state is JobState.QUEUED
    sup.store.claim_next("cpu:0")
    sup.recover()
    failed = sup.store.get(job.id)
    assert failed.state is JobState.FAILED
    assert failed.error.startswith("the server died 4 times while running this job")


def test_a_cancel_requested_before_the_crash_is_honoured(sup):
    job = sup.store.create("mlp", "t.csv", {})
    sup.store.claim_next("cpu:0")
    sup.store.request_cancel(job.id)
    sup.recover()
    assert sup.store.get(job.id).state is JobState.CANCELLED
