"""The fused bias + ReLU: kernels against their NumPy twins (emulated without a GPU), the op
against the composition it replaces, and Sequential using it for Linear + ReLU."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain import nn
from gputrain.autograd import Tensor, gradcheck, ops
from gputrain.autograd.ops import fused
from gputrain.backend import to_cpu

pytestmark = pytest.mark.timeout(120, method="thread")


@pytest.mark.parametrize("rows,cols", [(1, 1), (37, 70), (130, 33), (5, 300)])
def test_kernels_match_twins(kernels, xp, rows, cols):
    rng = np.random.default_rng(cols)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    b = rng.normal(size=cols).astype(np.float32)
    x[0, 0] = np.nan  # stays NaN, as numpy.maximum leaves it
    gy = rng.normal(size=(rows, cols)).astype(np.float32)
    y = kernels.bias_relu_forward(xp.asarray(x), xp.asarray(b))
    want = fused.bias_relu_forward(x, b)
    np.testing.assert_array_equal(to_cpu(y), want)
    gx, gb = kernels.bias_relu_backward(y, xp.asarray(gy))
    want_gx, want_gb = fused.bias_relu_backward(want, gy)
    np.testing.assert_array_equal(to_cpu(gx), want_gx)
    np.testing.assert_allclose(to_cpu(gb), want_gb, rtol=1e-5, atol=1e-5)


def test_op_equals_the_composition_and_passes_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (6, 5))
    x[np.abs(x) < 0.1] = 0.5  # off the kink
    b = rng.uniform(-0.05, 0.05, 5)
    a, c = Tensor(x, requires_grad=True), Tensor(b, requires_grad=True)
    ops.sum(ops.bias_relu(a, c) * 1.5).backward()
    a2, c2 = Tensor(x, requires_grad=True), Tensor(b, requires_grad=True)
    ops.sum(ops.relu(a2 + c2) * 1.5).backward()
    np.testing.assert_array_equal(a.grad, a2.grad)
    np.testing.assert_allclose(c.grad, c2.grad, rtol=1e-12)
    assert gradcheck(ops.bias_relu, [x, b]) < 1e-6


def test_sequential_fuses_linear_then_relu_only():
    net = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1), nn.Tanh())
    x = Tensor(np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32))
    y = net(x)
    first, _, second, _ = list(net.children())
    want = ops.tanh(second(ops.relu(first(x))))
    np.testing.assert_allclose(y.data, want.data, rtol=1e-6)
    assert _ops_in_graph(net(x)) == {"Tanh", "Add", "MatMul", "BiasRelu"}


def _ops_in_graph(t) -> set[str]:
    seen, todo = set(), [t]
    while todo:
        fn = todo.pop().creator
        if fn is not None:
            seen.add(type(fn).__name__)
            todo.extend(fn.inputs)
    return seen
