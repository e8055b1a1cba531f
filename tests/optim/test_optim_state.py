"""make_optimizer, bad hyper-parameters, state_dict round trips, convergence."""

import numpy as np
import pytest

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.errors import GputrainError
from gputrain.optim import OPTIMIZERS, make_optimizer

ALL = sorted(OPTIMIZERS)
rng = np.random.default_rng(5)
A = rng.normal(size=(30, 6))
B = rng.normal(size=30)
X_STAR = np.linalg.lstsq(A, B, rcond=None)[0]
LOSS_STAR = 0.5 * np.mean((A @ X_STAR - B) ** 2)

# learning rates that suit a least-squares problem with unit-scale data
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "adadelta": None,
      "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05, "adafactor": None}


def loss_and_grad(x):
    r = A @ x - B
    return 0.5 * np.mean(r * r), A.T @ r / len(A)


@pytest.mark.parametrize("name", ALL)
def test_minimises_least_squares(name):
    x = Tensor(np.zeros(6), requires_grad=True)
    kw = {"weight_decay": 0.0} if name == "adamw" else {}
    opt = make_optimizer(name, [x], lr=LR[name], **kw)
    start, _ = loss_and_grad(x.data)
    for _ in range(2000 if name != "adadelta" else 8000):
        _, x.grad = loss_and_grad(x.data)
        opt.step()
    end, _ = loss_and_grad(x.data)
    assert end - LOSS_STAR < 0.01 * (start - LOSS_STAR), (name, start, end, LOSS_STAR)


@pytest.mark.parametrize("name", ALL)
def test_minimises_a_quadratic_matrix(name):
    # f(W) = 0.5 * sum(D * (W - T)^2): convex, badly scaled (D from 0.2 to 5), 2-D (factored)
    D = np.linspace(0.2, 5, 12).reshape(4, 3)
    T = rng.normal(size=(4, 3))
    w = Tensor(np.zeros((4, 3)), requires_grad=True)
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5}.get(name, LR[name])
    opt = make_optimizer(name, [w], lr=lr, **({"weight_decay": 0.0} if name == "adamw" else {}))
    f0 = 0.5 * np.sum(D * T**2)
    for _ in range(3000):
        w.grad = D * (w.data - T)
        opt.step()
    assert 0.5 * np.sum(D * (w.data - T) ** 2) < 0.01 * f0


def test_make_optimizer_names_and_errors():
    x = Tensor(np.zeros(3), requires_grad=True)
    for name in ALL:
        assert make_optimizer(name.upper(), [x], lr=0.1).name == name
    with pytest.raises(GputrainError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", [x])
    with pytest.raises(GputrainError, match="optimizer adagrad"):
        make_optimizer("adagrad", [x], lr=0.1, momentum=0.9)
    with pytest.raises(GputrainError, match="empty parameter list"):
        make_optimizer("adam", [])
    with pytest.raises(GputrainError, match="not a tensor"):
        make_optimizer("adam", [np.zeros(3)])


BAD = [
    ("sgd", dict(lr=-0.1), "lr must be >= 0"),
    ("adam", dict(lr=float("nan")), "lr must be finite"),
    ("adam", dict(lr="fast"), "lr must be a number"),
    ("adam", dict(beta1=1.0), "beta1 must be in"),
    ("adamw", dict(beta2=-0.1), "beta2 must be in"),
    ("adam", dict(betas=(0.9, 1.5)), "beta2 must be in"),
    ("adam", dict(eps=0.0), "eps must be > 0"),
    ("adagrad", dict(eps=-1e-8), "eps must be > 0"),
    ("rmsprop", dict(alpha=1.2), "alpha must be in"),
    ("adadelta", dict(rho=1.0), "rho must be in"),
    ("momentum", dict(momentum=0.0), "momentum must be > 0"),
    ("sgd", dict(momentum=-1), "momentum must be >= 0"),
    ("sgd", dict(nesterov=True), "nesterov needs momentum"),
    ("adam", dict(weight_decay=-1e-4), "weight_decay must be >= 0"),
    ("adafactor", dict(decay_rate=0.5), "decay_rate must be <= 0"),
    ("adafactor", dict(eps2=0), "eps2 must be > 0"),
]


@pytest.mark.parametrize("name, kw, msg", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_hyper_parameters(name, kw, msg):
    x = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(GputrainError, match=msg) as e:
        make_optimizer(name, [x], **kw)
    assert "\n" not in str(e.value)


def test_lr_is_settable_and_checked():
    x = Tensor(np.zeros(3), requires_grad=True)
    opt = make_optimizer("sgd", [x], lr=0.1)
    opt.lr = 0.5
    x.grad = np.ones(3)
    opt.step()
    np.testing.assert_allclose(x.data, -0.5)
    with pytest.raises(GputrainError, match="lr must be >= 0"):
        opt.lr = -1


def test_gradient_of_wrong_shape_is_refused():
    x = Tensor(np.zeros(3), requires_grad=True)
    opt = make_optimizer("adam", [x])
    x.grad = np.ones(4)
    with pytest.raises(GputrainError, match="does not match"):
        opt.step()
    x.grad = SparseGrad(np.array([0]), np.ones((1, 2)), (5, 2))
    with pytest.raises(GputrainError, match=r"gradient shape \(5, 2\) does not match"):
        opt.step()
    assert opt.state[0] == {}  # a refused step leaves no trace


def _problem_params():
    local = np.random.default_rng(1)
    w = Tensor(local.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    e = Tensor(local.normal(size=(8, 3)).astype(np.float32), requires_grad=True)
    return [w, b, e]


def _train(opt, params, steps, seed):
    local = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params[:2]:
            p.grad = (local.normal(size=p.shape) + p.data).astype(np.float32)
        rows = local.integers(0, 8, size=5)
        params[2].grad = SparseGrad(rows, local.normal(size=(5, 3)).astype(np.float32),
                                    (8, 3))
        opt.step()


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_through_npz_continues_identically(name, tmp_path):
    straight = _problem_params()
    opt = make_optimizer(name, straight, lr=0.01)
    _train(opt, straight, 3, seed=10)
    _train(opt, straight, 3, seed=20)

    resumed = _problem_params()
    first = make_optimizer(name, resumed, lr=0.01)
    _train(first, resumed, 3, seed=10)
    np.savez(tmp_path / "opt.npz", **first.state_dict())
    weights = [p.data.copy() for p in resumed]

    fresh = _problem_params()  # a new process: new parameters, new optimizer
    for p, w in zip(fresh, weights, strict=True):
        p.data[...] = w
    second = make_optimizer(name, fresh, lr=0.5)  # lr comes back from the state
    with np.load(tmp_path / "opt.npz") as npz:
        second.load_state_dict(dict(npz))
    assert second.lr == pytest.approx(0.01)
    _train(second, fresh, 3, seed=20)
    for a, b in zip(straight, fresh, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_copy_and_checks_what_it_loads():
    params = _problem_params()
    opt = make_optimizer("adam", params)
    _train(opt, params, 1, seed=0)
    sd = opt.state_dict()
    sd["param.0.m"][...] = 99  # changing the checkpoint does not change the optimizer
    assert not np.any(opt.state[0]["m"] == 99)
    with pytest.raises(GputrainError, match="for 'adam', not 'sgd'"):
        make_optimizer("sgd", params).load_state_dict(sd)
    with pytest.raises(GputrainError, match="has 3 parameters, model has 2"):
        make_optimizer("adam", params[:2]).load_state_dict(sd)
    target = make_optimizer("adam", params, lr=0.123)
    bad = dict(sd, lr=0.5, **{"param.0.m": np.zeros((2, 2))})
    with pytest.raises(GputrainError, match="param.0.m has shape"):
        target.load_state_dict(bad)
    assert target.lr == 0.123 and target.state[0] == {}  # all or nothing
    partial = {k: v for k, v in sd.items() if k != "param.1.v"}
    with pytest.raises(GputrainError, match=r"parameter 1 has \['m', 'step'\]"):
        target.load_state_dict(partial)
    with pytest.raises(GputrainError, match="unexpected optimizer state key 'param.7.m'"):
        target.load_state_dict(dict(sd, **{"param.7.m": np.zeros(3)}))


def test_zero_grad_and_missing_grads():
    x = Tensor(np.ones(3), requires_grad=True)
    y = Tensor(np.ones(3), requires_grad=True)
    opt = make_optimizer("momentum", [x, y, x], lr=0.1)  # duplicates are dropped
    assert len(opt.params) == 2
    x.grad = np.ones(3)
    opt.step()  # y has no gradient: skipped, no state
    np.testing.assert_allclose(x.data, 0.9)
    np.testing.assert_array_equal(y.data, 1.0)
    assert opt.state[1] == {}
    opt.zero_grad()
    assert x.grad is None and y.grad is None
