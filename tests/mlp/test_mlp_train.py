"""Training: it learns, it resumes exactly, it stops early, it reports events."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gputrain.backend import CPU
from gputrain.events import read_events
from gputrain.mlp.checkpoint import load_checkpoint, load_model_files
from gputrain.mlp.config import MLPConfig
from gputrain.mlp.evaluate import evaluate_file
from gputrain.mlp.train import train_mlp


def config(data, out, **kw) -> MLPConfig:
    base = dict(label="animal", hidden=[32], batch_size=32, epochs=20, lr=1e-2,
                dropout=0.0, val_split=0.25, patience=0, seed=0)
    return MLPConfig(data=str(data), out_dir=str(out), **(base | kw))


def test_classify_learns_a_separable_problem(tmp_path, parquet_file, tables):
    result = train_mlp(config(parquet_file, tmp_path / "m", features=["f0", "f1", "f2", "f3",
                                                                     "f4", "f5"]),
                       CPU, progress=False)
    last = result.history[-1]
    assert last["val_accuracy"] >= 0.93, last  # chance is about 0.33
    test = tables.write(tables.make(rows=300, seed=9), tmp_path / "test.csv")
    assert evaluate_file(tmp_path / "m", test, CPU)["accuracy"] >= 0.9
    meta, *_ = load_model_files(tmp_path / "m")
    assert meta["classes"] == ["cat", "dog", "emu"]
    assert (tmp_path / "m" / "learning_curves.png").stat().st_size > 1000


def test_regress_fits_a_linear_target(tmp_path, parquet_file):
    cfg = config(parquet_file, tmp_path / "r", label="target", task="regress", hidden=[16],
                 features=["f0", "f1", "f2", "f3", "f4", "f5"], epochs=40, val_split=0.2)
    last = train_mlp(cfg, CPU, progress=False).history[-1]
    # the target's standard deviation is about 14: predicting the mean gives RMSE 14
    assert last["val_rmse"] < 1.5, last
    assert last["val_loss"] == pytest.approx(last["val_rmse"] ** 2)


def _final_arrays(model_dir):
    state, weights, optim = load_checkpoint(model_dir)
    return state, weights, optim


@pytest.mark.parametrize("stop_after", [None, 13])
def test_resume_continues_exactly(tmp_path, parquet_file, stop_after):
    kw = dict(epochs=4, dropout=0.3, hidden=[16, 8], features=None, label="animal")
    straight = train_mlp(config(parquet_file, tmp_path / "a", **kw), CPU, progress=False)

    if stop_after is None:  # 2 epochs, then resume up to 4
        train_mlp(config(parquet_file, tmp_path / "b", **(kw | {"epochs": 2})), CPU,
                  progress=False)
    else:  # a SIGTERM in the middle of epoch 2 (after 13 batches; 10 per epoch)
        first = train_mlp(config(parquet_file, tmp_path / "b", **kw), CPU, progress=False,
                          stop=StopAfter(stop_after))
        assert first.stopped and load_checkpoint(tmp_path / "b")[0]["loop"]["batch"] == 3
    resumed = train_mlp(config(parquet_file, tmp_path / "b", **kw), CPU, progress=False,
                        resume=True)
    assert not resumed.stopped
    sa, wa, oa = _final_arrays(tmp_path / "a")
    sb, wb, ob = _final_arrays(tmp_path / "b")
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)
    for key in oa:
        np.testing.assert_array_equal(oa[key], ob[key], err_msg=key)
    timing = ("seconds", "cpu_seconds")
    strip = [{k: v for k, v in h.items() if k not in timing} for h in straight.history]
    assert strip == [{k: v for k, v in h.items() if k not in timing} for h in resumed.history]


@pytest.mark.parametrize("block", [1, 4])
def test_rows_gathered_a_block_of_batches_at_a_time_train_the_same(tmp_path, parquet_file,
                                                                   monkeypatch, block):
    """A large table is shuffled into memory a few batches at a time (bounded memory): the
    weights are those of the one-gather-per-epoch run, also across a mid-block resume."""
    from gputrain.mlp import train as train_module

    kw = dict(epochs=3, dropout=0.3, hidden=[16, 8], features=None, label="animal")
    train_mlp(config(parquet_file, tmp_path / "a", **kw), CPU, progress=False)
    monkeypatch.setattr(train_module._Loop, "_gather_batches", lambda self: block)
    first = train_mlp(config(parquet_file, tmp_path / "b", **kw), CPU, progress=False,
                      stop=StopAfter(13))  # batch 3 of epoch 2: inside a block of 4
    assert first.stopped
    train_mlp(config(parquet_file, tmp_path / "b", **kw), CPU, progress=False, resume=True)
    wa, wb = _final_arrays(tmp_path / "a")[1], _final_arrays(tmp_path / "b")[1]
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


class StopAfter:
    """Stands in for GracefulStop: 'SIGTERM' arrives after ``n`` batches."""

    def __init__(self, n: int):
        self.polls, self.n = 0, n

    @property
    def requested(self) -> bool:
        self.polls += 1
        return self.polls > self.n


@pytest.mark.parametrize("schedule", ["linear", "step"])
def test_resume_with_more_epochs_stretches_the_lr_schedule(tmp_path, parquet_file, schedule):
    out = tmp_path / "m"
    train_mlp(config(parquet_file, out, epochs=2, lr_schedule=schedule), CPU, progress=False)
    result = train_mlp(config(parquet_file, out, epochs=6, lr_schedule=schedule), CPU,
                       progress=False, resume=True)
    lrs = [h["lr"] for h in result.history]
    # the extra epochs train: not stuck at the 2-epoch schedule's end (linear: 0)
    assert all(lr > 0 for lr in lrs[:-1]), lrs
    expected = {"linear": [1e-2 * (1 - n / 6) for n in range(2, 6)],
                "step": [1e-2 * 0.1 ** (n // 2) for n in range(2, 6)]}[schedule]
    assert lrs[2:] == pytest.approx(expected)


def test_early_stopping_keeps_the_best_weights(tmp_path, tables):
    noise = tables.make(rows=200, seed=5)
    rng = np.random.default_rng(0)
    import pyarrow as pa

    noise = noise.set_column(6, "animal", pa.array(rng.choice(["a", "b"], 200)))
    path = tables.write(noise, tmp_path / "noise.parquet")
    cfg = config(path, tmp_path / "e", hidden=[64], epochs=60, lr=3e-2, patience=3,
                 val_split=0.3)
    result = train_mlp(cfg, CPU, progress=False)
    assert result.early_stopped and len(result.history) < 60
    best = min(h["val_loss"] for h in result.history)
    assert result.best_epoch == len(result.history) - 3
    assert result.history[result.best_epoch - 1]["val_loss"] == best
    meta, *_ = load_model_files(tmp_path / "e")
    assert meta["best_epoch"] == result.best_epoch
    # the saved model is the best epoch's: scoring it on the same rows gives that val loss
    assert meta["metrics"]["val_loss"] == best
    # resumed with the same patience it stays stopped; with patience 0 it trains on
    epochs = len(result.history)
    assert len(train_mlp(cfg, CPU, progress=False, resume=True).history) == epochs
    more = train_mlp(replace(cfg, patience=0, epochs=epochs + 2), CPU, progress=False,
                     resume=True)
    assert len(more.history) == epochs + 2 and not more.early_stopped


def test_val_split_zero_trains_on_every_row_and_events_are_written(tmp_path, parquet_file):
    events = tmp_path / "events.jsonl"
    cfg = config(parquet_file, tmp_path / "z", val_split=0.0, epochs=3, batch_size=16,
                 label="animal")
    result = train_mlp(cfg, CPU, progress=False, events_path=events)
    assert all("val_loss" not in h for h in result.history)
    log = read_events(events)
    kinds = [e["event"] for e in log]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert log[0]["train_rows"] == 400 and log[0]["val_rows"] == 0
    epochs = [e for e in log if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    progress = [e["progress"] for e in log if e["event"] == "progress"]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert all("loss" in e and "accuracy" in e for e in log if e["event"] == "progress")
    assert [e["epoch"] for e in log if e["event"] == "checkpoint"] == [1, 2, 3]
    lines = (tmp_path / "z" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
