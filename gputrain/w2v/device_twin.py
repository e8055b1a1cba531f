"""NumPy twin of the device engine's kernel (``kernels/w2v_device.cu``), vectorised.

:func:`train_launch` takes the kernel's arguments and trains the same chunks with the same
draws (:mod:`gputrain.w2v.sampling`) and the same step semantics, on NumPy tables:

- per chunk, the tokens that survive subsampling are the centres, in order; a centre's
  contexts are the kept tokens of its chunk within its dynamic window;
- the kernel's block trains a chunk's centres in steps of ``sub`` consecutive centres, each
  step the exact minibatch gradient of its centres (all reads before all writes,
  duplicate rows summed), with a learning rate per centre from its global word position;
- ``concurrent`` chunks run in lockstep: step ``k`` of chunks ``r*concurrent ..
  (r+1)*concurrent - 1`` is one minibatch (as if that many blocks ran together). With
  ``concurrent=1`` this is exactly a grid of one block (sequential); tests hold the
  emulated kernel to it. The CPU engine-style trainer uses more, so that one minibatch
  holds a few hundred centres and NumPy's per-call cost is amortised.

Output columns per centre as in the kernel: with negative sampling the positive and the
negatives (``w_out``), with hierarchical softmax then the centre's Huffman path (``w_hs``,
labels from the code bits). In a minibatch of more centres than
:data:`gputrain.w2v.huffman.MAX_NODE_REPEATS` an inner node takes only that many centres'
worth of its summed update (the CPU engine's cap: the root is on every path); the kernel's
steps are never that large (``device_engine.choose_sub``), so there the cap is 1.

All arithmetic is the kernel's float32 (learning rate in float64, rounded once); only the
summation order of dot products and duplicate rows differs.
"""

from __future__ import annotations

import numpy as np

from gputrain.w2v import sampling
from gputrain.w2v.huffman import node_weights
from gputrain.w2v.step import _grad_and_loss, _scatter_add


def centres(ids, ids_base: int, starts, first_chunk: int, n_chunks: int, keep_prob, key: int):
    """The kept tokens of chunks ``first_chunk .. + n_chunks``: (global positions, word ids,
    chunk number within the launch, index within the chunk's kept tokens)."""
    bounds = np.asarray(starts[first_chunk:first_chunk + n_chunks + 1], dtype=np.int64)
    pos = np.arange(bounds[0], bounds[-1], dtype=np.int64)
    words = np.asarray(ids[bounds[0] - ids_base:bounds[-1] - ids_base])
    chunk = np.repeat(np.arange(n_chunks), np.diff(bounds))
    kept = sampling.keep_mask(key, pos, words, keep_prob)
    pos, words, chunk = pos[kept], words[kept], chunk[kept]
    first = np.searchsorted(chunk, np.arange(n_chunks))
    index = np.arange(len(chunk)) - first[chunk]
    return pos, words.astype(np.int32), chunk, index


def window_contexts(words, chunk, reach, window: int) -> np.ndarray:
    """``(n, 2*window)`` context ids (columns: offsets -W..-1, 1..W), -1 outside a
    centre's window or chunk."""
    n = len(words)
    out = np.full((n, 2 * window), -1, dtype=np.int32)
    offsets = [*range(-window, 0), *range(1, window + 1)]
    for col, off in enumerate(offsets):
        i = np.arange(max(0, -off), min(n, n - off))
        ok = (reach[i] >= abs(off)) & (chunk[i + off] == chunk[i])
        out[i[ok], col] = words[i[ok] + off]
    return out


def learning_rates(words_at, total_words: int, alpha: float, min_alpha: float) -> np.ndarray:
    """word2vec's linear decay per centre (float64 arithmetic, rounded once to float32)."""
    progress = np.minimum(np.asarray(words_at, dtype=np.float64) / float(total_words), 1.0)
    return np.maximum(alpha - (alpha - min_alpha) * progress, min_alpha).astype(np.float32)


class Outputs:
    """A launch's output side: ``targets`` (n, n_out) rows, -1 masked, the first ``ns``
    columns rows of ``w_out`` (negative sampling), the rest rows of ``w_hs`` (the Huffman
    path); ``signs`` (n, n_out): +1 label 1, -1 label 0."""

    def __init__(self, w_out, w_hs, targets, signs, ns: int):
        self.w_out, self.w_hs, self.targets, self.signs, self.ns = w_out, w_hs, targets, signs, ns

    def gather(self, trow):
        if self.ns == trow.shape[1]:
            return np.take(self.w_out, trow, axis=0)
        hs = np.take(self.w_hs, trow[:, self.ns:], axis=0)
        return np.concatenate([np.take(self.w_out, trow[:, :self.ns], axis=0), hs], axis=1)

    def update(self, trow, mask_t, grad_out) -> None:
        ns = self.ns
        if ns < trow.shape[1]:
            hs_rows, hs_mask = trow[:, ns:], mask_t[:, ns:]
            grad_out[:, ns:] *= node_weights(np.where(hs_mask, hs_rows, -1))[:, :, None]
            _scatter_add(self.w_hs, hs_rows[hs_mask], grad_out[:, ns:][hs_mask])
        if ns:
            _scatter_add(self.w_out, trow[:, :ns][mask_t[:, :ns]], grad_out[:, :ns][mask_t[:, :ns]])


def _sgns(w_in, out: Outputs, contexts, rows, lr) -> tuple[float, float]:
    targets = out.targets[rows]
    mask_c, mask_t = contexts >= 0, targets >= 0
    crow, trow = np.where(mask_c, contexts, 0), np.where(mask_t, targets, 0)
    inputs = np.take(w_in, crow, axis=0)  # (B, C, d)
    outputs = out.gather(trow)  # (B, T, d)
    sign = mask_c[:, :, None] * (out.signs[rows] * mask_t)[:, None, :]
    logits = np.matmul(inputs, outputs.transpose(0, 2, 1))
    g, loss = _grad_and_loss(logits, sign, lr[:, None, None])
    grad_in = np.matmul(g, outputs)
    grad_out = np.matmul(g.transpose(0, 2, 1), inputs)
    _scatter_add(w_in, crow[mask_c], grad_in[mask_c])
    out.update(trow, mask_t, grad_out)
    return loss, float(np.dot(mask_c.sum(axis=1), mask_t.sum(axis=1)))


def _cbow(w_in, out: Outputs, contexts, rows, lr) -> tuple[float, float]:
    targets = out.targets[rows]
    mask_c = contexts >= 0
    count = mask_c.sum(axis=1)
    mask_t = (targets >= 0) & (count > 0)[:, None]
    crow, trow = np.where(mask_c, contexts, 0), np.where(mask_t, targets, 0)
    h = np.einsum("bcd,bc->bd", np.take(w_in, crow, axis=0), mask_c.astype(np.float32))
    h *= (np.float32(1.0) / np.maximum(count, 1).astype(np.float32))[:, None]
    outputs = out.gather(trow)
    logits = np.einsum("bd,btd->bt", h, outputs)
    g, loss = _grad_and_loss(logits, out.signs[rows] * mask_t, lr[:, None])
    grad_h = np.einsum("bt,btd->bd", g, outputs)
    grad_in = np.broadcast_to(grad_h[:, None, :], crow.shape + (w_in.shape[1],))
    _scatter_add(w_in, crow[mask_c], grad_in[mask_c])
    out.update(trow, mask_t, g[:, :, None] * h[:, None, :])
    return loss, float(mask_t.sum())


def outputs(w_out, w_hs, words, pos, key: int, negative: int, table, points, psigns) -> Outputs:
    """The output columns of centres ``words`` at positions ``pos`` (as the kernel fills
    its ``tids`` / ``sgn``)."""
    parts, signs = [], []
    if negative:
        neg = sampling.negatives(key, pos, negative, table)
        parts += [words[:, None], np.where(neg == words[:, None], -1, neg)]
        signs.append(np.repeat(np.float32([[1.0] + [-1.0] * negative]), len(words), axis=0))
    if w_hs is not None:
        parts.append(np.asarray(points)[words])
        signs.append(np.asarray(psigns)[words])
    targets = np.concatenate(parts, axis=1).astype(np.int32)
    return Outputs(w_out, w_hs, targets, np.concatenate(signs, axis=1).astype(np.float32),
                   negative + 1 if negative else 0)


def train_launch(w_in, w_out, ids, ids_base: int, starts, first_chunk: int, n_chunks: int,
                 keep_prob, table, key: int, words_before: int, total_words: int,
                 alpha: float, min_alpha: float, window: int, negative: int, sub: int,
                 cbow: bool, concurrent: int, w_hs=None, points=None,
                 psigns=None) -> tuple[float, float]:
    """Train one launch's chunks in place; returns (loss sum, pairs) as the kernel adds to
    its ``totals``. Hierarchical softmax with ``w_hs`` and the Huffman ``points`` / ``psigns``
    (int32 / float32 (V, L)), as :func:`gputrain.kernels.w2v_device_train`."""
    pos, words, chunk, index = centres(ids, ids_base, starts, first_chunk, n_chunks,
                                       keep_prob, key)
    if len(pos) == 0:
        return 0.0, 0.0
    reach = sampling.reaches(key, pos, window)
    contexts = window_contexts(words, chunk, reach, window)
    out = outputs(w_out, w_hs, words, pos, key, negative, table, points, psigns)
    lr = learning_rates(words_before + pos, total_words, alpha, min_alpha)
    # minibatch of each centre: (round of chunks, step within the chunk), in that order
    steps = int(index.max()) // sub + 1
    batch = (chunk // concurrent) * steps + index // sub
    order = np.argsort(batch, kind="stable")
    cuts = np.flatnonzero(np.diff(batch[order])) + 1
    step = _cbow if cbow else _sgns
    loss = pairs = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # divergence: the caller checks the loss
        for rows in np.split(order, cuts):
            d_loss, d_pairs = step(w_in, out, contexts[rows], rows, lr[rows])
            loss += d_loss
            pairs += d_pairs
    return loss, pairs
