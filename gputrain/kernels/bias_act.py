"""Bias + ReLU (kernels/bias_act.cu)."""

from __future__ import annotations

import math

import numpy

from gputrain.kernels import launch
from gputrain.kernels.launch import check, function, grid_for, same_shape, xp_of


def _bias_args(op: str, x, b):
    check(op, "x", x, numpy.float32, ndim=2)
    same_shape(op, "b", check(op, "b", b, numpy.float32, ndim=1), x.shape[1:])
    return numpy.int32(x.shape[0]), numpy.int32(x.shape[1])


def bias_relu_forward(x, b):
    """``relu(x + b)`` for ``x`` (rows, cols) and ``b`` (cols,), in one launch."""
    rows, cols = _bias_args("bias_relu_forward", x, b)
    y = xp_of(x).empty_like(x)
    if x.size:
        function("bias_act.cu", "bias_relu_forward", x)(
            (grid_for(x.size),), (launch.BLOCK,), (x, b, y, rows, cols))
    return y


def bias_relu_backward(y, gy):
    """``(gx, gb)``: ``gy`` where ``y > 0`` else 0, and its column sums, in one launch."""
    op = "bias_relu_backward"
    check(op, "y", y, numpy.float32, ndim=2)
    same_shape(op, "gy", check(op, "gy", gy, numpy.float32), y.shape)
    xp = xp_of(y)
    gx = xp.empty_like(y)
    gb = xp.empty(y.shape[1], dtype=numpy.float32)
    if y.shape[1]:
        function("bias_act.cu", op, y)(
            (math.ceil(y.shape[1] / 32),), (32, 8),
            (y, gy, gx, gb, numpy.int32(y.shape[0]), numpy.int32(y.shape[1])))
    return gx, gb
