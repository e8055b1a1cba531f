"""Whole CLI runs on the second GPU (``--device gpu:1``), each in its own process as a user
runs it. On the CuPy stand-in the subprocess gets the fake devices through PYTHONPATH /
GPUTRAIN_STANDIN_DEVICES (tests/conftest.py), and an op that mixes devices, or a kernel
launched with arrays of another device than the current one, fails the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gputrain import backend
from gputrain.events import read_events
from gputrain.vectors.keyedvectors import KeyedVectors

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def two_gpus():
    if backend.gpu_count() < 2:  # on the stand-in there are always two
        pytest.skip("needs two CUDA devices")


def gputrain(*args, cwd=None) -> str:
    done = subprocess.run([sys.executable, "-m", "gputrain", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=500, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def topic_corpus(path: Path) -> Path:
    rng = np.random.default_rng(0)
    topics = [[f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]]
    lines = [" ".join(rng.choice(topics[rng.integers(2)], 10)) for _ in range(1500)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_w2v_trains_on_gpu1(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt")
    out = tmp_path / "v.bin"
    gputrain("w2v", corpus, "-o", out, "--dim", "16", "--epochs", "2", "--min-count", "1",
             "--device", "gpu:1", "--events", tmp_path / "ev.jsonl", "--quiet")
    start = next(e for e in read_events(tmp_path / "ev.jsonl") if e["event"] == "start")
    assert start["device"] == "gpu:1"
    kv = KeyedVectors.load(out)
    assert len(kv) == 20 and np.isfinite(kv.vectors).all()
    near = [w for w, _ in kv.most_similar("a0", topn=5)]
    assert sum(w.startswith("a") for w in near) >= 4


def test_queries_on_gpu1_answer_as_on_the_cpu(tmp_path):
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(50)]
    path = tmp_path / "v.bin"
    KeyedVectors(words, rng.standard_normal((50, 12)).astype(np.float32)).save(path)
    for args in (["neighbors", path, "w1", "-n", "5", "--json"],
                 ["analogy", path, "w1", "w2", "w3", "-n", "3", "--json"]):
        on_gpu = json.loads(gputrain(*args, "--device", "gpu:1"))
        on_cpu = json.loads(gputrain(*args, "--device", "cpu"))
        assert [r[0] if isinstance(r, list) else r for r in _flat(on_gpu)] == \
            [r[0] if isinstance(r, list) else r for r in _flat(on_cpu)]


def _flat(result):
    if isinstance(result, dict):
        return [v for value in result.values() for v in _flat(value)]
    return list(result) if isinstance(result, list) else [result]


def test_mlp_trains_on_gpu1(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    label = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    data = tmp_path / "t.parquet"
    pq.write_table(pa.table({**{f"f{i}": x[:, i] for i in range(5)}, "y": label}), data)
    model = tmp_path / "model"
    out = gputrain("mlp", "train", data, "--label", "y", "--hidden", "16", "--epochs", "5",
                   "--batch-size", "32", "--lr", "0.01", "--device", "gpu:1", "-o", model)
    assert f"model saved in {model}" in out
    metrics = json.loads(gputrain("mlp", "eval", model, data, "--json", "--device", "gpu:1"))
    assert metrics["rows"] == 300 and metrics["accuracy"] > 0.9
