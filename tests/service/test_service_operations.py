"""Operating the service: readiness, paging, retry, deletion, and metrics that add up."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys

from gputrain.events import read_events

SLOW = {"label": "label", "epochs": 100000, "patience": 0, "hidden": "8", "val_split": 0,
        "batch_size": 4}


def finished_total(metrics_text: str, kind: str, outcome: str) -> float:
    match = re.search(rf'gputrain_jobs_finished_total{{kind="{kind}",outcome="{outcome}"}} (\S+)',
                      metrics_text)
    return float(match.group(1))


def jobs_cli(server, *args):
    return subprocess.run([sys.executable, "-m", "gputrain", "jobs", *args, "--server",
                           server.url], capture_output=True, text=True, timeout=60)


def test_paging_deleting_and_cancelled_queued_jobs_counted(start_server, tmp_path, make_table,
                                                           waiter):
    server = start_server(None, "--workers", "1")
    with server.client() as api:
        ready = api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        assert set(ready.json()["checks"]) == {"store", "workers", "devices"}
        api.put("/inputs/t.csv", content=make_table(tmp_path / "t.csv").read_bytes())
        ids = [api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": SLOW})
               .json()["id"] for _ in range(5)]
        waiter(lambda: api.get(f"/jobs/{ids[0]}").json()["state"] == "running", 60, "a start")

        assert [j["id"] for j in api.get("/jobs").json()] == ids[::-1]  # newest first
        assert [j["id"] for j in api.get("/jobs", params={"order": "oldest"}).json()] == ids
        page = api.get("/jobs", params={"limit": 2})
        assert [j["id"] for j in page.json()] == [ids[4], ids[3]]
        after = page.headers["X-Next-Cursor"]
        page = api.get("/jobs", params={"limit": 2, "after": after})
        assert [j["id"] for j in page.json()] == [ids[2], ids[1]]
        last = api.get("/jobs", params={"limit": 2, "after": page.headers["X-Next-Cursor"]})
        assert [j["id"] for j in last.json()] == [ids[0]] and "X-Next-Cursor" not in last.headers
        assert api.get("/jobs", params={"after": "nope"}).status_code == 404
        r = jobs_cli(server, "list", "--all", "--order", "oldest", "--json")
        assert r.returncode == 0, r.stderr
        assert [j["id"] for j in json.loads(r.stdout)] == ids
        r = jobs_cli(server, "list", "--limit", "1")
        assert r.returncode == 0 and ids[4] in r.stdout and ids[3] not in r.stdout

        before = finished_total(api.get("/metrics").text, "mlp", "cancelled")
        for job_id in ids[1:]:
            assert api.post(f"/jobs/{job_id}/cancel").json()["state"] == "cancelled"
        assert finished_total(api.get("/metrics").text, "mlp", "cancelled") == before + 4

        assert api.delete(f"/jobs/{ids[0]}").status_code == 409  # running: cancel it first
        assert api.delete("/inputs/t.csv").status_code == 409  # the running job's input
        assert (server.data_dir / "jobs" / ids[0]).is_dir()
        api.post(f"/jobs/{ids[0]}/cancel")
        waiter(lambda: api.get(f"/jobs/{ids[0]}").json()["state"] == "cancelled", 30, "cancel")
        assert finished_total(api.get("/metrics").text, "mlp", "cancelled") == before + 5
        assert api.delete(f"/jobs/{ids[0]}").status_code == 204
        assert api.get(f"/jobs/{ids[0]}").status_code == 404
        assert not (server.data_dir / "jobs" / ids[0]).exists()
        assert jobs_cli(server, "delete", ids[1]).returncode == 0
        assert api.get(f"/jobs/{ids[1]}").status_code == 404
        assert api.delete("/inputs/t.csv").status_code == 204
        assert api.delete("/inputs/t.csv").status_code == 404
        assert not (server.data_dir / "inputs" / "t.csv").exists()


def test_retry_resumes_a_trainer_killed_like_by_the_oom_killer(start_server, tmp_path,
                                                               make_corpus, waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 150_000).read_bytes())
        job_id = api.post("/jobs", json={"kind": "w2v", "input": "c.txt", "params": {
            "dim": 16, "epochs": 6, "min_count": 1, "threads": 1,
            "checkpoint_every": 10_000}}).json()["id"]
        events = data / "jobs" / job_id / "events.jsonl"
        waiter(lambda: any(e["event"] == "checkpoint" for e in read_events(events)), 90,
               "a checkpoint", poll=0.02)
        db = sqlite3.connect(data / "jobs.sqlite3")
        pid = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        db.close()
        os.kill(pid, signal.SIGKILL)  # what the OOM killer does
        job = waiter(lambda: (j := api.get(f"/jobs/{job_id}").json())["state"] == "failed"
                     and j, 60, "the job to fail")
        assert "killed by SIGKILL" in job["error"]
        r = api.post(f"/jobs/{job_id}/retry")
        assert r.status_code == 200 and r.json()["state"] == "queued" and not r.json()["error"]
        job = waiter(lambda: (j := api.get(f"/jobs/{job_id}").json())["state"]
                     in ("succeeded", "failed") and j, 120, "the retried job")
        assert job["state"] == "succeeded" and job["attempts"] == 2, job
        starts = [e for e in read_events(events) if e["event"] == "start"]
        assert starts[-1]["resumed_words"] > 0  # from the checkpoint, not from zero
        assert api.post(f"/jobs/{job_id}/retry").status_code == 409  # only failed jobs


def test_retention_deletes_finished_jobs_and_their_files(start_server, tmp_path, make_table,
                                                         waiter):
    # 2e-5 days = 1.7 s: the sweep comes every second
    server = start_server(None, "--workers", "1", "--retain-days", "0.00002")
    with server.client() as api:
        api.put("/inputs/t.csv", content=make_table(tmp_path / "t.csv").read_bytes())
        running = api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": SLOW}).json()
        quick = api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": {
            "label": "label", "epochs": 1, "hidden": "4"}}).json()
        api.post(f"/jobs/{quick['id']}/cancel")  # queued: finished now
        waiter(lambda: api.get(f"/jobs/{quick['id']}").status_code == 404, 30,
               "the finished job to be deleted")
        assert api.get(f"/jobs/{running['id']}").json()["state"] == "running"  # kept
        assert f"job {quick['id']} deleted" in server.log()
        api.post(f"/jobs/{running['id']}/cancel")
        job_dir = server.data_dir / "jobs" / running["id"]
        # the row goes first (it checks the job is finished), then the directory
        waiter(lambda: api.get(f"/jobs/{running['id']}").status_code == 404
               and not job_dir.exists(), 60, "the cancelled job and its files to be deleted")
