"""Turn a slice of the encoded corpus into minibatches for :mod:`gputrain.w2v.step` or
runs of consecutive centres for :mod:`gputrain.w2v.window_step`.

Everything random lives here, drawn from one generator per slice, so a slice always gives
the same minibatches for the same seed (whatever process trains it):

- frequent-word subsampling with word2vec.c's formula: a word with count ``f`` out of
  ``total`` is kept with probability ``(sqrt(f / t) + 1) * t / f`` (capped at 1), where
  ``t = sample * total``;
- a dynamic window: each centre word draws ``b`` uniformly from 1..window and uses the
  ``b`` words on each side within its sentence (word2vec's ``b = rand % window`` shrink);
- K negatives per centre from the unigram distribution raised to ``ns_exponent``, shared by
  all the context words of that centre; a negative equal to the centre is masked out.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each word id under frequent-word subsampling (float32)."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * counts.sum()
    p = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.minimum(p, 1.0).astype(np.float32)


def negative_table(counts: np.ndarray, ns_exponent: float) -> np.ndarray:
    """word2vec.c's unigram table: word ids repeated in proportion to ``count **
    ns_exponent`` (int32, 100 entries per word, between 1M and 20M entries), so a negative
    is one uniform integer and one lookup. Words below one entry's share are never drawn."""
    weights = np.asarray(counts, dtype=np.float64) ** ns_exponent
    size = int(min(20_000_000, max(1_000_000, 100 * len(weights))))
    share = weights / weights.sum() * size
    reps = np.floor(share).astype(np.int64)
    short = size - int(reps.sum())  # hand the rounding remainder to the largest fractions
    if short > 0:
        reps[np.argsort(reps - share)[:short]] += 1
    return np.repeat(np.arange(len(weights), dtype=np.int32), reps)


def draw_negatives(table: np.ndarray, rng, shape) -> np.ndarray:
    return table[rng.integers(0, len(table), size=shape)]


def window_contexts(ids: np.ndarray, sentence: np.ndarray, reach: np.ndarray,
                    window: int) -> np.ndarray:
    """Context ids ``(n, 2 * window)`` of every position, ``-1`` outside its window.

    ``sentence[i]`` numbers the sentence of position ``i``; ``reach[i]`` is its window.
    """
    n = len(ids)
    out = np.full((n, 2 * window), -1, dtype=np.int32)
    col = 0
    for offset in [*range(-window, 0), *range(1, window + 1)]:
        lo, hi = max(0, -offset), min(n, n - offset)  # positions i with i + offset in range
        if lo < hi:
            i = np.arange(lo, hi)
            j = i + offset
            ok = (reach[lo:hi] >= abs(offset)) & (sentence[lo:hi] == sentence[j])
            out[lo:hi, col] = np.where(ok, ids[j], -1)
        col += 1
    return out


def slice_batches(ids: np.ndarray, sentence: np.ndarray, keep_prob: np.ndarray,
                  neg_table: np.ndarray, rng, window: int, negative: int, batch_centres: int,
                  windows: bool = False) -> Iterator[tuple]:
    """Yield the minibatches of one corpus slice, each ending with ``fraction``, how far
    through the slice it ends (0..1], for the learning rate schedule and progress.

    Default layout: ``(contexts, targets, fraction)`` for :func:`~gputrain.w2v.step.sgns_step`
    / ``cbow_step`` (centres without any context are left out). With ``windows=True``:
    ``(words, valid, targets, fraction)`` for ``sgns_window_step`` (consecutive centres).
    """
    n_all = len(ids)
    if n_all == 0:
        return
    pos = np.flatnonzero(rng.random(n_all, dtype=np.float32) < keep_prob[ids])
    kept = ids[pos]
    if len(kept) == 0:
        return
    reach = rng.integers(1, window + 1, size=len(kept))
    contexts = window_contexts(kept, sentence[pos], reach, window)
    targets = np.empty((len(kept), negative + 1), dtype=np.int32)
    targets[:, 0] = kept
    neg = draw_negatives(neg_table, rng, (len(kept), negative))
    targets[:, 1:] = np.where(neg == kept[:, None], -1, neg)
    if windows:
        padded = np.concatenate([np.full(window, -1, np.int32), kept,
                                 np.full(window, -1, np.int32)])
        valid = contexts >= 0
        for start in range(0, len(kept), batch_centres):
            stop = min(len(kept), start + batch_centres)
            yield (padded[start:stop + 2 * window], valid[start:stop], targets[start:stop],
                   float(pos[stop - 1] + 1) / n_all)
        return
    useful = np.flatnonzero((contexts >= 0).any(axis=1))
    for start in range(0, len(useful), batch_centres):
        rows = useful[start:start + batch_centres]
        yield contexts[rows], targets[rows], float(pos[rows[-1]] + 1) / n_all
