"""The CPU trainer's steps: skip-gram and CBOW over a run of *consecutive* centre words,
word2vec.c's loop compiled with numba.

The arithmetic per term is :mod:`gputrain.w2v.step`'s (same labels, same clipped sigmoid,
same float32), but the order is word2vec.c's and gensim's, not a minibatch's: centre
after centre, each term sees every update before it. CBOW: the context mean ``h``; per
output row ``o`` (the centre, then its negatives) ``g = lr * (label - sigmoid(h . o))``,
``neu1e += g * o``, ``o += g * h``; then every context row ``+= neu1e``. Skip-gram: per
context word ``c`` of the centre, the same with ``h = w_in[c]``, then ``w_in[c] += neu1e``
(so ``B`` centres equal ``B`` one-centre minibatches of step.py for CBOW, and one per
(centre, context) for skip-gram, up to repeated output rows; tests check the loop against a
literal transcription of word2vec.c's). With ``signs`` (hierarchical softmax) a term whose
``|h . o|`` is 6 or more counts in the loss but updates nothing, as in word2vec.c's and
gensim's HS loops (negative sampling keeps every term, as word2vec.c's).

The windows are given as positions instead of a ``contexts`` matrix:

``words`` int32 ``(B + 2W,)``
    the (kept) words from ``W`` before the first centre to ``W`` after the last, ``-1``
    beyond the data; centre ``b`` is ``words[b + W]``;
``sentence`` int32 ``(B + 2W,)``
    the sentence number of each of them (a window stops at its centre's sentence);
``reach`` int32 ``(B,)``
    each centre's window (word2vec's shrunk window, 1..W),

so the contexts of centre ``b`` are the words at offsets ``-reach[b]..-1, 1..reach[b]``
from it that exist and share its sentence. ``B`` only sets how much work one call does;
the result does not depend on it.

Why sequential and compiled: a minibatch applied at once (step.py's semantics) needs
``(B, d)`` buffers of means and gradients and a second pass over every row, and sums the
stale updates of a repeated row (the most frequent words, the Huffman root); word2vec.c's
order reads each row where it is used and keeps only one row of scratch (measured per
3M-token CBOW run, about 1.5x faster than the minibatch version of this loop). The first
call compiles (5-20 s) and numba caches the machine code on disk; a later process loads it
(about 1 s, with numba's import).
"""

from __future__ import annotations

import numba
import numpy as np

from gputrain.w2v.step import CLIP, _check

_FAST = {"nsz", "reassoc", "contract"}  # SIMD sums; no finite-math assumption (NaN stays NaN)
_NO_SIGNS = np.zeros((0, 0), np.float32)
_ONE = np.float32(1.0)
_CLIP = np.float32(CLIP)
_MAX_EXP = np.float32(6.0)  # word2vec.c's and gensim's HS skip a term with |dot| >= this


def _jit(fn):
    """``numba.njit`` with the machine code cached on disk, or compiled in every process
    where numba finds no writable cache directory (it raises at decoration then)."""
    try:
        return numba.njit(cache=True, fastmath=_FAST)(fn)
    except RuntimeError:
        return numba.njit(fastmath=_FAST)(fn)


@_jit
def _term(dot, sign, lr):
    """``(lr * sign * (1 - sigmoid(sign * dot)), 1 + exp(-sign * dot))`` with ``sign * dot``
    clipped to [-CLIP, CLIP] (step.py's ``_grad_and_loss``), all in float32 like step.py
    (no float64 ``exp``: every literal and argument is float32). The term's loss is the log
    of the second value: :func:`_tally` adds it up."""
    z = min(max(sign * dot, -_CLIP), _CLIP)
    e = np.exp(-z)
    d = _ONE + e
    return e / d * sign * lr, d


@_jit
def _tally(loss, product, d):
    """``loss + log(d)`` kept as ``(loss, product)``, the logs of many terms taken at once
    as the log of their product (float64; flushed before it could overflow): one ``log``
    per ~100 terms instead of one per term, which took ~30% of the HS skip-gram step.
    The summed loss is ``loss + log(product)``; a NaN stays NaN."""
    product *= d
    if product > 1e30:
        loss += np.log(product)
        product = 1.0
    return loss, product


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
def _outputs(x, i, w_out, targets, signs, b, lr, neu1e, loss, product):
    """word2vec.c's inner loop: input row ``x[i]`` against centre ``b``'s output rows,
    each updated at once; their error summed into ``neu1e[0]`` (zeroed first) for the
    caller to apply. Returns ``(loss, product, terms)`` (:func:`_tally`)."""
    hs = signs.shape[0] != 0  # hierarchical softmax: saturated nodes are left alone
    neu1e[0, :] = 0.0
    terms = 0
    for t in range(targets.shape[1]):
        sign = _sign(targets, signs, b, t)
        if sign == 0.0:
            continue
        o = targets[b, t]
        dot = _dot(x, i, w_out, o)
        g, d = _term(dot, sign, lr)
        loss, product = _tally(loss, product, d)
        terms += 1
        if hs and abs(dot) >= _MAX_EXP:
            continue
        _axpy(g, w_out, o, neu1e, 0)
        _axpy(g, x, i, w_out, o)
    return loss, product, terms


@_jit
def _cbow(w_in, w_out, words, sentence, reach, targets, signs, lr):
    half = (len(words) - len(reach)) // 2  # W
    h = np.empty((1, w_in.shape[1]), np.float32)  # the context mean
    neu1e = np.empty((1, w_in.shape[1]), np.float32)
    loss, product = 0.0, 1.0  # the summed loss is loss + log(product): _tally
    pairs = 0  # input-output terms
    for b in range(len(reach)):
        centre = b + half
        lo, hi = centre - reach[b], centre + reach[b] + 1
        h[0, :] = 0.0
        count = 0
        for p in range(lo, hi):
            if p != centre and words[p] >= 0 and sentence[p] == sentence[centre]:
                _axpy(_ONE, w_in, words[p], h, 0)
                count += 1
        if count == 0:
            continue
        inv = _ONE / np.float32(count)
        for k in range(h.shape[1]):
            h[0, k] *= inv
        loss, product, terms = _outputs(h, 0, w_out, targets, signs, b, lr, neu1e, loss,
                                        product)
        pairs += terms
        for p in range(lo, hi):  # every context row gets the whole error (word2vec.c's rule)
            if p != centre and words[p] >= 0 and sentence[p] == sentence[centre]:
                _axpy(_ONE, neu1e, 0, w_in, words[p])
    return loss + np.log(product), pairs


@_jit
def _sgns(w_in, w_out, words, sentence, reach, targets, signs, lr):
    half = (len(words) - len(reach)) // 2  # W
    neu1e = np.empty((1, w_in.shape[1]), np.float32)
    loss, product = 0.0, 1.0  # the summed loss is loss + log(product): _tally
    pairs = 0  # input-output terms
    for b in range(len(reach)):
        centre = b + half
        for p in range(centre - reach[b], centre + reach[b] + 1):
            row = words[p]
            if p == centre or row < 0 or sentence[p] != sentence[centre]:
                continue
            loss, product, terms = _outputs(w_in, row, w_out, targets, signs, b, lr, neu1e,
                                            loss, product)
            pairs += terms
            _axpy(_ONE, neu1e, 0, w_in, row)
    return loss + np.log(product), pairs


def _checked(w_in, w_out, words, sentence, reach, targets, signs):
    _check(w_in, w_out, np.zeros(targets.shape, np.int32), targets)
    if not all(a.dtype == np.int32 for a in (words, sentence, reach)):
        raise TypeError("words, sentence and reach must be int32")
    n = len(reach)
    if words.ndim != 1 or reach.ndim != 1 or words.shape != sentence.shape \
            or len(targets) != n or len(words) < n or (len(words) - n) % 2:
        raise ValueError("words and sentence (B + 2W,), reach (B,) and targets (B, 1+K) do "
                         "not match")
    if n and not 0 <= reach.min() <= reach.max() <= (len(words) - n) // 2:
        raise ValueError("reach must be in 0..W")  # the loops index words without checks
    if signs is not None and (signs.shape != targets.shape or signs.dtype != np.float32):
        raise ValueError("signs must be float32 of the targets' shape")
    # C-contiguous arrays only: other layouts would compile another version of the step
    return tuple(_NO_SIGNS if a is None else np.ascontiguousarray(a)
                 for a in (words, sentence, reach, targets, signs))


def sgns_window_step(w_in, w_out, words, sentence, reach, targets, lr: float,
                     signs=None) -> tuple[float, int]:
    """Skip-gram over ``B`` consecutive centres, word2vec.c's loop (module doc); returns
    (the loss, the number of input-output terms)."""
    args = _checked(w_in, w_out, words, sentence, reach, targets, signs)
    loss, pairs = _sgns(w_in, w_out, *args, np.float32(lr))
    return float(loss), int(pairs)


def cbow_window_step(w_in, w_out, words, sentence, reach, targets, lr: float,
                     signs=None) -> tuple[float, int]:
    """CBOW over ``B`` consecutive centres, word2vec.c's loop (module doc); returns (the
    loss, the number of input-output terms: one per term of a centre with context)."""
    args = _checked(w_in, w_out, words, sentence, reach, targets, signs)
    loss, pairs = _cbow(w_in, w_out, *args, np.float32(lr))
    return float(loss), int(pairs)


def compile_steps() -> None:
    """Compile both steps now (or load them from numba's cache): the CPU engine calls this
    before forking its workers, which then inherit the machine code instead of each
    compiling it."""
    table = np.zeros((1, 2), np.float32)
    words = np.array([-1, 0, -1], np.int32)
    for step in (sgns_window_step, cbow_window_step):
        step(table, table.copy(), words, words, np.ones(1, np.int32), np.zeros((1, 2), np.int32),
             0.0)
