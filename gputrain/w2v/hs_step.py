"""One call of the CPU loop through the output layers that are on: negative sampling,
hierarchical softmax, or both (word2vec.c's ``-negative K -hs 1``).

Negative sampling updates ``w_in`` and ``w_out`` with the centre as positive and its
negatives; hierarchical softmax updates ``w_in`` and ``w_hs`` (one row per Huffman inner
node) along the centre's path, with the same step function given the path's code bits as
``signs`` (:mod:`gputrain.w2v.huffman`). With both on, the two passes run one after the
other over the same run of centres (up to 10,000 of them): the NS pass first, then the HS
pass over input rows the NS pass already moved. word2vec.c instead adds both errors to an
input row in one go, centre by centre; the two orders differ by the NS updates of the
other centres of the run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gputrain.w2v.huffman import HuffmanPaths


def output_steps(step: Callable[..., tuple[float, int]], state, inputs: tuple,
                 targets: np.ndarray, lr: float, *, negative: bool,
                 paths: HuffmanPaths | None) -> tuple[float, int]:
    """Train one run of centres; returns (loss sum, number of input-output terms).

    ``step(w_in, w_out, *inputs, targets, lr[, signs])`` is one of
    :mod:`gputrain.w2v.window_step`'s steps with its input layout ``inputs``; ``targets[:, 0]``
    are the centre words (the positives), the other columns the negatives.
    """
    loss, pairs = 0.0, 0
    if negative:
        loss, pairs = step(state.w_in, state.w_out, *inputs, targets, lr)
    if paths is not None:
        points, signs = paths.batch(targets[:, 0])
        hs_loss, hs_pairs = step(state.w_in, state.w_hs, *inputs, points, lr, signs)
        loss, pairs = loss + hs_loss, pairs + hs_pairs
    return loss, pairs
