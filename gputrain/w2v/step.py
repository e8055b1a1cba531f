"""One word2vec minibatch step on NumPy: the fused, hand-derived definition of the model's
gradient (the autograd model and the CPU trainer's compiled loop are tested against it).

The model is two embedding tables, ``w_in`` (input vectors, the ones usually saved) and
``w_out`` (output vectors, word2vec's ``syn1neg``), both ``(vocab, dim)`` float32, and the
sigmoid binary cross-entropy on dot products of an input and an output row::

    loss = sum over (input i, output o) of  BCE(sigmoid(i . o), label)

with label 1 for the positive output and 0 for each negative. This module takes the exact
gradient of that sum for a whole minibatch (computed from the tables as they were before
the step) and applies it with plain SGD: ``table[row] -= lr * dloss/drow``, duplicate rows
summed. :mod:`gputrain.w2v.autograd_model` builds the same model from autograd pieces;
``tests/w2v/test_step_autograd.py`` checks one step here equals one SGD step there.

Minibatch layout (shared by both functions):

``contexts`` int32 ``(B, C)``
    rows of ``w_in``: the context words of centre word ``b``, padded with ``-1``.
``targets`` int32 ``(B, 1 + K)``
    rows of ``w_out``: column 0 is the positive (the centre word), columns 1..K the
    negatives drawn for centre ``b``; ``-1`` masks an entry (e.g. a negative that equals
    the centre word).

Skip-gram (:func:`sgns_step`), as Intel's HogBatch / pWord2Vec shares outputs: every valid
context row ``c`` of centre ``b`` is an input paired with every valid output ``t`` of the
same centre (the positive and the *shared* K negatives), so one centre is a small dense
``(C x d) @ (d x (1+K))`` product. Like word2vec.c, the context word's input vector predicts
the centre word's output vector. Per centre::

    logits[c, t] = w_in[contexts[b, c]] . w_out[targets[b, t]]
    g[c, t]      = label[t] - sigmoid(logits[c, t])          (0 where masked)
    w_in[contexts[b, c]]  += lr * sum_t g[c, t] * w_out[targets[b, t]]
    w_out[targets[b, t]]  += lr * sum_c g[c, t] * w_in[contexts[b, c]]

CBOW (:func:`cbow_step`): the input of centre ``b`` is the mean ``h`` of its ``n`` valid
context rows (gensim's ``cbow_mean=1``); ``g[t] = label[t] - sigmoid(h . w_out[t])``;
``w_out[t] += lr * g[t] * h``; every context row gets the whole ``lr * sum_t g[t] w_out[t]``
(word2vec.c's and gensim's rule: the error of the mean goes in full to each context word,
i.e. the gradient of the mean without the 1/n; with the exact 1/n, input vectors learn n
times slower and CBOW lags far behind gensim). Centres with no valid context are skipped.

Hierarchical softmax is the same arithmetic with other rows and labels: ``targets`` are
the Huffman inner nodes on the centre's path (rows of the HS table ``w_hs``), ``signs``
(float32, like ``targets``) their labels, +1 for code bit 0 and -1 for 1, replacing
"column 0 positive, the rest negative".

The CPU trainer runs the same arithmetic per term in word2vec.c's sequential order,
compiled (:mod:`gputrain.w2v.window_step`; a minibatch of one CBOW centre, or of one
skip-gram (centre, context) pair, here is one step of that loop). These are NumPy
functions: on a GPU the device engine trains (:mod:`gputrain.w2v.device_engine`).

Both return the summed loss of the minibatch (before the update) as a float64. Logits are
clipped to [-30, 30] inside the loss and sigmoid (so no overflow; a term then saturates).
Apart from the clipping, everything is exact float32 arithmetic; nothing is shared between
calls, so the caller owns every random choice (windows, negatives, subsampling).
"""

from __future__ import annotations

import numpy as np

CLIP = 30.0


def _check(w_in, w_out, contexts, targets) -> None:
    if w_in.dtype != np.float32 or w_out.dtype != np.float32:
        raise TypeError("w_in and w_out must be float32")
    if contexts.dtype != np.int32 or targets.dtype != np.int32:
        raise TypeError("contexts and targets must be int32")
    if contexts.ndim != 2 or targets.ndim != 2 or len(contexts) != len(targets):
        raise ValueError("contexts (B, C) and targets (B, 1+K) must have the same B")
    if w_in.shape != w_out.shape or not (w_in.flags.c_contiguous and w_out.flags.c_contiguous):
        raise ValueError("w_in and w_out must be C-contiguous tables of one shape")


def _scatter_add(table, rows, values) -> None:
    """``table[rows[i]] += values[i]`` (rows may repeat) via a flat 1-D ``np.add.at``.

    With an even row width the float32 pairs are viewed as complex64 numbers: a complex
    add is the same two float32 adds, bit for bit, and ``add.at`` then walks half as many
    elements (about twice as fast).
    """
    dim = table.shape[1]
    values = np.ascontiguousarray(values, dtype=np.float32).reshape(len(rows), dim)
    flat_table = table.reshape(-1)
    if dim % 2 == 0:
        dim //= 2
        flat_table = flat_table.view(np.complex64)
        values = values.view(np.complex64)
    flat = (rows.astype(np.int64)[:, None] * dim + np.arange(dim, dtype=np.int64)).ravel()
    np.add.at(flat_table, flat, values.reshape(-1))


def _signed_mask(targets, mask_t, signs=None):
    """+1 for a valid positive, -1 for a valid negative, 0 when masked: (B, 1+K) float32.
    ``signs`` (B, T) replaces "column 0 positive, the rest negative" (hierarchical softmax:
    +1 / -1 per code bit, see :mod:`gputrain.w2v.huffman`)."""
    if signs is not None:
        if signs.shape != targets.shape or signs.dtype != np.float32:
            raise ValueError("signs must be float32 of the targets' shape")
        return signs * mask_t
    sign = np.full(targets.shape, -1.0, dtype=np.float32)
    sign[:, 0] = 1.0
    return sign * mask_t


def _grad_and_loss(logits, sign, lr: float):
    """``lr * (label - sigmoid(logits))`` (0 where ``sign`` is 0) and the summed BCE.

    ``sign`` is +1 for a positive term, -1 for a negative, 0 for padding, so with
    ``z = sign * logit`` the term's loss is ``log(1 + exp(-z))`` and its gradient
    ``sign * (1 - sigmoid(z))``. Works in place on ``logits``.
    """
    e = logits
    e *= sign
    np.clip(e, -CLIP, CLIP, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)  # exp(-z)
    terms = np.log1p(e)
    terms *= np.abs(sign)
    loss = float(terms.sum(dtype=np.float64))
    denominator = e + np.float32(1.0)
    e /= denominator  # 1 - sigmoid(z)
    e *= sign
    e *= np.float32(lr)
    return e, loss


def sgns_step(w_in, w_out, contexts, targets, lr: float, signs=None) -> float:
    """One skip-gram negative-sampling SGD step in place; returns the loss sum (float64).
    With ``signs``, the labels of the targets (hierarchical softmax)."""
    _check(w_in, w_out, contexts, targets)
    mask_c = contexts >= 0
    mask_t = targets >= 0
    crow = np.where(mask_c, contexts, 0)
    trow = np.where(mask_t, targets, 0)
    inputs = np.take(w_in, crow, axis=0)  # (B, C, d)
    outputs = np.take(w_out, trow, axis=0)  # (B, T, d)
    sign = mask_c[:, :, None] * _signed_mask(targets, mask_t, signs)[:, None, :]  # (B, C, T)
    logits = np.matmul(inputs, outputs.transpose(0, 2, 1))
    g, loss = _grad_and_loss(logits, sign, lr)  # lr * (label - sigmoid), 0 where masked
    grad_in = np.matmul(g, outputs)  # (B, C, d)
    grad_out = np.matmul(g.transpose(0, 2, 1), inputs)  # (B, T, d)
    _scatter_add(w_in, crow[mask_c], grad_in[mask_c])
    _scatter_add(w_out, trow[mask_t], grad_out[mask_t])
    return loss


def cbow_step(w_in, w_out, contexts, targets, lr: float, signs=None) -> float:
    """One CBOW (mean of context) negative-sampling SGD step in place; returns the loss sum.
    ``signs`` as in :func:`sgns_step`."""
    _check(w_in, w_out, contexts, targets)
    mask_c = contexts >= 0
    count = mask_c.sum(axis=1)
    keep = count > 0
    mask_t = (targets >= 0) & keep[:, None]
    crow = np.where(mask_c, contexts, 0)
    trow = np.where(mask_t, targets, 0)
    inv_n = (1.0 / np.maximum(count, 1)).astype(np.float32)
    h = np.einsum("bcd,bc->bd", np.take(w_in, crow, axis=0), mask_c.astype(np.float32))
    h *= inv_n[:, None]
    outputs = np.take(w_out, trow, axis=0)  # (B, T, d)
    sign = _signed_mask(targets, mask_t, signs)
    logits = np.einsum("bd,btd->bt", h, outputs)
    g, loss = _grad_and_loss(logits, sign, lr)  # (B, T)
    grad_h = np.einsum("bt,btd->bd", g, outputs)  # to every context row, undivided
    grad_out = g[:, :, None] * h[:, None, :]
    grad_in = np.broadcast_to(grad_h[:, None, :], crow.shape + (w_in.shape[1],))
    _scatter_add(w_in, crow[mask_c], grad_in[mask_c])
    _scatter_add(w_out, trow[mask_t], grad_out[mask_t])
    return loss
