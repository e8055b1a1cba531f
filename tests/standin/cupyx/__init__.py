"""``cupyx`` stand-in: the scatter functions (atomic on a GPU, one launch each here) and
pinned host arrays (``empty_pinned``, ``zeros_pinned``)."""

from __future__ import annotations

import numpy
from cupy import _state
from cupy._ndarray import _index, unwrap
from cupy.cuda.memory import empty_pinned


def zeros_pinned(shape, dtype=float, order="C"):
    out = empty_pinned(shape, dtype, order)
    out[...] = 0
    return out


def _scatter(ufunc, a, slices, value):
    dev = _state.current_device()
    ufunc.at(unwrap(a, dev), _index(slices, dev), unwrap(value, dev))
    _state.count_launch()


def scatter_add(a, slices, value) -> None:
    _scatter(numpy.add, a, slices, value)


def scatter_max(a, slices, value) -> None:
    _scatter(numpy.maximum, a, slices, value)


def scatter_min(a, slices, value) -> None:
    _scatter(numpy.minimum, a, slices, value)
