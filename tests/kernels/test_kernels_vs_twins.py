"""Every kernel against its NumPy twin, through gputrain.kernels: on CuPy with a GPU, on
the CPU emulation of the same .cu source without one (float32, rtol 1e-5). Sizes are
deliberately not multiples of the block size, and sparse updates repeat rows."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain.autograd.ops import losses as twin_losses
from gputrain.backend import to_cpu
from gputrain.errors import GputrainError
from gputrain.optim import sparse as twin_sparse

RTOL, ATOL = 1e-5, 1e-6
# A kernel whose threads miss a barrier hangs the emulator inside a C call, where only the
# thread method of pytest-timeout can stop it.
pytestmark = pytest.mark.timeout(120, method="thread")


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(to_cpu(got), want, rtol=rtol, atol=atol)


def test_sigmoid_bce_matches_twin_including_extreme_logits(kernels, xp):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=1037) * 8).astype(np.float32)
    x[:6] = [1e4, -1e4, 88.0, -88.0, 0.0, 30.0]
    t = rng.uniform(size=x.shape).astype(np.float32)
    t[:4] = [0.0, 1.0, 0.0, 1.0]  # the wrong side: losses of 1e4, 1e4, 88, 88
    gy = rng.normal(size=x.shape).astype(np.float32)
    loss = kernels.sigmoid_bce_forward(xp.asarray(x), xp.asarray(t))
    close(loss, twin_losses.sigmoid_bce_forward(x, t))
    np.testing.assert_allclose(to_cpu(loss)[:4], [1e4, 1e4, 88.0, 88.0], rtol=1e-6)
    gx = kernels.sigmoid_bce_backward(xp.asarray(x), xp.asarray(t), xp.asarray(gy))
    close(gx, twin_losses.sigmoid_bce_backward(x, t, gy))


@pytest.mark.parametrize("rows,classes", [(5, 1), (9, 7), (4, 100), (3, 1500)])
def test_softmax_xent_matches_twin(kernels, xp, rows, classes):
    rng = np.random.default_rng(classes)
    logits = (rng.normal(size=(rows, classes)) * 10).astype(np.float32)
    logits[0, 0] = 1e4  # max subtraction keeps huge logits finite
    labels = rng.integers(0, classes, rows).astype(np.int32)
    gy = rng.normal(size=rows).astype(np.float32)
    loss, probs = kernels.softmax_xent_forward(xp.asarray(logits), xp.asarray(labels))
    want_loss, want_probs = twin_losses.softmax_xent_forward(logits, labels)
    close(loss, want_loss)
    close(probs, want_probs)
    gx, gb = kernels.softmax_xent_backward(probs, xp.asarray(labels), xp.asarray(gy))
    want_gx, want_gb = twin_losses.softmax_xent_backward(want_probs, labels, gy)
    close(gx, want_gx)
    close(gb, want_gb)
    close(want_gb, want_gx.sum(axis=0))


@pytest.mark.parametrize("rows,classes", [(1, 3), (130, 10), (7, 300)])
def test_softmax_xent_reduced_and_scaled_gradient_match_twin(kernels, xp, rows, classes):
    """The mean inside the forward kernel (rows summed in order by one block) and the
    backward's one upstream value times 1/N, as the loss op uses them; without a bias and
    tally the kernel is the plain loss of the logits."""
    rng = np.random.default_rng(rows)
    logits = (rng.normal(size=(rows, classes)) * 10).astype(np.float32)
    labels = rng.integers(0, classes, rows).astype(np.int32)
    total, probs = kernels.softmax_xent_forward_reduced(
        xp.asarray(logits), xp.asarray(labels), 1 / rows)
    want_total, want_probs = twin_losses.softmax_xent_forward_reduced(logits, labels, 1 / rows)
    assert total.shape == want_total.shape == ()
    close(total, want_total)
    close(probs, want_probs)
    close(want_total, twin_losses.softmax_xent_forward(logits, labels)[0].mean())
    gy = np.asarray(0.5, np.float32)
    gx, gb = kernels.softmax_xent_backward(probs, xp.asarray(labels), xp.asarray(gy), 1 / rows)
    want, want_gb = twin_losses.softmax_xent_backward(want_probs, labels, gy, 1 / rows)
    close(gx, want)
    close(gb, want_gb)
    close(want, twin_losses.softmax_xent_backward(
        want_probs, labels, np.full(rows, 0.5 / rows, np.float32))[0])


@pytest.mark.parametrize("rows,classes", [(1, 3), (130, 10), (9, 300)])
def test_softmax_xent_reduced_with_bias_and_tally_matches_twin(kernels, xp, rows, classes):
    """The head's bias added inside the kernel (the loss of logits + bias) and the loop's
    tallies: the rows' loss sum (float64, row order) and correct count (argmax == label,
    ties to the first index) added to what the tally held."""
    rng = np.random.default_rng(classes)
    # halves of small integers: exact sums, so rows have ties (argmax: the first index)
    logits = (rng.integers(-4, 5, size=(rows, classes)) / 2).astype(np.float32)
    bias = (rng.integers(-2, 3, size=classes) / 2).astype(np.float32)
    labels = rng.integers(0, classes, rows).astype(np.int32)
    labels[: rows // 2] = (logits + bias)[: rows // 2].argmax(axis=1)  # some right, some wrong
    start = np.array([1.5, 7.0])
    tally = xp.asarray(start.copy())
    total, probs = kernels.softmax_xent_forward_reduced(
        xp.asarray(logits), xp.asarray(labels), 1 / rows, xp.asarray(bias), tally)
    want_tally = start.copy()
    want_total, want_probs = twin_losses.softmax_xent_forward_reduced(
        logits, labels, 1 / rows, bias, want_tally)
    close(total, want_total)
    close(probs, want_probs)
    plain_total, plain_probs = twin_losses.softmax_xent_forward_reduced(
        logits + bias, labels, 1 / rows)
    close(want_total, plain_total)
    close(want_probs, plain_probs)
    row_loss = twin_losses.softmax_xent_forward(logits + bias, labels)[0]
    hits = int(((logits + bias).argmax(axis=1) == labels).sum())
    assert want_tally[1] == start[1] + hits and to_cpu(tally)[1] == want_tally[1]
    assert hits >= rows // 2
    np.testing.assert_allclose(want_tally[0], start[0] + row_loss.astype(np.float64).sum(),
                               rtol=1e-12)
    close(to_cpu(tally)[0], want_tally[0], rtol=1e-6)  # float32 row losses, summed alike


def test_sigmoid_bce_backward_of_one_upstream_value_matches_twin(kernels, xp):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(37, 2)) * 4).astype(np.float32)
    t = rng.uniform(size=x.shape).astype(np.float32)
    gy = np.asarray(2.0, np.float32)
    gx = kernels.sigmoid_bce_backward(xp.asarray(x), xp.asarray(t), xp.asarray(gy), 1 / x.size)
    want = twin_losses.sigmoid_bce_backward(x, t, gy, 1 / x.size)
    close(gx, want)
    close(want, twin_losses.sigmoid_bce_backward(x, t, np.full(x.shape, 2 / x.size, np.float32)))


def test_softmax_xent_bad_label_gives_nan_row_not_garbage(kernels, xp):
    logits = xp.asarray(np.zeros((3, 4), np.float32))
    labels = xp.asarray(np.array([0, 4, -1], np.int32))
    loss, probs = kernels.softmax_xent_forward(logits, labels)
    assert np.isfinite(to_cpu(loss)[0]) and np.isnan(to_cpu(loss)[1:]).all()
    gx = to_cpu(kernels.softmax_xent_backward(probs, labels, xp.ones(3, dtype=np.float32))[0])
    assert np.isfinite(gx[0]).all() and np.isnan(gx[1:]).all()


def _sparse_problem(seed, vocab=53, dim=37, n=301):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(vocab, dim)).astype(np.float32)
    rows = rng.integers(0, vocab, n).astype(np.int32)  # many duplicates
    rows[:3] = [vocab - 1, 0, 0]
    values = rng.normal(size=(n, dim)).astype(np.float32)
    return table, rows, values


def test_sgd_rows_sums_duplicates_like_twin(kernels, xp):
    table, rows, values = _sparse_problem(1)
    want = table.copy()
    twin_sparse.sgd_rows(want, rows, values, 0.05)
    got = xp.array(table)
    kernels.sgd_rows(got, xp.asarray(rows), xp.asarray(values), 0.05)
    close(got, want)


def test_adagrad_rows_coalesces_duplicates_like_twin(kernels, xp):
    table, rows, values = _sparse_problem(2)
    accum = np.random.default_rng(3).uniform(0.1, 1.0, size=table.shape).astype(np.float32)
    want_t, want_a = table.copy(), accum.copy()
    got_t, got_a = xp.array(table), xp.array(accum)
    for _ in range(3):
        twin_sparse.adagrad_rows(want_t, want_a, rows, values, 0.1, 1e-8)
        kernels.adagrad_rows(got_t, got_a, xp.asarray(rows), xp.asarray(values), 0.1, 1e-8)
    close(got_a, want_a)
    close(got_t, want_t)


def test_empty_inputs_launch_nothing(kernels, xp):
    empty = xp.zeros((0, 5), dtype=np.float32)
    assert kernels.sigmoid_bce_forward(empty, empty).shape == (0, 5)
    table = xp.ones((4, 5), dtype=np.float32)
    kernels.sgd_rows(table, xp.zeros(0, np.int32), xp.zeros((0, 5), np.float32), 1.0)
    assert float(to_cpu(table).sum()) == 20.0


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda k, xp: k.sigmoid_bce_forward(xp.zeros(4), xp.zeros(4, np.float32)),
         "x must be float32, got float64"),
        (lambda k, xp: k.sigmoid_bce_forward(xp.zeros((4, 4), np.float32).T,
                                             xp.zeros((4, 4), np.float32)),
         "x must be C-contiguous"),
        (lambda k, xp: k.softmax_xent_forward(xp.zeros((3, 4), np.float32),
                                              xp.zeros(3, np.int64)),
         "labels must be int32, got int64"),
        (lambda k, xp: k.sgd_rows(xp.zeros((4, 3), np.float32), xp.zeros(2, np.int32),
                                  xp.zeros((2, 4), np.float32), 0.1),
         "values (2, 4) must hold one row of 3"),
    ],
)
def test_bad_arrays_are_refused_before_launch(kernels, xp, call, message):
    with pytest.raises(GputrainError, match=None) as info:
        call(kernels, xp)
    assert message in str(info.value)


def test_host_arrays_without_a_gpu_get_a_clear_error():
    """Outside the emulated tests, gputrain.kernels launches only on CuPy arrays."""
    from gputrain import kernels as real

    table = np.zeros((4, 3), np.float32)
    with pytest.raises(GputrainError, match="needs CuPy arrays on a CUDA device, got ndarray"):
        real.sgd_rows(table, np.zeros(2, np.int32), np.zeros((2, 3), np.float32), 0.1)
