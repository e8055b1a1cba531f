"""Turn a slice of the encoded corpus into runs of consecutive centre words for
:mod:`gputrain.w2v.window_step`.

Everything random lives here, drawn from one generator per slice, so a slice always gives
the same runs for the same seed (whatever process trains it):

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


def slice_batches(ids: np.ndarray, sentence: np.ndarray, keep_prob: np.ndarray,
                  neg_table: np.ndarray, rng, window: int, negative: int,
                  centres: int) -> Iterator[tuple]:
    """Yield one corpus slice as runs of up to ``centres`` consecutive (kept) centre words
    for :mod:`gputrain.w2v.window_step`: ``(words, sentence, reach, targets, fraction)``,
    ``words``/``sentence`` int32 ``(B + 2W,)`` the kept words and their sentence numbers
    from ``W`` before the run's first centre to ``W`` after its last (-1 beyond the slice),
    ``reach`` int32 ``(B,)`` each centre's window, ``targets`` int32 ``(B, 1+K)`` the centre
    and its negatives, and ``fraction``, how far through the slice the run ends (0..1], for
    the learning rate schedule and progress."""
    n_all = len(ids)
    if n_all == 0:
        return
    pos = np.flatnonzero(rng.random(n_all, dtype=np.float32) < keep_prob[ids])
    kept = ids[pos]
    if len(kept) == 0:
        return
    reach = rng.integers(1, window + 1, size=len(kept), dtype=np.int32)
    targets = np.empty((len(kept), negative + 1), dtype=np.int32)
    targets[:, 0] = kept
    neg = draw_negatives(neg_table, rng, (len(kept), negative))
    targets[:, 1:] = np.where(neg == kept[:, None], -1, neg)
    pad = np.full(window, -1, np.int32)
    words = np.concatenate([pad, kept, pad])
    sentences = np.concatenate([pad, sentence[pos].astype(np.int32), pad])
    for start in range(0, len(kept), centres):
        stop = min(len(kept), start + centres)
        yield (words[start:stop + 2 * window], sentences[start:stop + 2 * window],
               reach[start:stop], targets[start:stop], float(pos[stop - 1] + 1) / n_all)
