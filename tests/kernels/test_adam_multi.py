"""The multi-tensor Adam/AdamW kernel against its NumPy twin (emulated without a GPU), and
the twin against the optimizer's own per-parameter CPU rule."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain.autograd.tensor import Tensor
from gputrain.backend import to_cpu
from gputrain.optim import make_optimizer
from gputrain.optim.adam import adam_multi

pytestmark = pytest.mark.timeout(120, method="thread")
SHAPES = [(7, 5), (300,), (1,), (33, 65), (2, 3, 4), (129,), (5,), (64, 10), (3,), (1000,),
          (17, 17)]  # 11 tensors: two launches of 8, the second one padded


def _tensors(seed):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    ms = [rng.normal(size=s).astype(np.float32) * 0.1 for s in SHAPES]
    vs = [rng.random(s, dtype=np.float32) * 0.01 for s in SHAPES]
    return params, ms, vs, rng


@pytest.mark.parametrize("decoupled,wd", [(False, 0.0), (False, 0.05), (True, 0.01)])
def test_kernel_matches_twin_over_steps(kernels, xp, decoupled, wd):
    params, ms, vs, rng = _tensors(1)
    on = [[xp.asarray(a) for a in group] for group in (params, ms, vs)]
    for step in (1, 2, 10):
        grads = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
        adam_multi(params, grads, ms, vs, 3e-3, 0.9, 0.999, 1e-8, wd, step, decoupled)
        kernels.adam_multi(*on[:1], [xp.asarray(g) for g in grads], *on[1:], 3e-3, 0.9,
                           0.999, 1e-8, wd, step, decoupled)
    for got, want in zip(sum(on, []), params + ms + vs, strict=True):
        np.testing.assert_allclose(to_cpu(got), want, rtol=2e-6, atol=1e-7)


def test_kernel_refuses_mismatched_tensors(kernels, xp):
    p = xp.zeros(4, dtype=np.float32)
    with pytest.raises(Exception, match="shape"):
        kernels.adam_multi([p], [xp.zeros(5, dtype=np.float32)], [p], [p], 1e-3, 0.9, 0.999,
                           1e-8, 0.0, 1, False)
    with pytest.raises(Exception, match="float32"):
        kernels.adam_multi([p], [xp.zeros(4, dtype=np.float64)], [p], [p], 1e-3, 0.9, 0.999,
                           1e-8, 0.0, 1, False)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_twin_is_the_optimizers_cpu_rule(name):
    params, _, _, rng = _tensors(2)
    tensors = [Tensor(p.copy(), requires_grad=True) for p in params]
    opt = make_optimizer(name, tensors, lr=1e-2, weight_decay=0.02)
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    for step in range(1, 4):
        grads = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
        for t, g in zip(tensors, grads, strict=True):
            t.grad = g
        opt.step()
        adam_multi(params, grads, ms, vs, 1e-2, 0.9, 0.999, 1e-8, 0.02, step, name == "adamw")
    for t, p in zip(tensors, params, strict=True):
        np.testing.assert_allclose(t.data, p, rtol=1e-6, atol=1e-8)
