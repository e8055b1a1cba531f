"""Sparse (row) gradients: only touched rows move, duplicates are summed, and the result
equals the dense update restricted to the touched rows where the rule allows it."""

import numpy as np
import pytest

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.optim import make_optimizer
from gputrain.optim.sparse import adagrad_rows, adam_rows, coalesce_rows, sgd_rows

rng = np.random.default_rng(3)
SHAPE = (10, 4)
TABLE = rng.normal(size=SHAPE)


def batches(n=4):
    """Row gradients with duplicates inside a batch and rows 7-9 never touched."""
    local = np.random.default_rng(11)
    out = []
    for _ in range(n):
        rows = local.integers(0, 7, size=6)
        rows[1] = rows[0]  # always at least one duplicate
        out.append(SparseGrad(rows, local.normal(size=(6, SHAPE[1])), SHAPE))
    return out


def step_all(name, sparse: bool, grads, **kw):
    p = Tensor(TABLE.copy(), requires_grad=True)
    opt = make_optimizer(name, [p], **kw)
    for g in grads:
        p.grad = g if sparse else g.to_dense()
        opt.step()
    return p.data


# Rules for which a lazy row update IS the dense update (an untouched row's state and
# value do not change under the dense rule either): SGD, Adagrad; and anything that
# densifies (momentum, Nesterov, RMSProp, Adadelta, Adafactor).
EXACT = [
    ("sgd", dict(lr=0.1)),
    ("adagrad", dict(lr=0.1)),
    ("momentum", dict(lr=0.1)),
    ("nesterov", dict(lr=0.1)),
    ("rmsprop", dict(lr=0.01)),
    ("adadelta", dict()),
    ("adafactor", dict(lr=0.01)),
]


@pytest.mark.parametrize("name, kw", EXACT, ids=[c[0] for c in EXACT])
def test_sparse_equals_dense(name, kw):
    grads = batches()
    sparse = step_all(name, True, grads, **kw)
    dense = step_all(name, False, grads, **kw)
    np.testing.assert_allclose(sparse, dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sparse[7:], TABLE[7:])  # never-touched rows stay put


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam", "adamw"])
def test_weight_decay_only_on_touched_rows(name):
    grads = batches(1)
    touched = np.unique(grads[0].rows)
    sparse = step_all(name, True, grads, lr=0.1, weight_decay=0.5)
    dense = step_all(name, False, grads, lr=0.1, weight_decay=0.5)
    untouched = np.setdiff1d(np.arange(SHAPE[0]), touched)
    np.testing.assert_array_equal(sparse[untouched], TABLE[untouched])
    assert not np.allclose(dense[untouched], TABLE[untouched])  # dense L2 moves them
    np.testing.assert_allclose(sparse[touched], dense[touched], rtol=1e-12)


def test_lazy_adam_is_dense_adam_on_touched_rows_per_step():
    # lazy Adam == dense Adam while every row is touched in every step; a row's moments
    # only decay on the steps that touch it (PyTorch SparseAdam)
    grads = [SparseGrad(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3]),
                        rng.normal(size=(11, 4)), SHAPE) for _ in range(3)]
    for name in ("adam", "adamw"):
        sparse = step_all(name, True, grads, lr=0.05)
        dense = step_all(name, False, grads, lr=0.05)
        np.testing.assert_allclose(sparse, dense, rtol=1e-12)
    # a row touched at step 1 and not at step 2 does not move at step 2 (dense would)
    g1 = SparseGrad(np.array([2]), np.ones((1, 4)), SHAPE)
    g2 = SparseGrad(np.array([5]), np.ones((1, 4)), SHAPE)
    after1 = step_all("adam", True, [g1], lr=0.05)
    after2 = step_all("adam", True, [g1, g2], lr=0.05)
    np.testing.assert_array_equal(after2[2], after1[2])
    assert not np.allclose(after2[5], TABLE[5])


def test_sgd_rows_sums_duplicates():
    table = TABLE.copy()
    rows = np.array([3, 3, 1, 3])
    values = rng.normal(size=(4, 4))
    sgd_rows(table, rows, values, 0.5)
    expected = TABLE.copy()
    expected[3] -= 0.5 * (values[0] + values[1] + values[3])
    expected[1] -= 0.5 * values[2]
    np.testing.assert_allclose(table, expected, rtol=1e-13)


def test_adagrad_rows_coalesces_before_squaring():
    table, accum = TABLE.copy(), np.full(SHAPE, 0.25)
    rows = np.array([4, 4, 0])
    values = rng.normal(size=(3, 4))
    adagrad_rows(table, accum, rows, values, 0.1, 1e-8)
    g4 = values[0] + values[1]  # one summed gradient, not two steps / two squares
    expected_acc4 = 0.25 + g4 * g4
    np.testing.assert_allclose(accum[4], expected_acc4, rtol=1e-13)
    np.testing.assert_allclose(table[4], TABLE[4] - 0.1 * g4 / (np.sqrt(expected_acc4) + 1e-8))
    np.testing.assert_allclose(accum[0], 0.25 + values[2] ** 2)
    untouched = [1, 2, 3, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(table[untouched], TABLE[untouched])
    np.testing.assert_array_equal(accum[untouched], 0.25)


def test_adam_rows_formula():
    table, m, v = TABLE.copy(), np.full(SHAPE, 0.1), np.full(SHAPE, 0.2)
    rows, values = np.array([6, 2, 6]), rng.normal(size=(3, 4))
    adam_rows(table, m, v, rows, values, 0.01, 0.9, 0.99, 1e-8, step=3)
    g = values[0] + values[2]
    m6 = 0.9 * 0.1 + 0.1 * g
    v6 = 0.99 * 0.2 + 0.01 * g * g
    step = 0.01 * (m6 / (1 - 0.9**3)) / (np.sqrt(v6 / (1 - 0.99**3)) + 1e-8)
    np.testing.assert_allclose(m[6], m6)
    np.testing.assert_allclose(v[6], v6)
    np.testing.assert_allclose(table[6], TABLE[6] - step)
    np.testing.assert_array_equal(m[0], 0.1)


def test_float32_tables_stay_float32():
    table = TABLE.astype(np.float32)
    accum = np.zeros(SHAPE, np.float32)
    values = rng.normal(size=(3, 4)).astype(np.float32)
    sgd_rows(table, np.array([1, 1, 2]), values, 0.1)
    assert table.dtype == np.float32
    expected = TABLE.astype(np.float32)
    expected[1] -= np.float32(0.1) * (values[0] + values[1])
    np.testing.assert_allclose(table[1], expected[1], rtol=1e-6)
    adagrad_rows(table, accum, np.array([1, 1, 2]), values, 0.1, 1e-10)
    assert table.dtype == np.float32 and accum.dtype == np.float32
    np.testing.assert_allclose(accum[1], (values[0] + values[1]) ** 2, rtol=1e-6)


def test_coalesce_rows_without_duplicates_copies():
    values = rng.normal(size=(3, 4))
    rows, out = coalesce_rows(np.array([5, 1, 3]), values, SHAPE)
    np.testing.assert_array_equal(rows, [1, 3, 5])
    np.testing.assert_array_equal(out, values[[1, 2, 0]])
    out += 1
    assert not np.allclose(out, values[[1, 2, 0]])  # the caller's values are untouched


def test_ids_of_any_shape():
    # an embedding looked up with a (2, 3) id matrix: rows (2, 3), values (2, 3, D)
    rows = np.array([[1, 2, 1], [0, 2, 5]])
    values = rng.normal(size=(2, 3, SHAPE[1]))
    flat = SparseGrad(rows.reshape(-1), values.reshape(6, -1), SHAPE)
    for name in ("sgd", "adagrad", "adam", "momentum"):
        for wd in (0.0, 0.1):
            a = step_all(name, True, [SparseGrad(rows, values, SHAPE)], lr=0.1, weight_decay=wd)
            b = step_all(name, True, [flat], lr=0.1, weight_decay=wd)
            np.testing.assert_array_equal(a, b)
            assert not np.array_equal(a, TABLE)
