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


def output_steps(step: Callable[..., float], state, inputs: tuple, targets: np.ndarray,
                 n_in: np.ndarray, lr: float, *, cbow: bool, negative: bool,
                 paths: HuffmanPaths | None) -> tuple[float, int]:
    """Train one minibatch; returns (loss sum, number of input-output terms).

    ``step(w_in, w_out, *inputs, targets, lr[, signs, out_weight])`` is one of
    :mod:`gputrain.w2v.window_step`'s steps with its input layout ``inputs``; ``targets[:, 0]``
    are the centre words (the positives), the other columns the negatives. ``n_in``
    counts each centre's valid inputs.
    """
    loss = 0.0
    n_out = np.zeros(len(targets), dtype=np.int64)
    if negative:
        n_out += (targets >= 0).sum(axis=1)
        loss += step(state.w_in, state.w_out, *inputs, targets, lr)
    if paths is not None:
        points, signs, weight = paths.batch(targets[:, 0])
        n_out += (points >= 0).sum(axis=1)
        loss += step(state.w_in, state.w_hs, *inputs, points, lr, signs, weight)
    pairs = int(np.dot(n_in > 0, n_out) if cbow else np.dot(n_in, n_out))
    return loss, pairs
