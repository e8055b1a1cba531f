"""``cupy.random`` stand-in: generators that draw on the current device.

The streams are NOT NumPy's for the same seed (as on CuPy, whose bit generator differs):
a test that expects a GPU draw to equal a CPU draw fails here as it would on a GPU.
"""

from __future__ import annotations

import numpy

from cupy import _state
from cupy._ndarray import ndarray, unwrap

_SALT = 0x5EED_C0DE  # keeps the stand-in's streams apart from numpy.random's


class Generator:
    """``cupy.random.Generator``: each draw is one launch and returns a device array."""

    def __init__(self, seed=None):
        entropy = [] if seed is None else list(numpy.atleast_1d(numpy.asarray(seed, "u8")))
        if seed is None:
            self._g = numpy.random.default_rng()
        else:
            self._g = numpy.random.Generator(numpy.random.PCG64(
                numpy.random.SeedSequence([*map(int, entropy), _SALT])))

    def _draw(self, name, *args, **kwargs):
        dev = _state.current_device()
        _state.check_device(dev)
        args = unwrap(args, dev)
        kwargs = {k: unwrap(v, dev) for k, v in kwargs.items()}
        out = numpy.asarray(getattr(self._g, name)(*args, **kwargs))
        _state.count_launch()
        return ndarray._of(out, dev)

    def random(self, size=None, dtype=numpy.float64, out=None):
        return self._draw("random", size, dtype=dtype)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        return self._draw("standard_normal", size, dtype=dtype)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw("normal", loc, scale, size)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        return self._draw("uniform", low, high, size).astype(dtype, copy=False)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return self._draw("integers", low, high, size, dtype=dtype, endpoint=endpoint)

    def exponential(self, scale=1.0, size=None):
        return self._draw("exponential", scale, size)

    def binomial(self, n, p, size=None):
        return self._draw("binomial", n, p, size)

    def poisson(self, lam=1.0, size=None):
        return self._draw("poisson", lam, size)

    def permutation(self, x):
        return self._draw("permutation", x)

    def choice(self, a, size=None, replace=True, p=None):
        return self._draw("choice", a, size, replace, p)


def default_rng(seed=None) -> Generator:
    return Generator(seed)


_legacy = Generator(None)


def seed(value=None) -> None:
    global _legacy
    _legacy = Generator(value)


def rand(*shape):
    return _legacy.random(shape)


def randn(*shape):
    return _legacy.standard_normal(shape)


def randint(low, high=None, size=None, dtype=int):
    return _legacy.integers(low, high, size, dtype=dtype)


def permutation(x):
    return _legacy.permutation(x)
