"""One fused step equals one SGD step of the autograd model (Embedding + sigmoid BCE)."""

import numpy as np
import pytest

from gputrain.optim import SGD
from gputrain.w2v.autograd_model import Word2VecModel
from gputrain.w2v.step import cbow_step, sgns_step


def problem(seed, n_words=40, dim=8, batch=5, width=4, negative=3):
    """Distinct rows everywhere (no duplicates), some padding."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(n_words)
    contexts = rows[:batch * width].reshape(batch, width).astype(np.int32)
    contexts[rng.random(contexts.shape) < 0.25] = -1
    targets = rng.permutation(n_words)[:batch * (negative + 1)]
    targets = targets.reshape(batch, negative + 1).astype(np.int32)
    return contexts, targets


@pytest.mark.parametrize("cbow", [False, True])
def test_fused_step_equals_autograd_sgd_step(cbow):
    contexts, targets = problem(7)
    model = Word2VecModel(40, 8, rng=np.random.default_rng(0))
    model.w_out.weight.data[...] = np.random.default_rng(1).normal(0, 0.3, (40, 8))
    w_in = model.w_in.weight.data.copy()
    w_out = model.w_out.weight.data.copy()
    start_in = w_in.copy()

    lr = 0.2
    loss = model.loss(contexts, targets, cbow=cbow)
    loss.backward()
    SGD(model.parameters(), lr=lr).step()

    step = cbow_step if cbow else sgns_step
    fused_loss = step(w_in, w_out, contexts, targets, lr)
    np.testing.assert_allclose(fused_loss, float(loss.data), rtol=1e-5)
    np.testing.assert_allclose(w_in, model.w_in.weight.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_out, model.w_out.weight.data, rtol=1e-5, atol=1e-6)
    assert np.abs(w_in - start_in).max() > 1e-3  # the step did move the input rows
