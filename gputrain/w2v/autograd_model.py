"""Word2vec written with the autograd: two ``Embedding`` tables and the sigmoid BCE loss.

This is the readable definition of the model that :mod:`gputrain.w2v.step` implements as
a fused, hand-derived minibatch step. It takes the same minibatch layout (``contexts``
``(B, C)`` and ``targets`` ``(B, 1+K)``, ``-1`` = padding), and one SGD step on its summed
loss is one call of ``sgns_step``/``cbow_step`` (tests hold them together). It is far
slower, which is why training uses the fused step.
"""

from __future__ import annotations

import numpy as np

from gputrain.autograd import Tensor, ops
from gputrain.nn import Embedding, Module


class Word2VecModel(Module):
    """``w_in`` (input vectors) and ``w_out`` (output vectors), both ``(n_words, dim)``."""

    def __init__(self, n_words: int, dim: int, rng=None, device=None):
        self.w_in = Embedding(n_words, dim, rng=rng, device=device)
        self.w_out = Embedding(n_words, dim, rng=rng, device=device, init="zeros")

    def loss(self, contexts, targets, cbow: bool = False) -> Tensor:
        """Summed BCE of the minibatch (skip-gram with shared outputs, or CBOW)."""
        xp = self.w_in.weight.xp
        contexts, targets = xp.asarray(contexts), xp.asarray(targets)
        mask_c = (contexts >= 0).astype(np.float32)
        mask_t = (targets >= 0).astype(np.float32)
        inputs = self.w_in(xp.where(contexts >= 0, contexts, 0))  # (B, C, d)
        outputs = self.w_out(xp.where(targets >= 0, targets, 0))  # (B, T, d)
        labels = xp.zeros(targets.shape, dtype=np.float32)
        labels[:, 0] = 1.0
        if cbow:
            count = mask_c.sum(axis=1, keepdims=True)
            summed = ops.matmul(Tensor(mask_c[:, None, :]), inputs)  # (B, 1, d)
            # the mean as a value, but the sum's gradient (word2vec's CBOW rule): the
            # subtracted part is a constant, so each context row gets the full error
            excess = summed.data - summed.data / xp.maximum(count, 1.0)[:, :, None]
            hidden = ops.sub(summed, Tensor(excess))
            logits = ops.matmul(hidden, ops.transpose(outputs, 0, 2, 1))  # (B, 1, T)
            logits = ops.reshape(logits, *targets.shape)
            mask = mask_t * (count > 0)
        else:
            logits = ops.matmul(inputs, ops.transpose(outputs, 0, 2, 1))  # (B, C, T)
            labels = xp.broadcast_to(labels[:, None, :], logits.shape)
            mask = mask_c[:, :, None] * mask_t[:, None, :]
        terms = ops.sigmoid_bce_with_logits(logits, labels, reduction="none")
        return ops.sum(ops.mul(terms, Tensor(mask)))
