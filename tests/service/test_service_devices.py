"""Device slots: one worker per GPU (isolated with CUDA_VISIBLE_DEVICES) or N CPU workers."""

import json

import pytest

from gputrain.errors import GputrainError
from gputrain.service.devicememory import DeviceMemory
from gputrain.service.metrics import ServiceMetrics
from gputrain.service.store import JobStore
from gputrain.service.supervisor import make_slots, visible_gpus


def test_one_slot_per_gpu_sees_only_its_device():
    slots = make_slots([0, 3], None)
    assert [s.name for s in slots] == ["gpu:0", "gpu:3"]
    assert all(s.device == "gpu:0" for s in slots)  # each trainer sees one GPU, as device 0
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "3"]
    assert all(s.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for s in slots)
    assert [(s.name, s.device, s.env) for s in make_slots(None, 2)] == [
        ("cpu:0", "cpu", {}), ("cpu:1", "cpu", {})]
    assert len(make_slots(None, None)) == 1


def test_metrics_label_devices_not_jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    metrics = ServiceMetrics(store, ["gpu:0", "gpu:1"], {"gpu:0": "0", "gpu:1": "1"})
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    assert 'gputrain_build_info{device="gpu:0",version="0.1.0"} 1.0' in text
    assert 'gputrain_build_info{device="gpu:1",version="0.1.0"} 1.0' in text
    if not DeviceMemory({"gpu:0": "0"}).available:  # no NVML here: the gauge is left out, not faked
        assert "gputrain_device_memory_used_bytes" not in text
    store.close()


@pytest.mark.gpu
def test_gpu_worker_trains_and_reports_device_memory(start_server, tmp_path, make_corpus,
                                                     waiter):
    server = start_server(None, "--devices", "0")
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 40_000).read_bytes())
        job = api.post("/jobs", json={"kind": "w2v", "input": "c.txt", "params": {
            "dim": 32, "epochs": 2, "min_count": 1}}).json()
        waiter(lambda: api.get(f"/jobs/{job['id']}").json()["state"] in
               ("succeeded", "failed"), 240, "the GPU job")
        done = api.get(f"/jobs/{job['id']}").json()
        text = api.get("/metrics").text
    assert done["state"] == "succeeded", done
    assert 'gputrain_build_info{device="gpu:0"' in text
    assert 'gputrain_device_memory_used_bytes{device="gpu:0"}' in text
    assert '"device": "gpu:0"' in (server.data_dir / "jobs" / job["id"] /
                                   "events.jsonl").read_text()


FAKE_NVML = r"""
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
int nvmlInit_v2(void) { return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device) {
    if (index > 1) return 2;  /* NVML_ERROR_INVALID_ARGUMENT */
    *device = (void *)(unsigned long)(index + 100);
    return 0;
}
int nvmlDeviceGetMemoryInfo(void *device, nvmlMemory_t *memory) {
    unsigned long long i = (unsigned long)device - 100;
    memory->total = 80ULL << 30; memory->used = (1ULL << 30) * (i + 1) + 7;
    memory->free = memory->total - memory->used;
    return 0;
}
"""


def test_device_memory_gauge_reads_nvml(tmp_path):
    """A stand-in libnvidia-ml.so.1 with NVML's C signatures checks the ctypes side."""
    import shutil
    import subprocess
    import sys

    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("g++")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "nvml.c").write_text(FAKE_NVML)
    subprocess.run([cc, "-shared", "-fPIC", "-x", "c", "-o", str(tmp_path / "libnvidia-ml.so.1"),
                    str(tmp_path / "nvml.c")], check=True, timeout=60)
    script = (
        "from prometheus_client import generate_latest\n"
        "from gputrain.service.metrics import ServiceMetrics\n"
        "from gputrain.service.store import JobStore\n"
        f"m = ServiceMetrics(JobStore({str(tmp_path / 'j.sqlite3')!r}), ['gpu:0', 'gpu:1',"
        " 'gpu:5'], {'gpu:0': '0', 'gpu:1': '1', 'gpu:5': '5'})\n"
        "print(generate_latest(m.registry).decode())\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60, env={"LD_LIBRARY_PATH": str(tmp_path), "PATH": "/usr/bin"})
    assert r.returncode == 0, r.stderr
    from prometheus_client.parser import text_string_to_metric_families

    [family] = [f for f in text_string_to_metric_families(r.stdout)
                if f.name == "gputrain_device_memory_used_bytes"]
    used = {s.labels["device"]: s.value for s in family.samples}
    assert used == {"gpu:0": (1 << 30) + 7, "gpu:1": (2 << 30) + 7}  # gpu:5: NVML error, left out


def test_slots_take_the_gpus_the_server_was_given():
    slots = make_slots([0, 1], None, visible=["2", "3"])
    assert [s.name for s in slots] == ["gpu:0", "gpu:1"]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["2", "3"]
    uuids = ["GPU-8f0e2a34-0000-0000-0000-000000000001", "MIG-5c8d0e2a-0000-0000-0000-00000002"]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in make_slots([1], None, visible=uuids)] == [
        uuids[1]]
    assert visible_gpus(" 2, 3,") == ["2", "3"] and visible_gpus(None) is None
    with pytest.raises(GputrainError, match="gives this server 2 GPU"):
        make_slots([2], None, visible=["2", "3"])


@pytest.mark.gpu
@pytest.mark.timeout(600)
def test_two_jobs_at_once_each_on_its_own_inherited_gpu(start_server, tmp_path, make_corpus,
                                                        waiter):
    """A scheduler gave the server GPUs 2 and 3 of 4: ``--devices 0,1`` trains on those two
    (not on 0 and 1), two jobs at once, and the memory gauge reads GPUs 2 and 3."""
    import cupy

    if getattr(cupy, "standin", None) is None:
        pytest.skip("which physical GPU a trainer used is recorded by the CuPy stand-in")
    log = tmp_path / "standin.jsonl"
    env = {"CUDA_VISIBLE_DEVICES": "2,3", "GPUTRAIN_STANDIN_DEVICES": "4",
           "GPUTRAIN_STANDIN_LOG": str(log)}
    server = start_server(None, "--devices", "0,1", env=env)
    with server.client() as api:
        api.put("/inputs/c.txt", content=make_corpus(tmp_path / "c.txt", 30_000).read_bytes())
        spec = {"kind": "w2v", "input": "c.txt", "params": {"dim": 16, "epochs": 2,
                                                            "min_count": 1}}
        jobs = [api.post("/jobs", json=spec).json()["id"] for _ in range(2)]
        waiter(lambda: all(api.get(f"/jobs/{j}").json()["state"] in ("succeeded", "failed")
                           for j in jobs), 500, "both GPU jobs")
        done = [api.get(f"/jobs/{j}").json() for j in jobs]
        text = api.get("/metrics").text
    assert [d["state"] for d in done] == ["succeeded", "succeeded"], done
    first, second = sorted(done, key=lambda d: d["started_at"])
    assert second["started_at"] < first["finished_at"]  # at the same time
    devices = {json.loads(line)["device"] for d in done
               for line in (server.data_dir / "jobs" / d["id"] / "events.jsonl").read_text()
               .splitlines() if '"device"' in line}
    assert devices == {"gpu:0"}  # each trainer sees its own GPU alone
    seen = [json.loads(line)["visible"] for line in log.read_text().splitlines()]
    trainers = sorted(v for v in seen if len(v) == 1)
    assert trainers[:1] == [[2]] and trainers[-1:] == [[3]], seen
    from prometheus_client.parser import text_string_to_metric_families

    [family] = [f for f in text_string_to_metric_families(text)
                if f.name == "gputrain_device_memory_used_bytes"]
    used = {s.labels["device"]: s.value for s in family.samples}
    assert used == {"gpu:0": 3 * 2**30 + 7, "gpu:1": 4 * 2**30 + 7}  # NVML's GPUs 2 and 3
