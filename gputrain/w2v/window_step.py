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
    with ``sign * dot`` clipped to [-CLIP, CLIP] (step.py's ``_grad_and_loss``)."""
    z = min(max(sign * dot, -CLIP), CLIP)
    e = np.exp(-z)
    return np.float32(e / (1.0 + e) * sign * lr), np.log1p(e) * abs(sign)


@_jit
def _dot(x, y):
    total = np.float32(0.0)
    for k in range(len(x)):
        total += x[k] * y[k]
    return total


@_jit
def _axpy(a, x, y):
    """``y += a * x``"""
    for k in range(len(x)):
        y[k] += a * x[k]


@_jit
def _sign(targets, signs, b, t):
    if targets[b, t] < 0:
        return 0.0
    if signs.shape[0] == 0:
        return 1.0 if t == 0 else -1.0
    return float(signs[b, t])


@_jit
def _apply_outputs(w_out, targets, out_weight, grad_out):
    for b in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            o = targets[b, t]
            if o >= 0:
                scale = np.float32(1.0) if out_weight.shape[0] == 0 else out_weight[b, t]
                _axpy(scale, grad_out[b, t], w_out[o])


@_jit
def _cbow(w_in, w_out, words, valid, targets, signs, out_weight, lr):
    n, width = valid.shape
    half = width // 2
    n_t = targets.shape[1]
    h = np.zeros((n, w_in.shape[1]), np.float32)  # context means
    grad_h = np.zeros((n, w_in.shape[1]), np.float32)
    grad = np.zeros((n, n_t), np.float32)  # lr * (label - sigmoid) * out_weight per term
    loss = 0.0
    for b in range(n):
        count = 0
        for c in range(width):
            row = words[b + c + (c >= half)]
            if valid[b, c] and row >= 0:
                _axpy(np.float32(1.0), w_in[row], h[b])
                count += 1
        if count == 0:
            continue
        h[b] *= np.float32(1.0) / np.float32(count)
        for t in range(n_t):
            sign = _sign(targets, signs, b, t)
            if sign != 0.0:
                g, term = _term(_dot(h[b], w_out[targets[b, t]]), sign, lr)
                loss += term
                _axpy(g, w_out[targets[b, t]], grad_h[b])
                grad[b, t] = g if out_weight.shape[0] == 0 else g * out_weight[b, t]
    for b in range(n):  # apply: every context row gets the whole grad_h (word2vec.c's rule)
        for c in range(width):
            row = words[b + c + (c >= half)]
            if valid[b, c] and row >= 0:
                _axpy(np.float32(1.0), grad_h[b], w_in[row])
        for t in range(n_t):
            if grad[b, t] != 0.0:
                _axpy(grad[b, t], h[b], w_out[targets[b, t]])
    return loss


@_jit
def _sgns(w_in, w_out, words, valid, targets, signs, out_weight, lr):
    n, width = valid.shape
    half = width // 2
    n_t = targets.shape[1]
    grad_pos = np.zeros((len(words), w_in.shape[1]), np.float32)
    grad_out = np.zeros((n, n_t, w_in.shape[1]), np.float32)
    grad = np.zeros(n_t, np.float32)  # lr * (label - sigmoid) of one input's terms
    loss = 0.0
    for b in range(n):
        for c in range(width):
            p = b + c + (c >= half)
            row = words[p]
            if not valid[b, c] or row < 0:
                continue
            for t in range(n_t):
                sign = _sign(targets, signs, b, t)
                grad[t] = 0.0
                if sign != 0.0:
                    grad[t], term = _term(_dot(w_in[row], w_out[targets[b, t]]), sign, lr)
                    loss += term
            for t in range(n_t):
                if grad[t] != 0.0:
                    _axpy(grad[t], w_out[targets[b, t]], grad_pos[p])
                    _axpy(grad[t], w_in[row], grad_out[b, t])
    for p in range(len(words)):
        if words[p] >= 0:
            _axpy(np.float32(1.0), grad_pos[p], w_in[words[p]])
    _apply_outputs(w_out, targets, out_weight, grad_out)
    return loss


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
                     out_weight=None) -> float:
    """:func:`~gputrain.w2v.step.sgns_step` for ``B`` consecutive centres (module doc)."""
    args = _checked(w_in, w_out, words, valid, targets, signs, out_weight)
    return float(_sgns(w_in, w_out, args[0], args[1], args[2], args[3], args[4], float(lr)))


def cbow_window_step(w_in, w_out, words, valid, targets, lr: float, signs=None,
                     out_weight=None) -> float:
    """:func:`~gputrain.w2v.step.cbow_step` for ``B`` consecutive centres (module doc)."""
    args = _checked(w_in, w_out, words, valid, targets, signs, out_weight)
    return float(_cbow(w_in, w_out, args[0], args[1], args[2], args[3], args[4], float(lr)))


def compile_steps() -> None:
    """Compile both steps now (or load them from numba's cache): the CPU engine calls this
    before forking its workers, which then inherit the machine code instead of each
    compiling it."""
    table = np.zeros((1, 2), np.float32)
    for step in (sgns_window_step, cbow_window_step):
        step(table, table.copy(), np.array([-1, 0, -1], np.int32), np.ones((1, 2), np.bool_),
             np.zeros((1, 2), np.int32), 0.0)
