"""The device engine's random draws: pure functions of (seed, epoch, token position, purpose).

A counter-based generator (splitmix64's mixing function over a counter): the draw for a
purpose at a token position is ``mix(key + (position * 128 + purpose) * GOLDEN)`` with
``key = mix(mix(seed + GOLDEN) + epoch * GOLDEN)``, all modulo 2**64. The CUDA kernel
(``kernels/w2v_device.cu``) computes the same integers, so kernel and twin draw the same
samples bit for bit, whatever order or process trains a token, and a run resumed at any
launch boundary draws what an uninterrupted run would have. Purposes at a position:

- ``KEEP`` (0): frequent-word subsampling: kept when ``(r >> 40) * 2**-24`` (a float32 in
  [0, 1), exact) is below the word's keep probability (float32, word2vec.c's formula);
- ``REACH`` (1): the dynamic window ``1 + (r >> 32) % window``;
- ``NEGATIVE + k`` (2 + k, k < 100): negative ``k`` of the centre at that position,
  ``table[((r >> 32) * len(table)) >> 32]`` from the unigram ** ns_exponent table.

Only kept words are centres and contexts; a window counts kept words (as word2vec.c,
which drops subsampled words before windowing) within one chunk of the corpus.
"""

from __future__ import annotations

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
KEEP, REACH, NEGATIVE = 0, 1, 2
PURPOSES = 128  # counters per position (2 + at most 100 negatives)


def _mix_int(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream_key(seed: int, epoch: int) -> int:
    """The 64-bit key of one epoch's draws (a Python int, passed to the kernel)."""
    return _mix_int(_mix_int(seed + GOLDEN) + epoch * GOLDEN)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def draws(key: int, positions: np.ndarray, purpose) -> np.ndarray:
    """uint64 draws for global token ``positions`` (int64) and ``purpose`` (an int or an
    array broadcasting against ``positions``)."""
    with np.errstate(over="ignore"):
        counter = (np.asarray(positions, dtype=np.uint64) * np.uint64(PURPOSES)
                   + np.asarray(purpose, dtype=np.uint64))
        return _mix(np.uint64(key) + counter * np.uint64(GOLDEN))


def keep_mask(key: int, positions: np.ndarray, ids: np.ndarray,
              keep_prob: np.ndarray) -> np.ndarray:
    """Which tokens survive subsampling (bool, one per position)."""
    u = (draws(key, positions, KEEP) >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)
    return u < keep_prob[ids]


def reaches(key: int, positions: np.ndarray, window: int) -> np.ndarray:
    """The dynamic window (int32 in 1..window) of the centres at ``positions``."""
    r = draws(key, positions, REACH) >> np.uint64(32)
    return (np.uint64(1) + r % np.uint64(window)).astype(np.int32)


def negatives(key: int, positions: np.ndarray, negative: int, table: np.ndarray) -> np.ndarray:
    """The ``negative`` draws (int32 word ids, ``(len(positions), negative)``) of each centre."""
    purpose = NEGATIVE + np.arange(negative, dtype=np.uint64)
    r = draws(key, np.asarray(positions)[:, None], purpose[None, :]) >> np.uint64(32)
    with np.errstate(over="ignore"):
        slot = (r * np.uint64(len(table))) >> np.uint64(32)
    return table[slot.astype(np.int64)]
