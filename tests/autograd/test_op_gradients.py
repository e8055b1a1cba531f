"""Every op's backward against central differences in float64 (relative error < 1e-6),
parametrised over shapes, broadcasting and parameters (Chainer's gradient-check style)."""

import numpy as np
import pytest

from gputrain.autograd import gradcheck, ops

RNG = np.random.default_rng(1234)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def away_from(x, points, gap=0.05):
    """Move entries off the kinks of non-smooth ops (relu at 0, hardtanh at +-1)."""
    x = x.copy()
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap) * 2
    return x


BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),  # row broadcast (bias add)
    ((3, 1), (1, 4)),  # outer broadcast
    ((2, 3, 4), (3, 1)),
    ((3, 4), ()),  # scalar
]


@pytest.mark.parametrize("op", [ops.add, ops.sub, ops.mul, ops.div])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_ops(op, shapes):
    a = rand(*shapes[0])
    b = rand(*shapes[1], low=0.5, high=2.0)  # keep division away from 0
    assert gradcheck(op, [a, b]) < 1e-6


@pytest.mark.parametrize("name", ["__add__", "__sub__", "__mul__", "__truediv__",
                                  "__radd__", "__rsub__", "__rmul__", "__rtruediv__"])
def test_python_operators_with_constants(name):
    x = rand(3, 4, low=0.5, high=2.0)
    assert gradcheck(lambda t: getattr(t, name)(1.5), [x]) < 1e-6


@pytest.mark.parametrize("c", [2, 3, 0.5, -1.0, -2.5])
def test_pow_constant(c):
    x = rand(3, 4, low=0.3, high=2.0)
    assert gradcheck(lambda t: t**c, [x]) < 1e-6


def test_pow_tensor_exponent():
    assert gradcheck(ops.pow, [rand(3, 4, low=0.3, high=2.0), rand(3, 4)]) < 1e-6
    assert gradcheck(lambda t: 2.0**t, [rand(3, 4)]) < 1e-6


def test_neg():
    assert gradcheck(lambda t: -t, [rand(2, 5)]) < 1e-6


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((1, 4), (4, 1)), ((2, 3, 4), (4, 2)),
                                    ((2, 3, 4), (2, 4, 5)), ((4,), (4, 3)), ((3, 4), (4,)),
                                    ((4,), (4,))], ids=str)
def test_matmul(shapes):
    assert gradcheck(lambda a, b: a @ b, [rand(*shapes[0]), rand(*shapes[1])]) < 1e-6


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False),
                                           ((0, 2), False), ((0, 2), True)])
@pytest.mark.parametrize("op", [ops.sum, ops.mean])
def test_reductions(op, axis, keepdims):
    x = rand(2, 3, 4)
    assert gradcheck(lambda t: op(t, axis=axis, keepdims=keepdims), [x]) < 1e-6


@pytest.mark.parametrize("fn", [
    lambda t: t.reshape(4, 6),
    lambda t: t.reshape(-1),
    lambda t: t.transpose(),
    lambda t: t.transpose(2, 0, 1),
    lambda t: t.T,
    lambda t: t[1],
    lambda t: t[:, 1:3, ::2],
    lambda t: t[np.array([0, 1, 0])],  # repeated index: gradients add up
], ids=["reshape", "flatten", "transpose", "transpose_axes", "T", "index", "slice", "fancy"])
def test_shape_ops(fn):
    assert gradcheck(fn, [rand(2, 3, 4)]) < 1e-6


@pytest.mark.parametrize("op,low,high", [(ops.exp, -3, 3), (ops.log, 0.1, 5), (ops.sin, -4, 4),
                                         (ops.cos, -4, 4), (ops.tanh, -3, 3),
                                         (ops.sigmoid, -6, 6), (ops.softplus, -30, 30),
                                         (ops.softplus, -3, 3)])
def test_smooth_elementwise(op, low, high):
    assert gradcheck(op, [rand(3, 5, low=low, high=high)]) < 1e-6


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(slope):
    x = away_from(rand(4, 5), [0.0])
    assert gradcheck(lambda t: ops.leaky_relu(t, slope), [x]) < 1e-6


def test_relu():
    assert gradcheck(ops.relu, [away_from(rand(4, 5), [0.0])]) < 1e-6


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu(alpha):
    x = away_from(rand(4, 5), [0.0])
    assert gradcheck(lambda t: ops.elu(t, alpha), [x]) < 1e-6


def test_abs():
    assert gradcheck(ops.abs, [away_from(rand(4, 5), [0.0])]) < 1e-6


@pytest.mark.parametrize("slope_shape", [(5,), (), (4, 5)], ids=str)
def test_prelu_gradient_for_input_and_learned_slope(slope_shape):
    x = away_from(rand(4, 5), [0.0])
    assert gradcheck(ops.prelu, [x, rand(*slope_shape, low=0.05, high=0.5)]) < 1e-6


@pytest.mark.parametrize("pieces", [2, 3])
def test_maxout(pieces):
    x = rand(4, 3 * pieces)
    # keep the pieces of every unit apart, so that no small step changes the winner
    x += np.arange(x.shape[1]) % pieces * 0.3
    y = ops.maxout(x, pieces).data
    np.testing.assert_array_equal(y, x.reshape(4, 3, pieces).max(axis=-1))
    assert gradcheck(lambda t: ops.maxout(t, pieces), [x]) < 1e-6


def test_maxout_rejects_a_width_that_is_not_a_multiple():
    with pytest.raises(ValueError, match="multiple of 4 pieces"):
        ops.maxout(rand(2, 6), 4)


def test_new_units_forward_values():
    x = np.array([-50.0, -1.0, 0.0, 2.0, 50.0])
    np.testing.assert_allclose(ops.softplus(x).data, np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(ops.elu(x).data, np.where(x > 0, x, np.exp(x) - 1), rtol=1e-12)
    np.testing.assert_array_equal(ops.abs(x).data, np.abs(x))
    np.testing.assert_array_equal(ops.prelu(x, np.full(5, 0.25)).data,
                                  np.where(x > 0, x, 0.25 * x))


def test_hardtanh():
    assert gradcheck(ops.hardtanh, [away_from(rand(4, 5), [-1.0, 1.0])]) < 1e-6


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_family(op, axis):
    assert gradcheck(lambda t: op(t, axis=axis), [rand(3, 4)]) < 1e-6


@pytest.mark.parametrize("op", [ops.softmax, ops.log_softmax])
def test_softmax_family_huge_logits(op):
    x = rand(3, 4) + np.array([[1000.0], [-1000.0], [5e4]])
    y = op(x).data
    assert np.all(np.isfinite(y))
    assert gradcheck(op, [x], eps=1e-4) < 1e-6


def test_dropout_gradient_uses_the_forward_mask():
    x = rand(5, 6)
    fn = lambda t: ops.dropout(t, 0.4, rng=np.random.default_rng(7), training=True)  # noqa: E731
    assert gradcheck(fn, [x]) < 1e-6


def test_embedding_gradient_is_sparse_and_correct():
    table = rand(6, 3)
    ids = np.array([[0, 2], [2, 5]])
    assert gradcheck(ops.embedding, [table, ids]) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy(reduction):
    logits = rand(5, 4)
    labels = np.array([0, 3, 1, 1, 2])
    fn = lambda t: ops.softmax_cross_entropy(t, labels, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, [logits]) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_with_a_folded_bias(reduction):
    """The loss of logits + bias (the head's bias inside the fused loss): gradients for
    both, and the same loss as adding the bias first."""
    logits, bias = rand(5, 4), rand(4)
    labels = np.array([0, 3, 1, 1, 2])
    fn = lambda t, b: ops.softmax_cross_entropy(t, labels, reduction, bias=b)  # noqa: E731
    assert gradcheck(fn, [logits, bias]) < 1e-6
    np.testing.assert_allclose(fn(logits, bias).data, ops.softmax_cross_entropy(
        logits + bias, labels, reduction).data, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sigmoid_bce(reduction):
    x = rand(4, 3, low=-5, high=5)
    t = RNG.uniform(0, 1, size=(4, 3))
    fn = lambda v: ops.sigmoid_bce_with_logits(v, t, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, [x]) < 1e-6


def test_sigmoid_bce_extreme_logits():
    x = np.array([1e4, -1e4, 1e4, -1e4, 3e3, -3e3])
    t = np.array([0.0, 1.0, 0.3, 0.7, 1.0, 0.0])
    # linear in x out there, so a larger step is exact and avoids round-off in the numerator
    fn = lambda v: ops.sigmoid_bce_with_logits(v, t, reduction="sum")  # noqa: E731
    assert gradcheck(fn, [x], eps=1e-3) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_gradient_for_both_arguments(reduction):
    fn = lambda a, b: ops.mse(a, b, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, [rand(4, 2), rand(4, 2)]) < 1e-6


def test_composite_two_layer_network():
    x, w1, b1, w2 = rand(4, 3), rand(3, 5), rand(5), rand(5, 2)
    labels = np.array([0, 1, 1, 0])

    def net(x, w1, b1, w2):
        return ops.softmax_cross_entropy(ops.tanh(x @ w1 + b1) @ w2, labels)

    assert gradcheck(net, [x, w1, b1, w2]) < 1e-6
