"""Every activation, initialisation, optimizer and LR schedule the CLI offers trains."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gputrain.backend import CPU
from gputrain.mlp.config import ACTIVATIONS, INITS, MLPConfig
from gputrain.mlp.model import build_network
from gputrain.mlp.train import train_mlp
from gputrain.optim import OPTIMIZERS


def run(data, out, **kw):
    base = dict(hidden=[8], epochs=2, batch_size=64, val_split=0.2, patience=0)
    cfg = MLPConfig(data=data, label="animal", out_dir=str(out), **(base | kw))
    return train_mlp(cfg, CPU, progress=False).history


def _cfg(activation, init):
    return MLPConfig(data="", label="y", out_dir="", hidden=[50], activation=activation,
                     dropout=0.0, init=init, seed=1).validate()


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("init", INITS)
def test_activation_and_init_build_sensible_weights(activation, init):
    net = build_network(100, 3, _cfg(activation, init), CPU)
    weight = net.parameters()[0].data
    # every scheme keeps the first layer's weights around 1/sqrt(fan_in) in scale
    assert 0.02 < float(weight.std()) < 0.3, (activation, init, weight.std())
    assert np.all(net.parameters()[1].data == 0)  # biases start at zero
    again = build_network(100, 3, _cfg(activation, init), CPU)
    np.testing.assert_array_equal(weight, again.parameters()[0].data)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_lowers_the_training_loss(tmp_path, parquet_file, optimizer):
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adadelta": 1.0}.get(optimizer, 1e-2)
    history = run(parquet_file, tmp_path / optimizer, optimizer=optimizer, lr=lr, epochs=4)
    assert history[-1]["loss"] < history[0]["loss"], history


@pytest.mark.parametrize("schedule, lrs", [
    ("none", [1e-2, 1e-2, 1e-2]),
    ("step", [1e-2, 1e-3, 1e-4]),  # step_size epochs // 3, gamma 0.1
    ("exponential", [1e-2, 9e-3, 8.1e-3]),  # gamma 0.9 per epoch
    ("linear", [1e-2, 1e-2 * 2 / 3, 1e-2 / 3]),  # to 0 after the last epoch
])
def test_lr_schedules_step_once_per_epoch(tmp_path, parquet_file, schedule, lrs):
    history = run(parquet_file, tmp_path / schedule, lr=1e-2, epochs=3, lr_schedule=schedule)
    assert all(math.isclose(h["lr"], lr) for h, lr in zip(history, lrs, strict=True)), history
