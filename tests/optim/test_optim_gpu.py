"""The optimizers on CuPy arrays against the same steps on NumPy (skipped without a GPU)."""

import numpy as np
import pytest

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.backend import CPU, Device, to_cpu, to_device
from gputrain.optim import OPTIMIZERS, make_optimizer
from gputrain.optim.sparse import adagrad_rows, sgd_rows

pytestmark = pytest.mark.gpu
GPU = Device("gpu", 0)
SHAPE = (50, 8)


def _run(name, device, steps=5):
    rng = np.random.default_rng(0)
    w = Tensor(to_device(rng.normal(size=(6, 4)).astype(np.float32), device), requires_grad=True)
    e = Tensor(to_device(rng.normal(size=SHAPE).astype(np.float32), device), requires_grad=True)
    opt = make_optimizer(name, [w, e], lr=0.01, weight_decay=0.01)
    for _ in range(steps):
        w.grad = to_device(rng.normal(size=(6, 4)).astype(np.float32), device)
        rows = to_device(rng.integers(0, SHAPE[0], size=20).astype(np.int32), device)
        vals = to_device(rng.normal(size=(20, SHAPE[1])).astype(np.float32), device)
        e.grad = SparseGrad(rows, vals, SHAPE)
        opt.step()
    return opt, [to_cpu(w.data), to_cpu(e.data)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_gpu_steps_match_cpu(name):
    _, cpu = _run(name, CPU)
    opt, gpu = _run(name, GPU)
    for a, b in zip(cpu, gpu, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    sd = opt.state_dict()  # NumPy arrays: a GPU run checkpoints like a CPU run
    assert all(isinstance(v, np.ndarray) for k, v in sd.items()
               if k.startswith("param.") and not k.endswith(".step"))


def test_row_kernels_match_numpy_twins():
    rng = np.random.default_rng(1)
    table = rng.normal(size=SHAPE).astype(np.float32)
    accum = rng.random(SHAPE).astype(np.float32)
    rows = rng.integers(0, SHAPE[0], size=200)  # many duplicates
    values = rng.normal(size=(200, SHAPE[1])).astype(np.float32)
    t_cpu, a_cpu = table.copy(), accum.copy()
    sgd_rows(t_cpu, rows, values, 0.1)
    adagrad_rows(t_cpu, a_cpu, rows, values, 0.1, 1e-8)
    t_gpu, a_gpu = to_device(table, GPU), to_device(accum, GPU)
    sgd_rows(t_gpu, to_device(rows, GPU), to_device(values, GPU), 0.1)
    adagrad_rows(t_gpu, a_gpu, to_device(rows, GPU), to_device(values, GPU), 0.1, 1e-8)
    np.testing.assert_allclose(to_cpu(t_gpu), t_cpu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_cpu(a_gpu), a_cpu, rtol=1e-5, atol=1e-5)
