"""The HTTP API's contract on a real server process: auth, validation, paths, uploads."""

import os
import re

import httpx
import pytest


@pytest.fixture(scope="module")
def api(api_server):
    with api_server.client(api_server.token) as client:
        yield client


@pytest.fixture(scope="module")
def table(api, api_server):
    rows = "a,b,label\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40))
    assert api.put("/inputs/t.csv", content=rows.encode()).status_code == 201
    return "t.csv"


def test_health_metrics_and_docs_need_no_token(api_server):
    with api_server.client() as anon:
        health = anon.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        metrics = anon.get("/metrics")
        assert metrics.status_code == 200 and "gputrain_build_info{" in metrics.text
        docs = anon.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert assets and all(a.startswith("/docs/assets/") for a in assets), assets  # no CDN
        for asset in assets:
            assert anon.get(asset).status_code == 200, asset
        schema = anon.get("/openapi.json").json()
        assert "/jobs/{job_id}/cancel" in schema["paths"]
        upload = schema["paths"]["/inputs/{name}"]["put"]
        assert "application/octet-stream" in upload["requestBody"]["content"]
        submit = schema["paths"]["/jobs"]["post"]["responses"]
        assert {"400", "401", "404", "409", "413", "422", "507"} <= set(submit)
        assert submit["507"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic czNjcmV0LXRva2Vu"}])
def test_everything_else_needs_the_token(api_server, headers):
    with httpx.Client(base_url=api_server.url, headers=headers) as client:
        for method, path in [("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/jobs/x"),
                             ("PUT", "/inputs/a.txt"), ("GET", "/models/x/neighbors?word=a")]:
            r = client.request(method, path)
            assert r.status_code == 401, (method, path)
            assert r.headers["www-authenticate"] == "Bearer"


def test_invalid_specs_are_422_naming_the_field(api, api_server, table):
    cases = [
        ({"kind": "svm", "input": table}, ["body", "kind"]),
        ({"input": table}, ["body", "kind"]),
        ({"kind": "mlp", "input": table, "params": {"epochs": "many"}},
         ["body", "params", "epochs"]),
        ({"kind": "mlp", "input": table, "params": {"device": "gpu"}},
         ["body", "params", "device"]),
        ({"kind": "mlp", "input": table, "params": {"no_such_option": 1}},
         ["body", "params", "no_such_option"]),
        ({"kind": "mlp", "input": "missing.csv"}, ["body", "input"]),
        ({"kind": "mlp", "input": table, "param": {"label": "label"}}, ["body", "param"]),
        ({"kind": "mlp", "input": table, "params": {"label": "target"}},
         ["body", "params", "label"]),
        ({"kind": "mlp", "input": table, "params": {"label": "label", "dropout": 1}},
         ["body", "params", "dropout"]),
    ]
    for spec, loc in cases:
        r = api.post("/jobs", json=spec)
        assert r.status_code == 422, spec
        assert r.json()["detail"][0]["loc"] == loc, r.json()
        assert r.json()["detail"][0]["msg"]
        assert str(api_server.data_dir) not in r.text  # no server paths in error bodies
    assert api.get("/jobs").json() == []  # nothing was queued


def test_paths_leaving_the_data_dir_are_400(api, api_server, table):
    inputs = api_server.data_dir / "inputs"
    os.symlink("/etc/passwd", inputs / "passwd.csv")
    for name in ["../jobs.sqlite3", "/etc/passwd", "passwd.csv", "a/../../x.csv"]:
        r = api.post("/jobs", json={"kind": "mlp", "input": name})
        assert r.status_code == 400, (name, r.text)
        assert "inputs directory" in r.json()["detail"]
    r = api.post("/jobs", json={"kind": "mlp", "input": table,
                                "params": {"label": "label", "test": "../jobs.sqlite3"}})
    assert r.status_code == 400 and r.json()["detail"].startswith("params.test:")
    r = api.put("/inputs/%2E%2E/escaped.txt", content=b"x")
    assert r.status_code == 400
    assert not (api_server.data_dir / "escaped.txt").exists()


def test_uploads_over_the_limit_are_413_and_leave_nothing(api, api_server):
    assert api.put("/inputs/small.txt", content=b"x" * 1000).status_code == 201
    r = api.put("/inputs/big.txt", content=b"x" * 1001)  # Content-Length says too big
    assert r.status_code == 413
    r = api.put("/inputs/big.txt", content=iter([b"x" * 600, b"x" * 600]))  # chunked, no length
    assert r.status_code == 413
    names = {f["name"] for f in api.get("/inputs").json()}
    assert "small.txt" in names and "big.txt" not in names
    assert api.put("/inputs/small.txt/under-a-file", content=b"x").status_code == 409
    leftovers = [p.name for p in (api_server.data_dir / "inputs").iterdir() if "big" in p.name]
    assert leftovers == []


def test_unknown_ids_are_404_and_finished_jobs_cannot_be_cancelled(api, table, waiter):
    assert api.get("/jobs/nope").status_code == 404
    assert api.post("/jobs/nope/cancel").status_code == 404
    assert api.get("/jobs/nope/artifacts").status_code == 404
    assert api.get("/models/nope/neighbors", params={"word": "a"}).status_code == 404
    assert api.get("/jobs", params={"state": "sleeping"}).status_code == 422
    slow = {"label": "label", "epochs": 100000, "patience": 0, "hidden": "8", "val_split": 0,
            "batch_size": 4}
    running = api.post("/jobs", json={"kind": "mlp", "input": table, "params": slow}).json()
    queued = api.post("/jobs", json={"kind": "mlp", "input": table, "params": slow}).json()
    waiter(lambda: api.get(f"/jobs/{running['id']}").json()["progress"] > 0, 60,
           "the first job to report progress")
    assert api.get(f"/jobs/{queued['id']}").json()["state"] == "queued"  # one worker
    r = api.post(f"/jobs/{queued['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = api.post(f"/jobs/{running['id']}/cancel")
    assert r.status_code == 200
    waiter(lambda: api.get(f"/jobs/{running['id']}").json()["state"] == "cancelled", 30,
           "the running job to be cancelled")
    assert api.post(f"/jobs/{running['id']}/cancel").status_code == 409
    r = api.get(f"/models/{running['id']}/neighbors", params={"word": "a"})
    assert r.status_code == 409 and "mlp job" in r.json()["detail"]
    listed = api.get("/jobs", params={"state": "cancelled"}).json()
    assert {j["id"] for j in listed} == {running["id"], queued["id"]}
