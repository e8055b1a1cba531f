"""Device slots: one worker per GPU (isolated with CUDA_VISIBLE_DEVICES) or N CPU workers."""

import pytest

from gputrain.service.devicememory import DeviceMemory
from gputrain.service.metrics import ServiceMetrics
from gputrain.service.store import JobStore
from gputrain.service.supervisor import make_slots


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
    metrics = ServiceMetrics(store, ["gpu:0", "gpu:1"], [0, 1])
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry).decode()
    assert 'gputrain_build_info{device="gpu:0",version="0.1.0"} 1.0' in text
    assert 'gputrain_build_info{device="gpu:1",version="0.1.0"} 1.0' in text
    if not DeviceMemory([0]).available:  # no NVML here: the gauge is left out, not faked
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
        " 'gpu:5'], [0, 1, 5])\n"
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
