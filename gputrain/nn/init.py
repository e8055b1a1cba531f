"""Weight initialisation: uniform(-a, a), Xavier/Glorot, He/Kaiming, zeros.

Every initialiser takes the ``shape``, a random generator ``rng`` (NumPy or CuPy, from
``Device.rng(seed)``) and returns a float32 array on the generator's device. A 2-D weight
is stored ``(fan_in, fan_out)`` (``Linear`` computes ``x @ W``); for more dimensions the
trailing ones are a receptive field, as in PyTorch.
"""

from __future__ import annotations

import math

import numpy

from gputrain.backend import DEFAULT_DTYPE

PRELU_SLOPE = 0.25  # PReLU's starting slope (He et al. 2015)
GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0),
         "hardtanh": 1.0}


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight stored as (fan_in, fan_out, *receptive_field)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight with >= 2 dimensions, got {shape}")
    field = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[0] * field, shape[1] * field


# Units without a textbook gain get He's rule: the gain that keeps the second moment of
# the next layer's input at 1 for unit-variance pre-activations, 1 / sqrt(E[f(z)^2]) with
# z ~ N(0, 1) (for relu that is sqrt(2), He's own). Computed by quadrature.
MOMENT_UNITS = {
    "softplus": lambda z: numpy.logaddexp(0.0, z),
    "elu": lambda z: numpy.where(z > 0, z, numpy.expm1(numpy.minimum(z, 0))),
    "abs": numpy.abs,
    "cos": numpy.cos,
}


def _normal_grid():
    z = numpy.linspace(-12.0, 12.0, 48001)
    return z, numpy.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (z[1] - z[0])


def moment_gain(fn) -> float:
    """1 / sqrt(E[fn(z)^2]) for z ~ N(0, 1)."""
    z, weight = _normal_grid()
    return float(1.0 / math.sqrt(numpy.sum(fn(z) ** 2 * weight)))


def maxout_gain(pieces: int) -> float:
    """1 / sqrt(E[max(z_1..z_k)^2]) for k independent N(0, 1) pieces (1 for k = 2)."""
    z, weight = _normal_grid()
    cdf = 0.5 * (1.0 + numpy.vectorize(math.erf)(z / math.sqrt(2.0)))
    density = pieces * cdf ** (pieces - 1) * weight  # of the largest of k normals
    return float(1.0 / math.sqrt(numpy.sum(z * z * density)))


def gain(nonlinearity: str = "relu", slope: float = 0.01, pieces: int = 2) -> float:
    """The recommended gain for a non-linearity (leaky_relu and prelu: sqrt(2 / (1 +
    slope^2)), prelu's slope starting at 0.25; hardtanh: 1, it is the identity on [-1, 1];
    softplus, elu, abs, cos and maxout with ``pieces``: He's second-moment rule above)."""
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "prelu":
        return math.sqrt(2.0 / (1.0 + PRELU_SLOPE ** 2))
    if nonlinearity == "maxout":
        return maxout_gain(pieces)
    if nonlinearity in MOMENT_UNITS:
        return moment_gain(MOMENT_UNITS[nonlinearity])
    if nonlinearity not in GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return GAINS[nonlinearity]


def _rng(rng):
    return numpy.random.default_rng() if rng is None else rng


def uniform(shape, a: float, rng=None, dtype=DEFAULT_DTYPE):
    """U(-a, a)."""
    return _rng(rng).uniform(-a, a, size=tuple(shape)).astype(dtype, copy=False)


def normal(shape, std: float, rng=None, dtype=DEFAULT_DTYPE):
    """N(0, std^2)."""
    return (_rng(rng).standard_normal(size=tuple(shape)) * std).astype(dtype, copy=False)


def zeros(shape, rng=None, dtype=DEFAULT_DTYPE):
    """All zeros (biases). ``rng`` is accepted, and unused, so every initialiser has
    the same signature."""
    return numpy.zeros(tuple(shape), dtype=dtype)


def xavier_uniform(shape, rng=None, gain: float = 1.0, dtype=DEFAULT_DTYPE):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return uniform(shape, gain * math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def xavier_normal(shape, rng=None, gain: float = 1.0, dtype=DEFAULT_DTYPE):
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return normal(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def kaiming_uniform(shape, rng=None, nonlinearity: str = "relu", slope: float = 0.01,
                    dtype=DEFAULT_DTYPE, pieces: int = 2):
    """He uniform: U(-a, a), a = gain * sqrt(3 / fan_in) (variance gain^2 / fan_in)."""
    fan_in, _ = fans(shape)
    a = gain(nonlinearity, slope, pieces) * math.sqrt(3.0 / fan_in)
    return uniform(shape, a, rng, dtype)


def kaiming_normal(shape, rng=None, nonlinearity: str = "relu", slope: float = 0.01,
                   dtype=DEFAULT_DTYPE, pieces: int = 2):
    """He normal: N(0, std^2), std = gain / sqrt(fan_in)."""
    fan_in, _ = fans(shape)
    return normal(shape, gain(nonlinearity, slope, pieces) / math.sqrt(fan_in), rng, dtype)


INITIALIZERS = {
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
    "zeros": zeros,
}


def get_initializer(name_or_fn):
    """An initialiser ``f(shape, rng)`` from its name or a callable."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in INITIALIZERS:
        raise ValueError(f"unknown init {name_or_fn!r}: use one of {sorted(INITIALIZERS)}")
    return INITIALIZERS[name_or_fn]
