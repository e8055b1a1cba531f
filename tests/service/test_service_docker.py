"""docker/: Prometheus config and alert rules are valid (promtool check + promtool test), the
Grafana dashboard asks for metrics the service has, and compose, scrape target and image agree.

These checks read the files; tests/service/test_service_docker_run.py builds and runs the image.
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
    args = dict(a.split("=", 1) for a in directive["ARG"])
    assert re.fullmatch(r"docker\.io/nvidia/cuda:12[\w.]*-runtime-\S+", args["BASE"])
    assert directive["FROM"][0] == "${BASE}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^{args["EXTRA"]} = \[[^\]]*"cupy-cuda12x', pyproject, re.M)
    assert any('pip install ".${EXTRA:+[$EXTRA]}"' in r for r in directive["RUN"])
    user = directive["USER"][-1]
    assert user not in ("root", "0")
    assert json.loads(directive["ENTRYPOINT"][0]) == ["gputrain", "serve"]
    cmd = json.loads(directive["CMD"][-1])
    port = option(cmd, "--port")
    assert directive["EXPOSE"] == [port]
    assert json.loads(directive["VOLUME"][0]) == [option(cmd, "--data-dir")]
    health = directive["HEALTHCHECK"][0]
    assert f"http://127.0.0.1:{port}/readyz" in health  # healthy = ready for work
    for copied in ("pyproject.toml", "README.md", "kernels", "gputrain"):
        assert any(copied in r.split()[:-1] for r in directive["COPY"])
        assert (ROOT / copied).exists()


def promtool_or_skip() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return promtool


def test_alert_rules_pass_promtool_check_and_their_unit_tests(compose):
    promtool = promtool_or_skip()
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        r = subprocess.run([promtool, *args], cwd=DOCKER, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    volumes = compose["services"]["prometheus"]["volumes"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in volumes}
    assert mounts["./alerts.yml"] == "/etc/prometheus/alerts.yml"
    assert yaml.safe_load((DOCKER / "prometheus.yml").read_text())["rule_files"] == ["alerts.yml"]


def service_metric_names(tmp_path) -> set[str]:
    from prometheus_client import generate_latest

    from gputrain.service.metrics import ServiceMetrics
    from gputrain.service.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    metrics = ServiceMetrics(store, ["cpu"], {})
    metrics.board.last_loss["w2v"], metrics.board.last_epoch = 1.0, 1.0
    text = generate_latest(metrics.registry).decode()
    store.close()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    # a histogram's and counter's series, and the one metric only GPU workers export
    return names | {f"{n}{s}" for n in names for s in ("_total", "_bucket", "_sum", "_count")} \
        | {"gputrain_device_memory_used_bytes", "up"}


def test_grafana_dashboard_is_provisioned_and_asks_for_real_metrics(compose, tmp_path):
    grafana = compose["services"]["grafana"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/gputrain.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert (DOCKER / mounts[path].removeprefix("./") / "gputrain.json").is_file()
    [source] = yaml.safe_load(
        (DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    dashboard = json.loads((DOCKER / "grafana/dashboards/gputrain.json").read_text())
    known = service_metric_names(tmp_path)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DOCKER / "alerts.yml").read_text())["groups"][0]["rules"]
    exprs += [r["expr"] for r in rules]
    used = {m for e in exprs for m in re.findall(r"\b(gputrain_\w+|up)\b", e)}
    assert used and used <= known, used - known
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("jobs", "throughput", "loss", "memory"):
        assert topic in titles


def test_compose_health_check_asks_readyz(compose):
    health = compose["services"]["gputrain"]["healthcheck"]
    assert any("http://127.0.0.1:8000/readyz" in part for part in health["test"])
