"""The network: Linear -> hidden unit -> Dropout for every hidden layer, then a Linear head.

The head's width and loss come from :mod:`gputrain.mlp.heads`: one output per class with
fused softmax + cross-entropy (the default; two classes included), one logit with fused
sigmoid + BCE for ``--output-unit sigmoid``, one output with MSE for regression.

Hidden units: relu, tanh, sigmoid, leaky_relu, hardtanh, softplus, elu, abs, cos, prelu (a
learned slope per unit) and maxout (the Linear before it has ``units * K`` outputs, each
unit the largest of its K pieces).

Initial weights are drawn on the host from ``seed``, so a model starts from the same
numbers on every device. ``--init auto`` is He (Kaiming) uniform with the unit's gain for
relu, leaky_relu, prelu, softplus, elu, abs, cos and maxout (``nn.init.gain``: He's
second-moment rule where no textbook gain exists) and Xavier (Glorot) uniform with the
activation's gain for tanh, sigmoid and hardtanh; ``uniform`` is U(-1/sqrt(fan_in),
1/sqrt(fan_in)). The head always uses gain 1.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from gputrain import nn
from gputrain.backend import Device
from gputrain.mlp.heads import make_head
from gputrain.nn import init as initializers

XAVIER_UNITS = ("tanh", "sigmoid", "hardtanh")  # the rest start He-style


def _initializer(name: str, activation: str | None, pieces: int = 2):
    """``f(shape, rng)`` for a hidden layer followed by ``activation`` (None: the head)."""
    nonlinearity = activation or "linear"
    if name == "auto":
        name = "xavier_uniform" if activation in XAVIER_UNITS else "he_uniform"
    if name in ("he_uniform", "he_normal"):
        kind = "kaiming_uniform" if name == "he_uniform" else "kaiming_normal"
        if nonlinearity in XAVIER_UNITS:  # He's rule is for rectifier-like units
            nonlinearity = "linear"
        return functools.partial(initializers.INITIALIZERS[kind], nonlinearity=nonlinearity,
                                 pieces=pieces)
    if name in ("xavier_uniform", "xavier_normal"):
        g = initializers.gain(nonlinearity, pieces=pieces) if activation else 1.0
        return functools.partial(initializers.INITIALIZERS[name], gain=g)
    if name == "uniform":
        return lambda shape, rng: initializers.uniform(shape, 1.0 / math.sqrt(shape[0]), rng)
    raise ValueError(f"unknown init {name!r}")


def _unit(activation: str, size: int, pieces: int, device: Device) -> nn.Module:
    if activation == "prelu":
        return nn.PReLU(size, device=device)
    if activation == "maxout":
        return nn.Maxout(pieces)
    return nn.ACTIVATIONS[activation]()


def build_network(n_in: int, n_classes: int, config, device: Device) -> nn.Sequential:
    """The network of an :class:`MLPConfig` (or its dict) for ``n_in`` features and
    ``n_classes`` classes (1 for regression)."""
    c = config if isinstance(config, dict) else config.to_dict()
    activation, seed = c["activation"], c["seed"]
    pieces = c.get("maxout") or 1
    host_rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A7]))
    layers: list[nn.Module] = []
    width = n_in
    for size in c["hidden"]:
        layers.append(nn.Linear(width, size * pieces,
                                init=_initializer(c["init"], activation, max(pieces, 2)),
                                rng=host_rng, device=device))
        layers.append(_unit(activation, size, pieces, device))
        if c["dropout"]:
            layers.append(nn.Dropout(c["dropout"], rng=device.rng(seed)))
        width = size
    n_out = make_head(c["task"], c.get("output", "softmax")).outputs(n_classes)
    layers.append(nn.Linear(width, n_out, init=_initializer(c["init"], None), rng=host_rng,
                            device=device))
    return nn.Sequential(*layers)


def dropout_layers(network: nn.Module) -> list[nn.Dropout]:
    return [m for m in network.modules() if isinstance(m, nn.Dropout)]


def train_loss(network: nn.Sequential, head, x, y, tally):
    """The mean loss of the training batch ``x``, ``y``: the network's last Linear runs
    inside the head's loss (the softmax head folds its bias into the fused loss kernels),
    which adds the batch's loss sum and correct count to ``tally`` on the device."""
    return head.train_loss(network.head_input(x), network[-1], y, tally)
