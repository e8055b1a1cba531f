"""Jobs on several devices: ``"devices": 2`` runs as 2 mpiexec ranks on GPUs of their own."""

import json

import pytest

from tests.distributed.conftest import needs_mpi

SPEC = {"kind": "w2v", "input": "c.txt", "params": {"dim": 16, "epochs": 2, "min_count": 1}}


def test_a_cpu_server_refuses_a_job_on_several_devices(start_server, tmp_path, make_corpus):
    server = start_server(None, "--workers", "1")
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 2_000).read_bytes())
        r = api.post("/jobs", json=SPEC | {"devices": 2})
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == ("devices: 2 is more than the 0 GPU(s) this server "
                                      "trains on (serve --devices)")
        r = api.post("/jobs", json=SPEC | {"devices": 0})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "devices"]
        assert api.get("/jobs").json() == []


@pytest.mark.gpu
def test_refused_without_mpiexec(start_server, tmp_path, make_corpus):
    server = start_server(None, "--devices", "0,1", env={"PATH": str(tmp_path / "empty")})
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 2_000).read_bytes())
        r = api.post("/jobs", json=SPEC | {"devices": 2})
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("devices: 2 needs MPI's mpiexec on the server")
        r = api.post("/jobs", json=SPEC | {"devices": 3})
        assert r.status_code == 400 and r.json()["detail"].startswith("devices: 3 is more "
                                                                      "than the 2 GPU(s)")


@needs_mpi
@pytest.mark.gpu
@pytest.mark.timeout(600)
def test_two_device_job_runs_as_two_ranks_and_a_one_device_job_waits(
        start_server, tmp_path, make_corpus, waiter):
    log = tmp_path / "standin.jsonl"
    server = start_server(None, "--devices", "0,1", env={"GPUTRAIN_STANDIN_LOG": str(log)})
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 30_000).read_bytes())
        big = api.post("/jobs", json=SPEC | {"devices": 2}).json()
        small = api.post("/jobs", json=SPEC).json()
        assert big["devices"] == 2 and small["devices"] == 1
        waiter(lambda: all(api.get(f"/jobs/{j['id']}").json()["state"] in
                           ("succeeded", "failed") for j in (big, small)), 500, "both jobs")
        big, small = (api.get(f"/jobs/{j['id']}").json() for j in (big, small))
    assert big["state"] == small["state"] == "succeeded", (big, small)
    assert small["started_at"] >= big["finished_at"]  # it waited: no GPU is shared
    events = [json.loads(line) for line in
              (server.data_dir / "jobs" / big["id"] / "events.jsonl").read_text().splitlines()]
    start = next(e for e in events if e["event"] == "start")
    assert start["ranks"] == 2 and start["device"] == "gpu:0"  # rank 0's
    seen = [json.loads(line)["visible"] for line in log.read_text().splitlines()]
    # the ranks saw both GPUs (the claiming worker's first; each rank took its own)
    assert [sorted(v) for v in seen].count([0, 1]) >= 2, seen
