"""Layers with parameters or state: Linear, Embedding, Dropout."""

from __future__ import annotations

import numpy

from gputrain.autograd import ops
from gputrain.backend import Device, to_cpu, to_device
from gputrain.nn import init as initializers
from gputrain.nn.module import Module, Parameter, as_device


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _host_rng(rng):
    """Initial weights are drawn on the host (same numbers on every device)."""
    if rng is None:
        return numpy.random.default_rng()
    if isinstance(rng, numpy.random.Generator):
        return rng
    if isinstance(rng, (int, numpy.integer)):
        return numpy.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator or a seed, got {type(rng).__name__}")


class Linear(Module):
    """``y = x @ weight + bias`` with ``weight`` stored (in_features, out_features).

    ``init`` names an initialiser in :mod:`gputrain.nn.init` (default He/Kaiming uniform
    for ReLU) or is a callable ``f(shape, rng) -> array``; the bias starts at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init="kaiming_uniform", rng=None, device=None):
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        device = as_device(device)
        make = initializers.get_initializer(init)
        w = make((self.in_features, self.out_features), _host_rng(rng))
        self.weight = Parameter(to_device(w, device, dtype=numpy.float32))
        self.bias = (Parameter(to_device(initializers.zeros((self.out_features,)), device))
                     if bias else None)

    def forward(self, x):
        y = ops.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias

    def forward_fused(self, x, following: Module):
        """``following(self(x))`` as one bias + ReLU op when ``following`` is a ReLU (one
        launch each way on a GPU instead of five); None otherwise."""
        from gputrain.nn.activations import ReLU

        if self.bias is None or type(following) is not ReLU or getattr(x, "ndim", 0) != 2:
            return None
        return ops.bias_relu(ops.matmul(x, self.weight), self.bias)

    def __repr__(self):
        return (f"Linear({self.in_features}, {self.out_features}, "
                f"bias={self.bias is not None})")


def word2vec_uniform(shape, rng):
    """word2vec's input-vector start: U(-0.5/dim, 0.5/dim)."""
    return initializers.uniform(shape, 0.5 / shape[-1], rng)


class Embedding(Module):
    """A lookup table (num_embeddings, dim); ``forward(ids)`` returns ``weight[ids]`` and
    gives ``weight`` a sparse gradient (:class:`~gputrain.autograd.SparseGrad`).

    ``init``: default word2vec's U(-0.5/dim, 0.5/dim); any name from
    :mod:`gputrain.nn.init` or a callable ``f(shape, rng)``.
    """

    def __init__(self, num_embeddings: int, dim: int, rng=None, device=None,
                 init=word2vec_uniform):
        self.num_embeddings = _check_size("num_embeddings", num_embeddings)
        self.dim = _check_size("dim", dim)
        make = initializers.get_initializer(init)
        w = make((self.num_embeddings, self.dim), _host_rng(rng))
        self.weight = Parameter(to_device(w, as_device(device), dtype=numpy.float32))

    def forward(self, ids):
        return ops.embedding(self.weight, ids)

    def __repr__(self):
        return f"Embedding({self.num_embeddings}, {self.dim})"


class Dropout(Module):
    """Inverted dropout with probability ``p``, active only in train mode.

    ``rng``: a generator (NumPy, or CuPy for GPU arrays) or a seed; moving the module
    to another device re-seeds a generator there from this one (deterministically).
    """

    def __init__(self, p: float = 0.5, rng=None):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = numpy.random.default_rng(rng) if rng is None or isinstance(
            rng, (int, numpy.integer)) else rng

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return ops.dropout(x, self.p, rng=self.rng, training=True)

    def _to_device(self, device: Device) -> None:
        on_gpu = not isinstance(self.rng, numpy.random.Generator)
        if on_gpu != device.is_gpu:
            seed = int(to_cpu(self.rng.integers(0, 2**31 - 1, size=1))[0])
            self.rng = device.rng(seed)

    def __repr__(self):
        return f"Dropout(p={self.p})"

