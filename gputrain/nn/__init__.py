"""Neural-network modules, parameters and weight initialisation.

    from gputrain import nn
    model = nn.Sequential(nn.Linear(784, 256, rng=rng), nn.ReLU(), nn.Dropout(0.1, rng=1),
                          nn.Linear(256, 10, rng=rng))
"""

from gputrain.nn import init
from gputrain.nn.activations import (
    ACTIVATIONS,
    ELU,
    Abs,
    Cos,
    Hardtanh,
    LeakyReLU,
    Maxout,
    PReLU,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
)
from gputrain.nn.layers import Dropout, Embedding, Linear
from gputrain.nn.module import Module, Parameter, Sequential

__all__ = [
    "ACTIVATIONS", "ELU", "Abs", "Cos", "Dropout", "Embedding", "Hardtanh", "LeakyReLU",
    "Linear", "Maxout", "Module", "PReLU", "Parameter", "ReLU", "Sequential", "Sigmoid",
    "Softplus", "Tanh", "init",
]
