"""A real Prometheus (the Debian package) scrapes a real server on loopback."""

import shutil
import socket
import subprocess

import httpx
import pytest

from gputrain import __version__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_prometheus_scrapes_build_info_and_job_counts(start_server, tmp_path, waiter,
                                                      make_table):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian package prometheus; scripts/test.sh)")
    server = start_server(None, "--workers", "1")
    with server.client() as api:  # one job in the store: a cancelled one
        api.put("/inputs/t.csv", content=make_table(tmp_path / "t.csv").read_bytes())
        job = api.post("/jobs", json={"kind": "mlp", "input": "t.csv",
                                      "params": {"label": "label", "epochs": 100000,
                                                 "patience": 0}}).json()
        api.post(f"/jobs/{job['id']}/cancel")
    target = server.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: gputrain\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
    prom = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        def query(expr):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr},
                              timeout=5)
            except httpx.HTTPError:
                return None
            return r.json()["data"]["result"] if r.status_code == 200 else None

        waiter(lambda: query("gputrain_build_info"), 60, "Prometheus to scrape the server",
               poll=0.5)
        [info] = query("gputrain_build_info")
        assert info["metric"]["version"] == __version__ and info["metric"]["device"] == "cpu"
        assert info["metric"]["job"] == "gputrain" and info["value"][1] == "1"
        jobs = {r["metric"]["state"]: r["value"][1] for r in query("gputrain_jobs")}
        assert set(jobs) == {"queued", "running", "succeeded", "failed", "cancelled"}
        waiter(lambda: (query('gputrain_jobs{state="cancelled"}') or [{}])[0].get("value",
               [0, "0"])[1] == "1", 30, "the cancelled job to show in Prometheus", poll=0.5)
        [up] = query('up{job="gputrain"}')
        assert up["value"][1] == "1"
    finally:
        prom.terminate()
        try:
            prom.wait(20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
