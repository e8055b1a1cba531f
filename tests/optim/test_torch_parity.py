"""Same steps as torch.optim where PyTorch is installed (the benchmark environment);
skipped elsewhere. The textbook tests stand on their own; this one checks the claim that
the formulas and defaults are PyTorch's."""

import numpy as np
import pytest

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.optim import make_optimizer

torch = pytest.importorskip("torch")

CASES = [
    ("sgd", {"lr": 0.1, "weight_decay": 0.01}, "SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("momentum", {"lr": 0.05}, "SGD", {"lr": 0.05, "momentum": 0.9}),
    ("nesterov", {"lr": 0.05, "weight_decay": 0.1}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("adagrad", {"lr": 0.1, "weight_decay": 0.1}, "Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("adadelta", {}, "Adadelta", {}),
    ("rmsprop", {"lr": 0.01}, "RMSprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5}, "RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, "Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.01}, "AdamW", {"lr": 0.01}),
]


@pytest.mark.parametrize("name, kw, tname, tkw", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch_optim(name, kw, tname, tkw):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(5)]
    ours = Tensor(w0.copy(), requires_grad=True)
    opt = make_optimizer(name, [ours], **kw)
    theirs = torch.tensor(w0.copy(), requires_grad=True)
    topt = getattr(torch.optim, tname)([theirs], **tkw)
    for g in grads:
        ours.grad = g
        opt.step()
        theirs.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


# SparseAdam puts eps outside the bias correction (lr*sqrt(bc2)/bc1 * m/(sqrt(v)+eps));
# ours keeps dense Adam's m_hat/(sqrt(v_hat)+eps) so that lazy == dense when every row is
# touched. With eps = 1e-8 the two differ in the 7th digit.
@pytest.mark.parametrize("name, tname, tkw, rtol", [
    ("adam", "SparseAdam", {"lr": 0.01}, 1e-5),
    ("adagrad", "Adagrad", {"lr": 0.1}, 1e-10),
    ("sgd", "SGD", {"lr": 0.1}, 1e-10),
])
def test_sparse_rows_match_torch(name, tname, tkw, rtol):
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(8, 3))
    ours = Tensor(w0.copy(), requires_grad=True)
    opt = make_optimizer(name, [ours], **tkw)
    theirs = torch.tensor(w0.copy(), requires_grad=True)
    topt = getattr(torch.optim, tname)([theirs], **tkw)
    for _ in range(4):
        rows = rng.integers(0, 6, size=5)  # duplicates; rows 6 and 7 never touched
        values = rng.normal(size=(5, 3))
        ours.grad = SparseGrad(rows, values, (8, 3))
        opt.step()
        theirs.grad = torch.sparse_coo_tensor(torch.tensor(rows)[None], torch.tensor(values),
                                              (8, 3), check_invariants=True)
        topt.step()
    np.testing.assert_array_equal(ours.data[6:], w0[6:])
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=rtol, atol=1e-12)
