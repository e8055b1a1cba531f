import sqlite3
import threading

import pytest

from gputrain.service.states import TRANSITIONS, InvalidTransition, JobState
from gputrain.service.store import JobStore


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite3")
    yield s
    s.close()


def test_jobs_persist_across_reopen_in_wal_mode(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    first = JobStore(path)
    job = first.create("w2v", "corpus.txt", {"dim": 50, "cbow": True})
    first.close()
    again = JobStore(path)
    loaded = again.get(job.id)
    assert loaded.state is JobState.QUEUED
    assert loaded.params == {"dim": 50, "cbow": True}
    assert loaded.input == "corpus.txt"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again.close()


def test_claim_takes_oldest_first_and_counts_attempts(store):
    ids = [store.create("mlp", f"t{i}.csv", {}).id for i in range(3)]
    job = store.claim_next("cpu:0")
    assert job.id == ids[0] and job.state is JobState.RUNNING and job.attempts == 1
    store.transition(job.id, JobState.QUEUED)  # shutdown puts it back, at the front
    again = store.claim_next("cpu:1")
    assert again.id == ids[0] and again.attempts == 2 and again.worker == "cpu:1"
    assert store.counts()[JobState.QUEUED] == 2


def test_state_machine_refuses_illegal_moves(store):
    job = store.create("mlp", "t.csv", {})
    with pytest.raises(InvalidTransition):
        store.transition(job.id, JobState.SUCCEEDED)  # never ran
    store.claim_next("cpu:0")
    done = store.transition(job.id, JobState.SUCCEEDED, progress=1.0)
    assert done.finished_at is not None and done.run_seconds >= 0
    for wanted in JobState:
        with pytest.raises(InvalidTransition):
            store.transition(job.id, wanted)
    with pytest.raises(InvalidTransition, match="succeeded; it cannot become cancelled"):
        store.request_cancel(job.id)
    assert not TRANSITIONS[JobState.CANCELLED]
    assert TRANSITIONS[JobState.FAILED] == {JobState.QUEUED}  # a retry, nothing else


def test_cancel_queued_is_immediate_running_is_flagged(store):
    queued = store.create("mlp", "a.csv", {})
    running = store.create("mlp", "b.csv", {})
    store.claim_next("cpu:0")  # takes `queued` (oldest)
    store.claim_next("cpu:1")
    assert store.request_cancel(running.id).cancel_requested
    assert store.get(running.id).state is JobState.RUNNING
    store.transition(queued.id, JobState.QUEUED)
    cancelled = store.request_cancel(queued.id)
    assert cancelled.state is JobState.CANCELLED and cancelled.finished_at is not None


def test_concurrent_claims_hand_out_each_job_exactly_once(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    stores = [JobStore(path), JobStore(path)]  # two connections, as two processes would
    ids = {stores[0].create("mlp", f"t{i}.csv", {}).id for i in range(50)}
    claimed, lock = [], threading.Lock()

    def claim_all(store, name):
        while (job := store.claim_next(name)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(stores[i % 2], f"w{i}"))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # all 50, none twice
    assert stores[1].counts()[JobState.RUNNING] == 50
    for s in stores:
        s.close()


def test_run_seconds_accumulate_over_attempts(store, monkeypatch):
    import gputrain.service.store as store_mod

    clock = iter([100.0, 100.0, 130.0, 200.0, 210.0, 210.0])
    monkeypatch.setattr(store_mod.time, "time", lambda: next(clock))
    job = store.create("w2v", "c.txt", {})  # t=100
    store.claim_next("gpu:0")  # started 100
    store.transition(job.id, JobState.QUEUED)  # 130: +30 s
    store.claim_next("gpu:0")  # started 200
    done = store.transition(job.id, JobState.FAILED, error="boom")  # 210: +10 s
    assert done.run_seconds == pytest.approx(40.0)
    assert done.error == "boom" and done.pid is None


def test_a_version_1_database_gains_the_input_columns(tmp_path):
    from gputrain.service.store import SCHEMA

    path = tmp_path / "jobs.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA.replace("    input_size INTEGER,\n", "")
                      .replace("    input_sha256 TEXT,\n", ""))
    old.execute("INSERT INTO jobs (id, kind, input, params, state, created_at, updated_at)"
                " VALUES ('old', 'w2v', 'c.txt', '{}', 'queued', 0, 0)")
    old.commit()
    old.close()
    store = JobStore(path)
    assert store.get("old").input_sha256 is None
    new = store.create("w2v", "c.txt", {}, input_size=3, input_sha256="ab")
    assert store.get(new.id).public()["input_sha256"] == "ab"
    store.close()
