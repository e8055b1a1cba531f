"""The GPU (CuPy) path of every op: gradient check on the device and the same numbers as
on the CPU. Skipped without a CUDA device."""

import numpy as np
import pytest

from gputrain.autograd import SparseGrad, Tensor, gradcheck, ops
from gputrain.backend import cupy_module

pytestmark = pytest.mark.gpu

R = np.random.default_rng(5)
X = R.uniform(-2, 2, (3, 4))
X[np.abs(X) < 0.05] = 0.3  # off the kinks at 0
X[np.abs(np.abs(X) - 1) < 0.05] = 0.5  # and at +-1 (hardtanh)
POS = R.uniform(0.3, 2, (3, 4))
LABELS = np.array([0, 3, 1])

CASES = {
    "add_broadcast": (ops.add, [X, R.uniform(-1, 1, 4)]),
    "sub": (ops.sub, [X, POS]),
    "mul_broadcast": (ops.mul, [X, R.uniform(-1, 1, (3, 1))]),
    "div": (ops.div, [X, POS]),
    "neg": (ops.neg, [X]),
    "pow": (lambda t: t**2.5, [POS]),
    "matmul": (ops.matmul, [X, R.uniform(-1, 1, (4, 2))]),
    "batched_matmul": (ops.matmul, [R.uniform(-1, 1, (2, 3, 4)), R.uniform(-1, 1, (4, 2))]),
    "sum_axis": (lambda t: ops.sum(t, axis=1, keepdims=True), [X]),
    "mean": (ops.mean, [X]),
    "reshape": (lambda t: t.reshape(2, 6), [X]),
    "transpose": (lambda t: t.T, [X]),
    "getitem": (lambda t: t[np.array([0, 2, 0])], [X]),
    "exp": (ops.exp, [X]),
    "log": (ops.log, [POS]),
    "sin": (ops.sin, [X]),
    "cos": (ops.cos, [X]),
    "relu": (ops.relu, [X]),
    "leaky_relu": (lambda t: ops.leaky_relu(t, 0.1), [X]),
    "sigmoid": (ops.sigmoid, [X]),
    "tanh": (ops.tanh, [X]),
    "hardtanh": (ops.hardtanh, [X]),
    "softmax": (ops.softmax, [X]),
    "log_softmax": (lambda t: ops.log_softmax(t, axis=0), [X]),
    "mse": (ops.mse, [X, POS]),
    "softplus": (ops.softplus, [X]),
    "elu": (ops.elu, [X]),
    "abs": (ops.abs, [X]),
    "prelu": (ops.prelu, [X, R.uniform(0.1, 0.4, 4)]),
    "maxout": (lambda t: ops.maxout(t, 2), [X]),
}


def _to_gpu(inputs):
    cp = cupy_module()
    return [cp.asarray(a) for a in inputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gradcheck_on_gpu(name):
    fn, inputs = CASES[name]
    cpu = fn(*[Tensor(a) for a in inputs]).data
    gpu = fn(*[Tensor(a) for a in _to_gpu(inputs)]).data
    assert not isinstance(gpu, np.ndarray)
    np.testing.assert_allclose(cupy_module().asnumpy(gpu), cpu, rtol=1e-12, atol=1e-14)
    assert gradcheck(fn, _to_gpu(inputs)) < 1e-6


def test_embedding_sparse_grad_on_gpu():
    cp = cupy_module()
    table = Tensor(cp.asarray(R.standard_normal((6, 3))), requires_grad=True)
    ops.sum(ops.embedding(table, cp.asarray([1, 4, 1]))).backward()
    assert isinstance(table.grad, SparseGrad)
    dense = cp.asnumpy(table.grad.to_dense())
    np.testing.assert_allclose(dense[1], 2.0)
    np.testing.assert_allclose(dense[0], 0.0)


def test_dropout_on_gpu_with_device_rng():
    cp = cupy_module()
    x = Tensor(cp.ones((100, 100), dtype=cp.float32))
    y = ops.dropout(x, 0.3, rng=cp.random.default_rng(0), training=True)
    kept = cp.asnumpy(y.data) != 0
    assert abs(kept.mean() - 0.7) < 0.02 and y.dtype == np.float32


@pytest.mark.parametrize("name", ["softmax_xent", "sigmoid_bce"])
def test_fused_losses_on_gpu(name):
    pytest.importorskip("gputrain.kernels", reason="gputrain.kernels not built yet")
    if name == "softmax_xent":
        fn = lambda t: ops.softmax_cross_entropy(t, LABELS)  # noqa: E731
        inputs = [X]
    else:
        target = R.uniform(0, 1, (3, 4))
        fn = lambda t: ops.sigmoid_bce_with_logits(t, target)  # noqa: E731
        inputs = [X * 3]
    cpu = fn(Tensor(inputs[0])).item()
    assert fn(Tensor(_to_gpu(inputs)[0])).item() == pytest.approx(cpu, rel=1e-12)
    assert gradcheck(fn, _to_gpu(inputs)) < 1e-6
