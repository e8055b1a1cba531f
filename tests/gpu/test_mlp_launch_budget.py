"""Kernel launches and synchronisations per MLP training step on the GPU, counted by the
CuPy stand-in while the real training loop runs (``train_mlp``, as ``gputrain mlp train``
and the estimators run it): the Fashion-MNIST network of the README (784-256-128-10, ReLU,
batch 128, Adam or AdamW). A step is everything from one call of the loop's ``_step`` to
the next: forward, backward, optimizer, the loss sum and correct count kept on the device,
and the loop's own bookkeeping between batches. Budgets of work, not timings."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain.backend import Device
from gputrain.mlp import train as mlp_train
from gputrain.mlp.config import MLPConfig
from gputrain.mlp.data import Table

pytestmark = pytest.mark.gpu
BATCH, BATCHES = 128, 5
BUDGET = 15  # the budget: at most 15 launches and no synchronising call per step


class _NeverStop:
    requested = False


def _run(optimizer: str, device: Device) -> list[dict]:
    """The metrics history of one epoch of the budget's network on ``device``."""
    rng = np.random.default_rng(0)
    x = rng.random((BATCH * BATCHES, 784), dtype=np.float32)
    table = Table("fashion-like", x, [f"p{i}" for i in range(784)],
                  rng.integers(0, 10, len(x)), "label")
    config = MLPConfig(data="", label="label", out_dir=None, hidden=[256, 128],
                       activation="relu", optimizer=optimizer, batch_size=BATCH, epochs=1,
                       dropout=0.0, val_split=0.0)
    return mlp_train.train_mlp(config, device, progress=False, stop=_NeverStop(),
                               table=table, plot=False).history


def per_step(counters, monkeypatch, optimizer: str) -> tuple[dict, list[dict]]:
    """``(counts, history)``: the counters' mean over the steps after the first (which
    also allocates the optimizer's moments), and the run's metrics history."""
    entries, losses = [], []
    real_step, real_loss = mlp_train._Loop._step, mlp_train.train_loss

    def step(self, *args):
        entries.append(counters.snapshot())
        return real_step(self, *args)

    def train_loss(*args):
        losses.append(real_loss(*args))  # kept, not read: reading would sync
        return losses[-1]

    monkeypatch.setattr(mlp_train._Loop, "_step", step)
    monkeypatch.setattr(mlp_train, "train_loss", train_loss)
    history = _run(optimizer, Device("gpu", 0))
    # the epoch's loss, from the tallies kept on the device, is the mean of the batches'
    assert history[0]["loss"] == pytest.approx(np.mean([x.item() for x in losses]), rel=1e-6)
    assert len(entries) == BATCHES
    first, last = entries[1], entries[-1]  # steps 1 .. BATCHES - 2, each entry to the next
    steps = BATCHES - 2
    counts = {k: (last[k] - first[k]) / steps for k in first if k != "kernels"}
    counts["kernels"] = {k: (last["kernels"].get(k, 0) - first["kernels"].get(k, 0)) / steps
                         for k in last["kernels"]}
    return counts, history


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_mlp_step_stays_within_the_launch_budget_and_never_syncs(standin_counters,
                                                                 monkeypatch, optimizer):
    c, history = per_step(standin_counters, monkeypatch, optimizer)
    assert c["syncs"] == 0 and c["d2h_bytes"] == 0 and c["h2d_bytes"] == 0, c
    k = c["kernels"]
    assert k["adam_multi"] == 1  # six parameters, one launch
    assert k["bias_relu_forward"] == k["bias_relu_backward"] == 2
    # the mean, the head's bias, its gradient sum and the loop's tallies inside the kernels
    assert k["softmax_xent_forward_reduced"] == k["softmax_xent_backward"] == 1
    # 8 GEMMs, 2 fused bias + ReLU each way, the 2 fused loss kernels, the optimizer: 15
    # (26 with the tallies, the head's bias add and sum, two gathers per step and a fresh
    # backward seed; 106 before the fused Adam)
    assert c["launches"] <= BUDGET, c
    (gpu,), (cpu,) = history, _run(optimizer, Device("cpu"))  # other shuffles, same data
    assert gpu["loss"] == pytest.approx(cpu["loss"], rel=0.01)
    assert 0.05 < gpu["accuracy"] < 0.2  # random labels of 10 classes
