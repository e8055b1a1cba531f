"""Activation modules: thin wrappers of the activation ops."""

from __future__ import annotations

import numpy

from gputrain.autograd import ops
from gputrain.backend import to_device
from gputrain.nn.init import PRELU_SLOPE
from gputrain.nn.module import Module, Parameter, as_device


class ReLU(Module):
    def forward(self, x):
        return ops.relu(x)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return ops.sigmoid(x)


class LeakyReLU(Module):
    def __init__(self, slope: float = 0.01):
        self.slope = float(slope)

    def forward(self, x):
        return ops.leaky_relu(x, self.slope)


class Hardtanh(Module):
    def __init__(self, low: float = -1.0, high: float = 1.0):
        if not low < high:
            raise ValueError(f"Hardtanh needs low < high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def forward(self, x):
        return ops.hardtanh(x, self.low, self.high)


class Softplus(Module):
    def forward(self, x):
        return ops.softplus(x)


class ELU(Module):
    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def forward(self, x):
        return ops.elu(x, self.alpha)


class Abs(Module):
    def forward(self, x):
        return ops.abs(x)


class Cos(Module):
    def forward(self, x):
        return ops.cos(x)


class PReLU(Module):
    """Parametric ReLU with one learned slope per unit (``weight``, shape (units,)),
    starting at 0.25 as in He et al. (2015)."""

    def __init__(self, units: int, init: float = PRELU_SLOPE, device=None):
        slopes = numpy.full((int(units),), init, dtype=numpy.float32)
        self.weight = Parameter(to_device(slopes, as_device(device)))

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def __repr__(self):
        return f"PReLU({self.weight.shape[0]})"


class Maxout(Module):
    """Maxout over ``pieces`` consecutive inputs: the Linear before it has units * pieces
    outputs."""

    def __init__(self, pieces: int = 2):
        if pieces < 2:
            raise ValueError(f"maxout needs at least 2 pieces, got {pieces}")
        self.pieces = int(pieces)

    def forward(self, x):
        return ops.maxout(x, self.pieces)

    def __repr__(self):
        return f"Maxout(pieces={self.pieces})"


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU,
               "hardtanh": Hardtanh, "softplus": Softplus, "elu": ELU, "abs": Abs, "cos": Cos}
