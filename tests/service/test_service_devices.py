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
