"""Activation modules: thin wrappers of the activation ops."""

from __future__ import annotations

from gputrain.autograd import ops
from gputrain.nn.module import Module


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


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU,
               "hardtanh": Hardtanh}
