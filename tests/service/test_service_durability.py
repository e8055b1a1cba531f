"""Jobs survive the server: kill -9 and SIGTERM mid-training, then a restart resumes them."""

import signal
import sqlite3
import time

import pytest

from gputrain.events import read_events

# the first checkpoint comes after ~1% of the run, so the test catches the trainer mid-run
# however fast it gets (0.9M words: about 2 s at 500k words/s on one core)
EPOCHS, CORPUS_WORDS = 6, 150_000
DOWNTIME = 3.0  # seconds between a kill -9 and the restart
W2V_PARAMS = {"dim": 16, "epochs": EPOCHS, "min_count": 1, "threads": 1,
              "checkpoint_every": 10_000}


def submit_w2v(server, corpus):
    with server.client() as api:
        assert api.put("/inputs/c.txt", content=corpus.read_bytes()).status_code == 201
        return api.post("/jobs", json={"kind": "w2v", "input": "c.txt",
                                       "params": W2V_PARAMS}).json()["id"]


def checkpointed_words(events_path) -> list[int]:
    return [e["words"] for e in read_events(events_path) if e["event"] == "checkpoint"]


def starts(events_path) -> list[dict]:
    return [e for e in read_events(events_path) if e["event"] == "start"]


def state_on_disk(data_dir, job_id):
    db = sqlite3.connect(data_dir / "jobs.sqlite3")
    try:
        return db.execute("SELECT state, attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
    finally:
        db.close()


def alive(pid: int) -> bool:
    try:
        return b"gputrain" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


@pytest.mark.slow
def test_kill_9_mid_training_then_restart_resumes_from_the_checkpoint(
        start_server, tmp_path, make_corpus, waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    job_id = submit_w2v(server, make_corpus(tmp_path / "c.txt", CORPUS_WORDS))
    events = data / "jobs" / job_id / "events.jsonl"
    waiter(lambda: checkpointed_words(events), 90, "a first checkpoint", poll=0.02)
    db = sqlite3.connect(data / "jobs.sqlite3")
    trainer_pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    db.close()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    assert state_on_disk(data, job_id) == ("running", 1)  # as the crash left it
    before = max(checkpointed_words(events))
    assert before < EPOCHS * CORPUS_WORDS

    time.sleep(DOWNTIME)  # the server is down: no run time for the job
    again = start_server(data, "--workers", "1")
    assert not alive(trainer_pid)  # the old trainer does not run on beside the new one
    with again.client() as api:
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["state"] in
               ("succeeded", "failed"), 120, "the resumed job to finish")
        job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    assert job["attempts"] == 2
    second = starts(events)[-1]
    assert len(starts(events)) == 2
    # the resumed run continued from a checkpoint, not from zero
    assert second["resumed_words"] >= before > 0
    assert job["metrics"]["words"] == second["total_words"] == EPOCHS * CORPUS_WORDS
    assert "was running when the server stopped; queued again" in again.log()
    assert job["run_seconds"] <= job["finished_at"] - job["created_at"] - DOWNTIME


@pytest.mark.slow
def test_kill_9_gives_the_trainer_exactly_one_checkpoint_from_the_parent_death_signal(
        start_server, tmp_path, make_corpus, waiter):
    """No periodic checkpoints: the only one is what the trainer writes when the server dies
    (the kernel signals it once per exiting server thread; several must not mean "stop now")."""
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    corpus = make_corpus(tmp_path / "c.txt", CORPUS_WORDS)
    with server.client() as api:
        assert api.put("/inputs/c.txt", content=corpus.read_bytes()).status_code == 201
        job_id = api.post("/jobs", json={"kind": "w2v", "input": "c.txt", "params": {
            **W2V_PARAMS, "epochs": 50, "checkpoint_every": 0}}).json()["id"]
    events = data / "jobs" / job_id / "events.jsonl"
    waiter(lambda: any(e["event"] == "progress" for e in read_events(events)), 90,
           "training progress", poll=0.02)
    db = sqlite3.connect(data / "jobs.sqlite3")
    trainer_pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    db.close()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    waiter(lambda: not alive(trainer_pid), 30, "the orphaned trainer to checkpoint and exit")
    assert len(checkpointed_words(events)) == 1, read_events(events)[-5:]
    saved = checkpointed_words(events)[0]
    assert 0 < saved < 50 * CORPUS_WORDS

    again = start_server(data, "--workers", "1")
    with again.client() as api:
        waiter(lambda: len(starts(events)) == 2, 60, "the job to start again")
        assert starts(events)[-1]["resumed_words"] == saved
        api.post(f"/jobs/{job_id}/cancel")


@pytest.mark.slow
def test_sigterm_checkpoints_requeues_and_exits_in_time(start_server, tmp_path, make_corpus,
                                                         waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    job_id = submit_w2v(server, make_corpus(tmp_path / "c.txt", CORPUS_WORDS))
    events = data / "jobs" / job_id / "events.jsonl"
    waiter(lambda: checkpointed_words(events), 90, "a first checkpoint", poll=0.02)
    t0 = time.monotonic()
    assert server.terminate(timeout=40) == 0
    assert time.monotonic() - t0 < 30
    assert state_on_disk(data, job_id) == ("queued", 1)
    stopped_at = max(checkpointed_words(events))  # the trainer's checkpoint on SIGTERM
    assert "stopped for shutdown (exit 75); queued again" in server.log()

    again = start_server(data, "--workers", "1")
    with again.client() as api:
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["state"] in
               ("succeeded", "failed"), 120, "the resumed job to finish")
        job = api.get(f"/jobs/{job_id}").json()
    assert job["state"] == "succeeded" and job["attempts"] == 2, job
    assert starts(events)[-1]["resumed_words"] == stopped_at > 0
    assert stopped_at < EPOCHS * CORPUS_WORDS  # it was stopped mid-run


def test_a_second_signal_exits_at_once_and_the_job_runs_again_later(start_server, tmp_path,
                                                                    make_table, waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    with server.client() as api:
        api.put("/inputs/t.csv", content=make_table(tmp_path / "t.csv", rows=200).read_bytes())
        job_id = api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": {
            "label": "label", "epochs": 100000, "patience": 0, "hidden": "4"}}).json()["id"]
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["progress"] > 0, 60, "progress")
    db = sqlite3.connect(data / "jobs.sqlite3")
    trainer_pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    db.close()
    t0 = time.monotonic()
    # back to back: a tiny trainer can checkpoint and the server finish its first stage
    # within any pause, and pending signals are handled in number order (INT before TERM)
    server.proc.send_signal(signal.SIGINT)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 128 + signal.SIGTERM
    assert time.monotonic() - t0 < 5
    waiter(lambda: not alive(trainer_pid), 5, "the trainer to be killed")
    # left for the next start: still "running" when the second signal cut the first
    # stage short, or already back in the queue when the trainer checkpointed in time
    assert state_on_disk(data, job_id) in {("running", 1), ("queued", 1)}

    again = start_server(data, "--workers", "1")
    with again.client() as api:
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["attempts"] == 2, 60, "a second run")
        assert api.post(f"/jobs/{job_id}/cancel").status_code == 200
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["state"] == "cancelled", 30, "cancel")
