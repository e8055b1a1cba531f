"""50 concurrent submissions: all persisted, all run, none lost or run twice."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from gputrain.events import read_events

N_JOBS = 50


@pytest.mark.slow
def test_fifty_concurrent_submissions_run_exactly_once(start_server, tmp_path, make_corpus,
                                                       waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "4")
    corpus = make_corpus(tmp_path / "c.txt", 2_000)
    params = {"dim": 8, "epochs": 1, "min_count": 1, "threads": 1, "no_plot": True}
    with server.client() as api:
        assert api.put("/inputs/c.txt", content=corpus.read_bytes()).status_code == 201

        def submit(i):
            with server.client() as own:  # one connection per submitter
                r = own.post("/jobs", json={"kind": "w2v", "input": "c.txt",
                                            "params": params | {"seed": i}})
            assert r.status_code == 201, r.text
            return r.json()["id"]

        with ThreadPoolExecutor(N_JOBS) as pool:
            ids = list(pool.map(submit, range(N_JOBS)))
        assert len(set(ids)) == N_JOBS
        listed = api.get("/jobs", params={"limit": 1000}).json()
        assert sorted(j["id"] for j in listed) == sorted(ids)  # all persisted, no extras
        assert sorted(j["params"]["seed"] for j in listed) == list(range(N_JOBS))

        def finished():
            jobs = api.get("/jobs", params={"limit": 1000}).json()
            return jobs if all(j["state"] in ("succeeded", "failed") for j in jobs) else None

        jobs = waiter(finished, 240, "all 50 jobs to finish", poll=1.0)
    assert [j["error"] for j in jobs if j["state"] != "succeeded"] == []
    assert all(j["attempts"] == 1 for j in jobs)
    for job_id in ids:  # each trainer started exactly once
        events = read_events(data / "jobs" / job_id / "events.jsonl")
        assert [e["event"] for e in events].count("start") == 1
    log = server.log()
    assert sum(f"job {job_id} attempt 1 on" in log for job_id in ids) == N_JOBS
    assert "attempt 2" not in log
