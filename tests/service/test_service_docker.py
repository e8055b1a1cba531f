"""docker/: Prometheus config is valid and compose, scrape target and image agree.

There is no Docker engine on CI machines; these checks read the files themselves.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ROOT = DOCKER.parent


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def scrape():
    return yaml.safe_load((DOCKER / "prometheus.yml").read_text())


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_promtool_accepts_the_prometheus_config():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    r = subprocess.run([promtool, "check", "config", str(DOCKER / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_scrape_target_is_the_compose_service_and_its_port(compose, scrape):
    service = compose["services"]["gputrain"]
    published, container = (int(p) for p in service["ports"][0].split(":"))
    assert int(option(service["command"], "--port")) == container == published
    [job] = [j for j in scrape["scrape_configs"] if j["job_name"] == "gputrain"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    [target] = job["static_configs"][0]["targets"]
    host, port = target.rsplit(":", 1)
    assert host in compose["services"] and host == "gputrain"
    assert int(port) == container
    prometheus = compose["services"]["prometheus"]
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    mounts = {m.split(":")[1]: m.split(":")[0] for m in prometheus["volumes"]}
    assert mounts[config_flag.split("=", 1)[1]] == "./prometheus.yml"


def test_compose_reserves_gpus_keeps_data_and_allows_the_shutdown(compose):
    service = compose["services"]["gputrain"]
    [device] = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    data_dir = option(service["command"], "--data-dir")
    volume, target = service["volumes"][0].split(":")[:2]
    assert target == data_dir and volume in compose["volumes"]
    assert "GPUTRAIN_TOKEN" in service["environment"]  # 0.0.0.0 needs a token
    assert option(service["command"], "--host") == "0.0.0.0"
    grace = int(re.fullmatch(r"(\d+)s", service["stop_grace_period"]).group(1))
    assert grace > 30  # the server takes up to 30 s to checkpoint and stop


def test_dockerfile_is_a_non_root_gpu_image_with_a_healthcheck():
    text = (DOCKER / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.replace("\\\n", " ").splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    directive = {}
    for ln in lines:
        key, _, rest = ln.partition(" ")
        directive.setdefault(key, []).append(rest.strip())
    assert re.fullmatch(r"nvidia/cuda:12[\w.]*-runtime-\S+", directive["FROM"][0])
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^gpu = \[[^\]]*"cupy-cuda12x', pyproject, re.M)  # the [gpu] extra
    assert any('pip install ".[gpu]"' in r for r in directive["RUN"])
    user = directive["USER"][-1]
    assert user not in ("root", "0")
    assert json.loads(directive["ENTRYPOINT"][0]) == ["gputrain", "serve"]
    cmd = json.loads(directive["CMD"][-1])
    port = option(cmd, "--port")
    assert directive["EXPOSE"] == [port]
    assert json.loads(directive["VOLUME"][0]) == [option(cmd, "--data-dir")]
    health = directive["HEALTHCHECK"][0]
    assert f"http://127.0.0.1:{port}/healthz" in health
    for copied in ("pyproject.toml", "README.md", "kernels", "gputrain"):
        assert any(copied in r.split()[:-1] for r in directive["COPY"])
        assert (ROOT / copied).exists()
