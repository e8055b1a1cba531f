"""The CPU trainer's steps: :func:`~gputrain.w2v.step.sgns_step` and
:func:`~gputrain.w2v.step.cbow_step` for a run of *consecutive* centre words, compiled
with numba.

Same arithmetic, same minibatch semantics as the NumPy steps (tested equal to them): every
gradient of the minibatch is computed from the tables as they were before the step, then
all are applied, duplicate rows summed. The windows are given as positions instead of a
``contexts`` matrix:

``words`` int32 ``(B + 2W,)``
    the (kept) words from ``W`` before the first centre to ``W`` after the last, ``-1``
    beyond the data;
``valid`` bool ``(B, 2W)``
    which of the offsets ``-W..-1, 1..W`` of each centre are in its window,

so ``contexts[b, c] = words[b + W + offset_c]`` where ``valid[b, c]``, else -1. Skip-gram
sums each position's input gradient over the centres that see it and applies it once.

Why compiled code: a minibatch of word2vec is many small dot products and row updates
(about 6 context rows and 6 output rows of 100 floats per centre). NumPy runs each of its
~30 array operations per minibatch over the whole batch, but pays for temporaries, masks,
gathers and ``np.add.at`` scatters (the scatters and gathers alone of the NumPy CBOW window
step this replaced took about as long as this whole step); one loop over the terms does the
same work reading each row where it is used (per minibatch of 512 centres, CBOW ~3x and
skip-gram ~1.5x the NumPy window steps). The first call compiles (5-20 s) and numba caches
the machine code on disk; a later process loads it (about 1 s, with numba's import).
"""

from __future__ import annotations

import numba
import numpy as np

from gputrain.w2v.step import CLIP, _check

_FAST = {"nsz", "reassoc", "contract"}  # SIMD sums; no finite-math assumption (NaN stays NaN)
_NO_WEIGHTS = np.zeros((0, 0), np.float32)
_ONE = np.float32(1.0)
_CLIP = np.float32(CLIP)


def _jit(fn):
    """``numba.njit`` with the machine code cached on disk, or compiled in every process
    where numba finds no writable cache directory (it raises at decoration then)."""
    try:
        return numba.njit(cache=True, fastmath=_FAST)(fn)
    except RuntimeError:
        return numba.njit(fastmath=_FAST)(fn)


@_jit
def _term(dot, sign, lr):
    """``(lr * sign * (1 - sigmoid(sign * dot)), log(1 + exp(-sign * dot)) * |sign|)``
    with ``sign * dot`` clipped to [-CLIP, CLIP] (step.py's ``_grad_and_loss``), all in
    float32 like step.py (no float64 ``exp``: every literal and argument is float32).
    The loss is ``log(1 + e)``, not ``log1p(e)``: ``log1pf`` alone took ~30% of the HS
    skip-gram step, and the difference (< 1e-7 absolute per term) is below float32's
    resolution of the summed loss."""
    z = min(max(sign * dot, -_CLIP), _CLIP)
    e = np.exp(-z)
    d = _ONE + e
    return e / d * sign * lr, np.log(d) * abs(sign)


@_jit
def _dot(x, i, y, j):
    """``x[i] . y[j]`` (rows by index: a row view would cost two reference count updates)"""
    total = np.float32(0.0)
    for k in range(x.shape[1]):
        total += x[i, k] * y[j, k]
    return total


@_jit
def _axpy(a, x, i, y, j):
    """``y[j] += a * x[i]``"""
    for k in range(x.shape[1]):
        y[j, k] += a * x[i, k]


@_jit
def _sign(targets, signs, b, t):
    if targets[b, t] < 0:
        return np.float32(0.0)
    if signs.shape[0] == 0:
        return _ONE if t == 0 else -_ONE
    return signs[b, t]


@_jit
def _cbow(w_in, w_out, words, valid, targets, signs, out_weight, lr):
    n, width = valid.shape
    half = width // 2
    n_t = targets.shape[1]
    h = np.zeros((n, w_in.shape[1]), np.float32)  # context means
    grad_h = np.zeros((n, w_in.shape[1]), np.float32)
    grad = np.zeros((n, n_t), np.float32)  # lr * (label - sigmoid) * out_weight per term
    loss = 0.0
    pairs = 0  # input-output terms
    for b in range(n):
        count = 0
        for c in range(width):
            row = words[b + c + (c >= half)]
            if valid[b, c] and row >= 0:
                _axpy(_ONE, w_in, row, h, b)
                count += 1
        if count == 0:
            continue
        inv = _ONE / np.float32(count)
        for k in range(h.shape[1]):
            h[b, k] *= inv
        for t in range(n_t):
            sign = _sign(targets, signs, b, t)
            if sign != 0.0:
                o = targets[b, t]
                g, term = _term(_dot(h, b, w_out, o), sign, lr)
                loss += term
                pairs += 1
                _axpy(g, w_out, o, grad_h, b)
                grad[b, t] = g if out_weight.shape[0] == 0 else g * out_weight[b, t]
    for b in range(n):  # apply: every context row gets the whole grad_h (word2vec.c's rule)
        for c in range(width):
            row = words[b + c + (c >= half)]
            if valid[b, c] and row >= 0:
                _axpy(_ONE, grad_h, b, w_in, row)
        for t in range(n_t):
            if grad[b, t] != 0.0:
                _axpy(grad[b, t], h, b, w_out, targets[b, t])
    return loss, pairs


@_jit
def _sgns(w_in, w_out, words, valid, targets, signs, out_weight, lr):
    n, width = valid.shape
    half = width // 2
    n_t = targets.shape[1]
    grad_pos = np.zeros((len(words), w_in.shape[1]), np.float32)
    grad = np.zeros((n, width, n_t), np.float32)  # lr * (label - sigmoid) of every term
    loss = 0.0
    pairs = 0  # input-output terms
    for b in range(n):
        for c in range(width):
            p = b + c + (c >= half)
            row = words[p]
            if not valid[b, c] or row < 0:
                continue
            for t in range(n_t):
                sign = _sign(targets, signs, b, t)
                if sign != 0.0:
                    o = targets[b, t]
                    g, term = _term(_dot(w_in, row, w_out, o), sign, lr)
                    loss += term
                    pairs += 1
                    grad[b, c, t] = g
                    _axpy(g, w_out, o, grad_pos, p)
    # apply the outputs' gradients first (w_in still as it was), then the inputs'
    for b in range(n):
        for t in range(n_t):
            o = targets[b, t]
            if o < 0:
                continue
            scale = _ONE if out_weight.shape[0] == 0 else out_weight[b, t]
            for c in range(width):
                if grad[b, c, t] != 0.0:
                    _axpy(grad[b, c, t] * scale, w_in, words[b + c + (c >= half)], w_out, o)
    for p in range(len(words)):
        if words[p] >= 0:
            _axpy(_ONE, grad_pos, p, w_in, words[p])
    return loss, pairs


def _checked(w_in, w_out, words, valid, targets, signs, out_weight):
    _check(w_in, w_out, np.zeros(targets.shape, np.int32), targets)
    if words.dtype != np.int32 or valid.dtype != np.bool_:
        raise TypeError("words must be int32 and valid bool")
    if valid.ndim != 2 or len(valid) != len(targets) or len(words) != len(valid) + valid.shape[1]:
        raise ValueError("words (B + 2W,), valid (B, 2W) and targets (B, 1+K) do not match")
    for name, a in (("signs", signs), ("out_weight", out_weight)):
        if a is not None and (a.shape != targets.shape or a.dtype != np.float32):
            raise ValueError(f"{name} must be float32 of the targets' shape")
    # C-contiguous arrays only: other layouts would compile another version of the step
    return tuple(_NO_WEIGHTS if a is None else np.ascontiguousarray(a)
                 for a in (words, valid, targets, signs, out_weight))


def sgns_window_step(w_in, w_out, words, valid, targets, lr: float, signs=None,
                     out_weight=None) -> tuple[float, int]:
    """:func:`~gputrain.w2v.step.sgns_step` for ``B`` consecutive centres (module doc);
    returns (its loss, its number of input-output terms)."""
    args = _checked(w_in, w_out, words, valid, targets, signs, out_weight)
    loss, pairs = _sgns(w_in, w_out, *args, np.float32(lr))
    return float(loss), int(pairs)


def cbow_window_step(w_in, w_out, words, valid, targets, lr: float, signs=None,
                     out_weight=None) -> tuple[float, int]:
    """:func:`~gputrain.w2v.step.cbow_step` for ``B`` consecutive centres (module doc);
    returns (its loss, its number of input-output terms: one per term of a centre with
    context)."""
    args = _checked(w_in, w_out, words, valid, targets, signs, out_weight)
    loss, pairs = _cbow(w_in, w_out, *args, np.float32(lr))
    return float(loss), int(pairs)


def compile_steps() -> None:
    """Compile both steps now (or load them from numba's cache): the CPU engine calls this
    before forking its workers, which then inherit the machine code instead of each
    compiling it."""
    table = np.zeros((1, 2), np.float32)
    for step in (sgns_window_step, cbow_window_step):
        step(table, table.copy(), np.array([-1, 0, -1], np.int32), np.ones((1, 2), np.bool_),
             np.zeros((1, 2), np.int32), 0.0)
