"""The loss math (NumPy twins of the CUDA kernels) against plain formulas, and its
numerical safety at extreme logits."""

import numpy as np
import pytest

from gputrain.autograd import Tensor, ops
from gputrain.autograd.ops.losses import (
    sigmoid_bce_backward,
    sigmoid_bce_forward,
    softmax_xent_backward,
    softmax_xent_forward,
)
from gputrain.backend import cupy_module, gpu_available


def naive_bce(x, t):
    p = 1 / (1 + np.exp(-x))
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def test_sigmoid_bce_matches_definition_on_moderate_logits():
    rng = np.random.default_rng(0)
    x, t = rng.uniform(-8, 8, 50), rng.uniform(0, 1, 50)
    np.testing.assert_allclose(sigmoid_bce_forward(x, t), naive_bce(x, t), rtol=1e-10)
    np.testing.assert_allclose(sigmoid_bce_backward(x, t, np.full(50, 2.0)),
                               2 * (1 / (1 + np.exp(-x)) - t), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bce_is_finite_and_exact_at_1e4(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow, no log(0)
        loss = sigmoid_bce_forward(x, t)
        grad = sigmoid_bce_backward(x, t, np.ones(4, dtype=dtype))
    np.testing.assert_allclose(loss, [0.0, 0.0, 1e4, 1e4])
    np.testing.assert_allclose(grad, [0.0, 0.0, 1.0, -1.0])
    assert loss.dtype == dtype and grad.dtype == dtype
    out = ops.sigmoid_bce_with_logits(Tensor(x, requires_grad=True), t)
    assert out.item() == pytest.approx(5e3)


def test_sigmoid_op_is_stable_at_extremes():
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = ops.sigmoid(np.array([-1e4, -40.0, 0.0, 40.0, 1e4])).data
    np.testing.assert_allclose(y, [0.0, 1 / (1 + np.exp(40.0)), 0.5, 1.0, 1.0], rtol=1e-12)


def test_softmax_xent_matches_definition():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 5))
    labels = rng.integers(0, 5, 6).astype(np.int32)
    loss, probs = softmax_xent_forward(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probs, p, rtol=1e-12)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(6), labels]), rtol=1e-12)
    gy = rng.standard_normal(6)
    onehot = np.eye(5)[labels]
    gx, gb = softmax_xent_backward(probs, labels, gy)
    np.testing.assert_allclose(gx, (p - onehot) * gy[:, None], rtol=1e-12)
    np.testing.assert_allclose(gb, ((p - onehot) * gy[:, None]).sum(axis=0), rtol=1e-12)
    assert gx is not probs  # probs not overwritten


def test_softmax_xent_huge_logits_stay_finite():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4]], dtype=np.float32)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, probs = softmax_xent_forward(logits, np.array([0, 0], dtype=np.int32))
    np.testing.assert_allclose(loss, [0.0, 2e4])
    np.testing.assert_allclose(probs, [[1, 0, 0], [0, 0, 1]])


def test_softmax_cross_entropy_op_mean_and_errors():
    logits = Tensor(np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])), requires_grad=True)
    loss = ops.softmax_cross_entropy(logits, [0, 1])
    assert loss.item() == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)
    with pytest.raises(ValueError, match="integers"):
        ops.softmax_cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="labels must be"):
        ops.softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"in \[0, 3\), got -1\.\.1"):
        ops.softmax_cross_entropy(logits, np.array([-1, 1]))
    with pytest.raises(ValueError, match="reduction"):
        ops.softmax_cross_entropy(logits, [0, 1], reduction="avg")


def test_softmax_cross_entropy_adds_loss_sum_and_correct_count_to_a_tally():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]], np.float32)
    bias = np.array([0.0, 0.0, 0.5], np.float32)
    labels = np.array([0, 2, 0])  # right, wrong, right (a tie goes to the first index)
    tally = np.array([1.0, 4.0])
    loss = ops.softmax_cross_entropy(logits, labels, bias=bias, tally=tally)
    rows = ops.softmax_cross_entropy(logits + bias, labels, reduction="none").data
    np.testing.assert_allclose(tally, [1.0 + rows.astype(np.float64).sum(), 4.0 + 2])
    assert loss.item() == pytest.approx(rows.mean())
    for bad in (dict(reduction="none", tally=tally), dict(tally=np.zeros(2, np.float32)),
                dict(tally=np.zeros(3))):
        with pytest.raises(ValueError, match="tally"):
            ops.softmax_cross_entropy(logits, labels, **bad)
    with pytest.raises(ValueError, match="bias"):
        ops.softmax_cross_entropy(logits, labels, bias=np.zeros(2, np.float32))


def test_mse_value():
    assert ops.mse(np.array([1.0, 2.0]), np.array([0.0, 4.0])).item() == pytest.approx(2.5)


def test_losses_refuse_silent_broadcasting():
    with pytest.raises(ValueError, match=r"\(3, 1\) and target shape \(3,\)"):
        ops.mse(Tensor(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match="differ"):
        ops.sigmoid_bce_with_logits(Tensor(np.zeros((3, 1))), np.zeros(3))
    assert ops.sigmoid_bce_with_logits(Tensor(np.zeros(3)), 1.0).item() == pytest.approx(
        np.log(2))


@pytest.mark.gpu
def test_ops_on_gpu_match_numpy():
    cp = cupy_module()
    assert gpu_available()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    w = rng.standard_normal((10, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 64).astype(np.int32)
    results = []
    for xp in (np, cp):
        wt = Tensor(xp.asarray(w), requires_grad=True)
        h = ops.relu(Tensor(xp.asarray(x)) @ wt)
        loss = ops.softmax_cross_entropy(h, xp.asarray(labels)) + ops.sigmoid_bce_with_logits(
            h, xp.asarray((x[:, :7] > 0).astype(np.float32)))
        loss.backward()
        results.append((float(loss.item()), cp.asnumpy(wt.grad) if xp is cp else wt.grad))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-6)
