"""Real jobs through a real server: word2vec and MLP end to end, via HTTP and `gputrain jobs`."""

import os
import subprocess
import sys

import numpy as np
import pytest

from gputrain.backend import CPU
from gputrain.mlp.evaluate import evaluate_file
from gputrain.vectors.keyedvectors import KeyedVectors


def gputrain(*args, server=None, timeout=180):
    env = {k: v for k, v in os.environ.items() if k != "GPUTRAIN_TOKEN"}
    if server is not None:
        env["GPUTRAIN_SERVER"] = server.url
    return subprocess.run([sys.executable, "-m", "gputrain", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.mark.slow
def test_w2v_and_mlp_jobs_end_to_end(start_server, tmp_path, make_corpus, make_table):
    server = start_server(None, "--workers", "2")
    corpus = make_corpus(tmp_path / "corpus.txt", 40_000)
    table = make_table(tmp_path / "table.csv", rows=300)

    r = gputrain("jobs", "submit", "w2v", "corpus.txt", "--upload", str(corpus), "-p", "dim=16",
                 "-p", "epochs=3", "-p", "min_count=1", "-p", "threads=1", server=server)
    assert r.returncode == 0, r.stderr
    w2v_id = r.stdout.strip()
    with server.client() as api:
        assert api.put("/inputs/tables/t.csv", content=table.read_bytes()).status_code == 201
        mlp = api.post("/jobs", json={"kind": "mlp", "input": "tables/t.csv", "params": {
            "label": "label", "epochs": 8, "hidden": "16", "lr": 0.01, "seed": 1}}).json()
        assert mlp["state"] == "queued"

        r = gputrain("jobs", "wait", w2v_id, "--timeout", "150", server=server)
        assert r.returncode == 0 and "succeeded" in r.stdout, r.stdout + r.stderr
        r = gputrain("jobs", "wait", mlp["id"], "--timeout", "150", "--json", server=server)
        assert r.returncode == 0, r.stdout + r.stderr

        # word2vec: artifacts, download, load, query
        names = {a["name"] for a in api.get(f"/jobs/{w2v_id}/artifacts").json()}
        assert {"vectors.bin", "events.jsonl", "trainer.log"} <= names
        r = gputrain("jobs", "download", w2v_id, "vectors.bin", "-o", str(tmp_path / "v.bin"),
                     server=server)
        assert r.returncode == 0, r.stderr
        kv = KeyedVectors.load(tmp_path / "v.bin")
        assert len(kv) == 120 and kv.vector_size == 16
        assert np.isfinite(kv.vectors).all()
        hits = api.get(f"/models/{w2v_id}/neighbors", params={"word": "royal3", "n": 5}).json()
        same_topic = [h["word"] for h in hits["neighbors"] if h["word"].startswith("royal")]
        assert len(same_topic) >= 4, hits  # the corpus keeps topics apart
        assert hits["neighbors"] == [{"word": w, "similarity": pytest.approx(s, abs=1e-5)}
                                     for w, s in kv.most_similar("royal3", topn=5)]
        # the vectors were read once: queries go on without the file
        (server.data_dir / "jobs" / w2v_id / "vectors.bin").rename(tmp_path / "moved.bin")
        again = api.get(f"/models/{w2v_id}/neighbors", params={"word": "royal3", "n": 5})
        assert again.status_code == 200 and again.json() == hits
        r = api.get(f"/models/{w2v_id}/analogy", params={"a": "royal1", "b": "royal2",
                                                          "c": "fruit1", "n": 3})
        assert r.status_code == 200 and len(r.json()["answers"]) == 3
        assert {"royal1", "royal2", "fruit1"}.isdisjoint(a["word"] for a in r.json()["answers"])
        r = api.get(f"/models/{w2v_id}/neighbors", params={"word": "unicorn"})
        assert r.status_code == 404 and "unicorn" in r.json()["detail"]

        # MLP: the model directory downloads and evaluates
        done = api.get(f"/jobs/{mlp['id']}").json()
        assert done["state"] == "succeeded" and done["progress"] == 1.0
        assert done["metrics"]["epoch"] == 8 and "accuracy" in done["metrics"]
        (tmp_path / "model").mkdir()
        for name in ("model/model.json", "model/weights.npz"):
            r = api.get(f"/jobs/{mlp['id']}/artifacts/{name}")
            assert r.status_code == 200
            (tmp_path / name).write_bytes(r.content)
        scores = evaluate_file(tmp_path / "model", table, CPU)
        assert scores["rows"] == 300 and scores["accuracy"] > 0.8  # label = a + b > 0

        # the job list and the metrics agree
        r = gputrain("jobs", "list", "--state", "succeeded", server=server)
        assert w2v_id in r.stdout and mlp["id"] in r.stdout
        text = api.get("/metrics").text
        w2v = api.get(f"/jobs/{w2v_id}").json()
    assert metric(text, 'gputrain_jobs{state="succeeded"}') == 2
    assert metric(text, 'gputrain_jobs_finished_total{kind="w2v",outcome="succeeded"}') == 1
    assert metric(text, 'gputrain_jobs_finished_total{kind="mlp",outcome="succeeded"}') == 1
    assert metric(text, 'gputrain_job_duration_seconds_count{kind="mlp"}') == 1
    assert metric(text, "gputrain_train_words_total") == w2v["metrics"]["words"] > 100_000
    assert 'gputrain_train_loss{kind="mlp"}' in text
    assert 'gputrain_build_info{device="cpu",version="0.1.0"} 1.0' in text


def test_a_failing_job_ends_failed_with_its_error_and_the_worker_goes_on(start_server, tmp_path,
                                                                        make_table):
    server = start_server(None, "--workers", "1")
    with server.client() as api:
        api.put("/inputs/t.csv", content=make_table(tmp_path / "t.csv", rows=30).read_bytes())
        words = "a,b,label\n" + "1,2,yes\n3,4,no\n" * 10  # found out only when the rows are read
        api.put("/inputs/words.csv", content=words.encode())
        bad = api.post("/jobs", json={"kind": "mlp", "input": "words.csv",
                                      "params": {"label": "label", "task": "regress"}}).json()
        nan = api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": {
            "label": "label", "epochs": 3, "optimizer": "sgd", "lr": 1e30}}).json()
        good = api.post("/jobs", json={"kind": "mlp", "input": "t.csv", "params": {
            "label": "label", "epochs": 1, "hidden": "4"}}).json()
        r = gputrain("jobs", "wait", good["id"], "--timeout", "120", server=server)
        assert r.returncode == 0, r.stdout + r.stderr
        failed = api.get(f"/jobs/{bad['id']}").json()
        assert failed["state"] == "failed"
        assert "regression needs a numeric label" in failed["error"], failed
        assert "\n" not in failed["error"] and str(server.data_dir) not in failed["error"]
        diverged = api.get(f"/jobs/{nan['id']}").json()
        assert diverged["state"] == "failed", diverged
        assert diverged["error"].startswith("training diverged"), diverged
        r = gputrain("jobs", "wait", bad["id"], server=server)
        assert r.returncode == 1 and "numeric label" in r.stdout
        r = gputrain("jobs", "show", "nope", server=server)
        assert r.returncode == 2 and r.stderr.startswith("error: server said 404")
        r = gputrain("jobs", "submit", "mlp", "t.csv", "-p", "epochs=many", server=server)
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        assert r.stderr.startswith("error: server said 422 for POST /jobs: params.epochs: ")
