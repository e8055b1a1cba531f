"""The network: Linear -> activation -> Dropout for every hidden layer, then a Linear head.

Classification has one output per class and is trained with the fused softmax +
cross-entropy (two classes included: a 2-way softmax is the same model as a sigmoid with
one logit, and keeps one code path). Regression has one output trained with MSE on the
standardised target.

Initial weights are drawn on the host from ``seed``, so a model starts from the same
numbers on every device. ``--init auto`` is He (Kaiming) uniform for relu and leaky_relu
and Xavier (Glorot) uniform with the activation's gain for tanh, sigmoid and hardtanh;
``uniform`` is U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The head always uses gain 1.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from gputrain import nn
from gputrain.backend import Device
from gputrain.nn import init as initializers

RELU_LIKE = ("relu", "leaky_relu")


def _initializer(name: str, activation: str):
    """``f(shape, rng)`` for a hidden layer followed by ``activation`` (None: the head)."""
    nonlinearity = activation or "linear"
    if name == "auto":
        name = "he_uniform" if activation in RELU_LIKE else "xavier_uniform"
    if name in ("he_uniform", "he_normal"):
        kind = "kaiming_uniform" if name == "he_uniform" else "kaiming_normal"
        if nonlinearity not in ("relu", "leaky_relu"):
            nonlinearity = "linear"
        return functools.partial(initializers.INITIALIZERS[kind], nonlinearity=nonlinearity)
    if name in ("xavier_uniform", "xavier_normal"):
        gain = initializers.gain(nonlinearity) if activation else 1.0
        return functools.partial(initializers.INITIALIZERS[name], gain=gain)
    if name == "uniform":
        return lambda shape, rng: initializers.uniform(shape, 1.0 / math.sqrt(shape[0]), rng)
    raise ValueError(f"unknown init {name!r}")


def build_network(n_in: int, n_out: int, hidden: list[int], activation: str,
                  dropout: float, init: str, seed: int, device: Device) -> nn.Sequential:
    host_rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A7]))
    layers: list[nn.Module] = []
    width = n_in
    for size in hidden:
        layers.append(nn.Linear(width, size, init=_initializer(init, activation),
                                rng=host_rng, device=device))
        layers.append(nn.ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout, rng=device.rng(seed)))
        width = size
    layers.append(nn.Linear(width, n_out, init=_initializer(init, None), rng=host_rng,
                            device=device))
    return nn.Sequential(*layers)


def dropout_layers(network: nn.Module) -> list[nn.Dropout]:
    return [m for m in network.modules() if isinstance(m, nn.Dropout)]

