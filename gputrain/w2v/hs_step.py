"""One minibatch through the output layers that are on: negative sampling, hierarchical
softmax, or both (word2vec.c's ``-negative K -hs 1``).

Negative sampling updates ``w_in`` and ``w_out`` with the centre as positive and its
negatives; hierarchical softmax updates ``w_in`` and ``w_hs`` (one row per Huffman inner
node) along the centre's path, with the same step function given the path's code bits as
``signs`` (:mod:`gputrain.w2v.huffman`). With both on, the two steps run one after the
other on the same minibatch (word2vec.c adds both errors to the input row at once; here
the HS step sees the input rows the NS step just updated, a difference of one step's
update on an SGD step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gputrain.w2v.huffman import HuffmanPaths


def output_steps(step: Callable[..., tuple[float, int]], state, inputs: tuple,
                 targets: np.ndarray, lr: float, *, negative: bool,
                 paths: HuffmanPaths | None) -> tuple[float, int]:
    """Train one minibatch; returns (loss sum, number of input-output terms).

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
