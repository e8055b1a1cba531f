"""The reverse sweep: worked examples, accumulation, no_grad, ownership of .grad, dtypes."""

import numpy as np
import pytest

from gputrain.autograd import (
    Function,
    GradcheckError,
    SparseGrad,
    Tensor,
    gradcheck,
    no_grad,
    ops,
)


def test_worked_example_log_mul_sin():
    # f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5) = 11.652, gradient (5.5, 1.716)
    x1 = Tensor(np.float64(2.0), requires_grad=True)
    x2 = Tensor(np.float64(5.0), requires_grad=True)
    f = ops.log(x1) + x1 * x2 - ops.sin(x2)
    f.backward()
    assert f.item() == pytest.approx(11.652, abs=5e-4)
    assert x1.grad == pytest.approx(5.5)
    assert x2.grad == pytest.approx(1.716, abs=5e-4)
    assert float(x2.grad) == pytest.approx(2 - np.cos(5.0), rel=1e-12)


def test_worked_example_shared_node():
    # e = (a + b) * (b + 1): b feeds two paths, its gradient is their sum
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(1.0, requires_grad=True)
    e = (a + b) * (b + 1)
    e.backward()
    assert e.item() == 6.0
    assert a.grad == pytest.approx(2.0)
    assert b.grad == pytest.approx(5.0)


def test_tensor_used_twice_accumulates():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = (x * x + x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)


def test_backward_twice_accumulates_into_leaves():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, 6.0])


def test_graph_is_released_after_backward_unless_retained():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (ops.exp(x) * x).sum()
    y.backward(retain_graph=True)
    y.backward()  # second pass through the retained graph accumulates
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.data) * (x.data + 1))
    assert y.creator.released and y.creator.inputs == ()  # saved arrays are gone
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_gradient_argument_is_checked_and_cast():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * 2).backward(np.array([1.0, 2.0, 3.0]))  # float64 gradient for a float32 tensor
    assert x.grad.dtype == np.float32
    with pytest.raises(ValueError, match="gradient shape"):
        (x * 2).backward(np.ones(4))


def test_no_grad_records_nothing():
    w = Tensor(np.ones(3), requires_grad=True)
    with no_grad():
        y = (w * 2).sum()
    assert y.creator is None and not y.requires_grad
    z = (w * 2).sum()  # recording is back on after the block
    assert z.requires_grad
    with pytest.raises(ValueError, match="does not require grad"):
        y.backward()


def test_inputs_without_requires_grad_get_no_gradient():
    x = Tensor(np.ones((2, 3)))
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    (x @ w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.full((3, 4), 2.0))


def test_leaf_gradients_are_owned_not_shared():
    # both inputs of an add receive gy itself; an optimizer scaling one grad in place
    # must not change the other
    a = Tensor(np.ones(3), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.array([1.0, 2.0, 3.0]))
    a.grad *= 10
    np.testing.assert_allclose(b.grad, [1.0, 2.0, 3.0])
    w = Tensor(np.ones((2, 2)), requires_grad=True)
    w.sum().backward()  # gradient of a sum is a broadcast view before it lands
    w.grad += 1  # must be writable
    np.testing.assert_allclose(w.grad, 2.0)


def test_the_shared_backward_seed_is_never_handed_out_or_written():
    """A scalar's seed gradient is made once and reused (one launch less per GPU step):
    a leaf gets its own writable copy, and optimizers' in-place updates cannot reach it."""
    for _ in range(2):
        x = Tensor(np.float32(3.0), requires_grad=True)
        x.backward()  # the loss is the leaf itself: its .grad must not be the seed
        assert x.grad.flags.writeable and x.grad == 1
        x.grad *= 5  # an in-place optimizer update
        w = Tensor(np.ones(3, np.float32), requires_grad=True)
        ops.sum(w * 2.0).backward()
        np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    y = ((x * 0.5 + 1.5) / 3.0 - 2 * x) ** 2
    assert y.dtype == np.float32
    loss = ops.softmax_cross_entropy(y, np.array([0, 1])) + ops.mean(ops.sigmoid(y)) * 0.1
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


def test_broadcast_gradient_sums_back_to_input_shape():
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    (x + b).sum().backward()
    np.testing.assert_allclose(b.grad, [4.0, 4.0, 4.0])


def test_embedding_gradient_is_sparse_and_sums_duplicates():
    table = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out = ops.embedding(table, np.array([1, 3, 1]))
    np.testing.assert_allclose(out.data, table.data[[1, 3, 1]])
    out.backward(np.ones((3, 3)))
    assert isinstance(table.grad, SparseGrad)
    assert table.grad.values.shape == (3, 3)  # one row per lookup, never (4, 3) dense
    dense = table.grad.to_dense()
    np.testing.assert_allclose(dense, [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]])
    merged = table.grad.coalesce()
    np.testing.assert_array_equal(merged.rows, [1, 3])
    np.testing.assert_allclose(merged.values, [[2, 2, 2], [1, 1, 1]])


def test_embedding_rejects_float_and_out_of_range_ids():
    with pytest.raises(ValueError, match="integers"):
        ops.embedding(Tensor(np.ones((3, 2))), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"in \[0, 3\), got -1\.\.2"):
        ops.embedding(Tensor(np.ones((3, 2))), np.array([2, -1]))
    with pytest.raises(ValueError, match=r"got 0\.\.3"):
        ops.embedding(Tensor(np.ones((3, 2))), np.array([[0], [3]]))


def test_dropout_is_inverted_and_identity_in_eval():
    x = Tensor(np.ones((200, 200), dtype=np.float32))
    y = ops.dropout(x, 0.25, rng=np.random.default_rng(0), training=True)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    assert y.dtype == np.float32
    assert ops.dropout(x, 0.25, training=False) is x
    with pytest.raises(ValueError):
        ops.dropout(x, 1.0)


def test_gradcheck_catches_a_wrong_backward():
    class BadSquare(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, gy):
            return gy * self.x  # should be 2 * x * gy

    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda t: BadSquare.apply(t), [np.array([1.0, 2.0])])


def test_gradcheck_catches_lost_precision():
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(lambda t: Tensor(t.data.astype(np.float32)), [np.ones(2)])


def test_backward_needs_a_gradient_for_non_scalars():
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="scalar"):
        (x * 2).backward()


def test_deep_chain_does_not_hit_recursion_limit():
    x = Tensor(np.float64(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_functional_api_is_the_ops_package():
    from gputrain.autograd import functional

    assert functional.relu is ops.relu
    assert functional.softmax_cross_entropy is ops.softmax_cross_entropy
    assert set(functional.__all__) == set(ops.__all__)
