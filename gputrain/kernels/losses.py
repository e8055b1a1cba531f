"""Fused losses (kernels/losses.cu): sigmoid BCE and softmax cross-entropy."""

from __future__ import annotations

import math

import numpy

from gputrain.kernels import launch
from gputrain.kernels.launch import check, function, grid_for, same_shape, xp_of


def sigmoid_bce_forward(x, t):
    """Elementwise ``max(x, 0) - x*t + log1p(exp(-|x|))``, same shape as ``x``."""
    op = "sigmoid_bce_forward"
    check(op, "x", x, numpy.float32)
    same_shape(op, "t", check(op, "t", t, numpy.float32), x.shape)
    loss = xp_of(x).empty_like(x)
    if x.size:
        function("losses.cu", op, x)(
            (grid_for(x.size),), (launch.BLOCK,), (x, t, loss, numpy.int32(x.size))
        )
    return loss


def _gy_step(op: str, gy, shape) -> numpy.int32:
    """The upstream gradient is one value (a reduced loss: step 0) or one per element."""
    check(op, "gy", gy, numpy.float32)
    if gy.size == 1 and gy.ndim <= 1:
        return numpy.int32(0)
    same_shape(op, "gy", gy, shape)
    return numpy.int32(1)


def sigmoid_bce_backward(x, t, gy, scale: float = 1.0):
    """``(sigmoid(x) - t) * gy * scale``, all of ``x``'s shape; ``gy`` of that shape or one
    value."""
    op = "sigmoid_bce_backward"
    check(op, "x", x, numpy.float32)
    same_shape(op, "t", check(op, "t", t, numpy.float32), x.shape)
    step = _gy_step(op, gy, x.shape)
    gx = xp_of(x).empty_like(x)
    if x.size:
        function("losses.cu", op, x)(
            (grid_for(x.size),), (launch.BLOCK,),
            (x, t, gy, gx, numpy.int32(x.size), step, numpy.float32(scale)),
        )
    return gx


def _row_block(classes: int) -> int:
    """Threads per row: a multiple of 32 covering the classes, at most 256 (wider rows
    loop: each thread then handles several classes)."""
    return min(256, max(32, 32 * math.ceil(classes / 32)))


def softmax_xent_forward(logits, labels):
    """``(loss (N,), probs (N, C))``: one block per row, max-subtracted softmax.

    A label outside ``[0, C)`` gives a NaN loss for its row (the kernel cannot raise)."""
    op = "softmax_xent_forward"
    check(op, "logits", logits, numpy.float32, ndim=2)
    same_shape(op, "labels", check(op, "labels", labels, numpy.int32, ndim=1), logits.shape[:1])
    rows, classes = logits.shape
    xp = xp_of(logits)
    loss = xp.empty(rows, dtype=numpy.float32)
    probs = xp.empty_like(logits)
    if rows and classes:
        function("losses.cu", op, logits)(
            (rows,), (_row_block(classes),),
            (logits, labels, loss, probs, numpy.int32(rows), numpy.int32(classes)),
        )
    return loss, probs


def softmax_xent_forward_reduced(logits, labels, scale: float, bias=None, tally=None):
    """``(total (), probs (N, C))`` of softmax(``logits`` + ``bias``): ``total`` is
    ``scale`` times the sum of the rows' losses (``scale`` 1/N: the mean), summed in row
    order by one block (deterministic). ``bias`` (C,) or None; ``tally``: a float64 (2,)
    array the kernel adds the rows' loss sum and correct count (argmax == label) to, or
    None (a scratch one is used: the kernel always writes one)."""
    op = "softmax_xent_forward_reduced"
    check(op, "logits", logits, numpy.float32, ndim=2)
    same_shape(op, "labels", check(op, "labels", labels, numpy.int32, ndim=1), logits.shape[:1])
    rows, classes = logits.shape
    xp = xp_of(logits)
    if bias is None:
        bias = xp.zeros(classes, dtype=numpy.float32)
    same_shape(op, "bias", check(op, "bias", bias, numpy.float32, ndim=1), (classes,))
    if tally is None:
        tally = xp.zeros(2, dtype=numpy.float64)
    same_shape(op, "tally", check(op, "tally", tally, numpy.float64, ndim=1), (2,))
    total = xp.empty((), dtype=numpy.float32)
    probs = xp.empty_like(logits)
    function("losses.cu", op, logits)(
        (1,), (_row_block(max(classes, 1)),),
        (logits, bias, labels, total, probs, tally, numpy.int32(rows), numpy.int32(classes),
         numpy.float32(scale)),
    )
    return total, probs


def softmax_xent_backward(probs, labels, gy, scale: float = 1.0):
    """``(gx, gb)``: ``gx = (probs - onehot(labels)) * gy[:, None] * scale`` (``gy`` (N,)
    or one value; a row with a bad label becomes NaN) and ``gb`` its column sums (the
    gradient of a bias added to the logits), in one launch."""
    op = "softmax_xent_backward"
    check(op, "probs", probs, numpy.float32, ndim=2)
    same_shape(op, "labels", check(op, "labels", labels, numpy.int32, ndim=1), probs.shape[:1])
    step = _gy_step(op, gy, probs.shape[:1])
    rows, classes = probs.shape
    xp = xp_of(probs)
    gx = xp.empty_like(probs)
    gb = xp.empty(classes, dtype=numpy.float32)
    if classes:
        function("losses.cu", op, probs)(
            (math.ceil(classes / 32),), (32, 8),
            (probs, labels, gy, gx, gb, numpy.int32(rows), numpy.int32(classes), step,
             numpy.float32(scale)),
        )
    return gx, gb
