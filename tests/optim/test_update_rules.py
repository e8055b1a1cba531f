"""Each optimizer against its textbook update rule, written out here, over several steps.

The problem: least squares ``0.5/n * ||X W + c - Y||^2`` with a 2-D weight W (5x3) and a
1-D bias c, float64, so the gradient depends on where the optimizer has taken W: a wrong
step in any iteration changes every later gradient.
"""

import math

import numpy as np
import pytest

from gputrain.autograd.tensor import Tensor
from gputrain.optim import make_optimizer

STEPS = 5
rng = np.random.default_rng(7)
X = rng.normal(size=(16, 5))
Y = rng.normal(size=(16, 3))
W0 = rng.normal(size=(5, 3))
C0 = rng.normal(size=3)


def grads(w, c):
    r = X @ w + c - Y
    return X.T @ r / len(X), r.sum(axis=0) / len(X)


def run_optimizer(name, steps=STEPS, **kw):
    w, c = Tensor(W0.copy(), requires_grad=True), Tensor(C0.copy(), requires_grad=True)
    opt = make_optimizer(name, [w, c], **kw)
    for _ in range(steps):
        w.grad, c.grad = grads(w.data, c.data)
        opt.step()
    return w.data, c.data


def run_reference(rule, steps=STEPS, **hp):
    """``rule(p, g, state, t, **hp) -> new p`` applied to W and c with separate states."""
    w, c = W0.copy(), C0.copy()
    sw, sc = {}, {}
    for t in range(1, steps + 1):
        gw, gc = grads(w, c)
        w = rule(w, gw, sw, t, **hp)
        c = rule(c, gc, sc, t, **hp)
    return w, c


# --- textbook rules (plain formulas, no in-place tricks) -----------------------------------
def sgd(p, g, s, t, lr, weight_decay=0.0):
    return p - lr * (g + weight_decay * p)


def momentum(p, g, s, t, lr, momentum, weight_decay=0.0, nesterov=False):
    g = g + weight_decay * p
    s["b"] = g if t == 1 else momentum * s["b"] + g
    return p - lr * (g + momentum * s["b"] if nesterov else s["b"])


def adagrad(p, g, s, t, lr, eps, weight_decay=0.0):
    g = g + weight_decay * p
    s["G"] = s.get("G", 0.0) + g * g
    return p - lr * g / (np.sqrt(s["G"]) + eps)


def adadelta(p, g, s, t, rho, eps, lr=1.0, weight_decay=0.0):
    g = g + weight_decay * p
    s["Eg"] = rho * s.get("Eg", 0.0) + (1 - rho) * g * g
    dx = -np.sqrt(s.get("Edx", 0.0) + eps) / np.sqrt(s["Eg"] + eps) * g
    s["Edx"] = rho * s.get("Edx", 0.0) + (1 - rho) * dx * dx
    return p + lr * dx


def rmsprop(p, g, s, t, lr, alpha, eps, momentum=0.0, weight_decay=0.0):
    g = g + weight_decay * p
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    step = g / (np.sqrt(s["v"]) + eps)
    if momentum:
        s["b"] = momentum * s.get("b", 0.0) + step
        step = s["b"]
    return p - lr * step


def adam(p, g, s, t, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False):
    if decoupled:
        p = p - lr * weight_decay * p
    else:
        g = g + weight_decay * p
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = s["v"] / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def adafactor(p, g, s, t, lr, eps1=1e-30, eps2=1e-3, d=1.0, decay=-0.8, beta1=0.0,
              weight_decay=0.0, relative=False, scale=False):
    g = g + weight_decay * p
    b2 = 1 - t**decay
    u = g * g + eps1
    if p.ndim == 2:  # factored: row and column means of u
        s["R"] = b2 * s.get("R", 0.0) + (1 - b2) * u.mean(axis=1)
        s["C"] = b2 * s.get("C", 0.0) + (1 - b2) * u.mean(axis=0)
        v = np.outer(s["R"], s["C"]) / s["R"].mean()
    else:
        s["V"] = b2 * s.get("V", 0.0) + (1 - b2) * u
        v = s["V"]
    x = g / np.sqrt(v)
    x = x / max(1.0, np.sqrt(np.mean(x * x)) / d)
    a = min(lr, 1 / math.sqrt(t)) if relative else lr
    if scale:
        a *= max(eps2, np.sqrt(np.mean(p * p)))
    if beta1:
        s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * a * x
        return p - s["m"]
    return p - a * x


CASES = [
    ("sgd", dict(lr=0.1), sgd, dict(lr=0.1)),
    ("sgd", dict(lr=0.1, weight_decay=0.05), sgd, dict(lr=0.1, weight_decay=0.05)),
    ("momentum", dict(lr=0.05, momentum=0.9), momentum, dict(lr=0.05, momentum=0.9)),
    ("momentum", dict(lr=0.05, momentum=0.8, weight_decay=0.1), momentum,
     dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("nesterov", dict(lr=0.05, momentum=0.9), momentum,
     dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02), momentum,
     dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02)),
    ("adagrad", dict(lr=0.3), adagrad, dict(lr=0.3, eps=1e-10)),
    ("adagrad", dict(lr=0.3, eps=1e-3, weight_decay=0.1), adagrad,
     dict(lr=0.3, eps=1e-3, weight_decay=0.1)),
    ("adadelta", dict(), adadelta, dict(rho=0.9, eps=1e-6)),
    ("adadelta", dict(rho=0.5, eps=1e-3, weight_decay=0.1), adadelta,
     dict(rho=0.5, eps=1e-3, weight_decay=0.1)),
    ("adadelta", dict(lr=0.5), adadelta, dict(rho=0.9, eps=1e-6, lr=0.5)),
    ("rmsprop", dict(lr=0.01), rmsprop, dict(lr=0.01, alpha=0.99, eps=1e-8)),
    ("rmsprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.1), rmsprop,
     dict(lr=0.01, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.1)),
    ("adam", dict(lr=0.1), adam, dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("adam", dict(lr=0.1, betas=(0.5, 0.8), eps=1e-3, weight_decay=0.2), adam,
     dict(lr=0.1, beta1=0.5, beta2=0.8, eps=1e-3, weight_decay=0.2)),
    ("adamw", dict(lr=0.1), adam,
     dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decoupled=True)),
    ("adamw", dict(lr=0.1, weight_decay=0.3), adam,
     dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.3, decoupled=True)),
    ("adafactor", dict(lr=0.05), adafactor, dict(lr=0.05)),
    ("adafactor", dict(lr=0.05, beta1=0.9, weight_decay=0.1, clip_threshold=0.5), adafactor,
     dict(lr=0.05, beta1=0.9, weight_decay=0.1, d=0.5)),
    ("adafactor", dict(), adafactor, dict(lr=1e-2, relative=True, scale=True)),
]


@pytest.mark.parametrize("name, kw, rule, hp", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_textbook_rule(name, kw, rule, hp):
    w, c = run_optimizer(name, **kw)
    rw, rc = run_reference(rule, **hp)
    assert not np.allclose(w, W0)  # it moved
    np.testing.assert_allclose(w, rw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, rc, rtol=1e-10, atol=1e-12)


def test_nesterov_differs_from_momentum():
    wm, _ = run_optimizer("momentum", lr=0.05, momentum=0.9)
    wn, _ = run_optimizer("nesterov", lr=0.05, momentum=0.9)
    assert np.abs(wm - wn).max() > 1e-3
    # first step is the same (b = g), so they only part after it
    wm1, _ = run_optimizer("momentum", steps=1, lr=0.05, momentum=0.9)
    ws1, _ = run_optimizer("sgd", steps=1, lr=0.05)
    np.testing.assert_allclose(wm1, ws1)


def test_adam_bias_correction_makes_first_step_lr_sized():
    # with bias correction the first step moves every coordinate by ~lr (sign of g)
    w, _ = run_optimizer("adam", steps=1, lr=0.01)
    gw, _ = grads(W0, C0)
    np.testing.assert_allclose(W0 - w, 0.01 * np.sign(gw), rtol=1e-6)
    # without it the step would be (1-b1)/sqrt(1-b2) ~ 3.16x smaller or larger
    no_bc = 0.01 * 0.1 / np.sqrt(0.001)
    assert abs(np.abs(W0 - w).mean() - no_bc) > 0.01


def test_adamw_decay_is_decoupled_from_the_gradient():
    # zero gradient: Adam with L2 still moves (L2 enters m and v, normalised ~ lr),
    # AdamW shrinks p by exactly (1 - lr*wd)
    p = Tensor(np.full(4, 2.0), requires_grad=True)
    opt = make_optimizer("adamw", [p], lr=0.1, weight_decay=0.5)
    p.grad = np.zeros(4)
    opt.step()
    np.testing.assert_allclose(p.data, 2.0 * (1 - 0.1 * 0.5))
    q = Tensor(np.full(4, 2.0), requires_grad=True)
    opt = make_optimizer("adam", [q], lr=0.1, weight_decay=0.5)
    q.grad = np.zeros(4)
    opt.step()
    np.testing.assert_allclose(q.data, 2.0 - 0.1, rtol=1e-6)  # normalised step of size lr


def test_adadelta_needs_no_learning_rate():
    # the default (lr=1) makes progress on its own; units come from the accumulated deltas
    p = Tensor(np.array([3.0, -2.0]), requires_grad=True)
    opt = make_optimizer("adadelta", [p])
    assert opt.lr == 1.0
    for _ in range(3000):
        p.grad = 2 * p.data
        opt.step()
    assert np.abs(p.data).max() < 0.2


def test_adafactor_factored_state_shapes():
    w = Tensor(np.ones((6, 4)), requires_grad=True)
    b = Tensor(np.ones(4), requires_grad=True)
    t = Tensor(np.ones((2, 6, 4)), requires_grad=True)
    opt = make_optimizer("adafactor", [w, b, t], lr=0.01)
    for p in (w, b, t):
        p.grad = np.ones(p.shape)
    opt.step()
    sd = opt.state_dict()
    assert sd["param.0.row"].shape == (6,) and sd["param.0.col"].shape == (4,)
    assert "param.0.v" not in sd  # O(n+m) memory, not O(n*m)
    assert sd["param.1.v"].shape == (4,)
    assert sd["param.2.row"].shape == (2, 6) and sd["param.2.col"].shape == (2, 4)


def test_float32_stays_float32():
    for name in ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                 "adamw", "adafactor"):
        p = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
        data = p.data
        opt = make_optimizer(name, [p], lr=0.1, weight_decay=0.01)
        p.grad = np.full((3, 2), 0.5, np.float32)
        opt.step()
        assert p.data.dtype == np.float32, name
        assert p.data is data, name  # updated in place: views of the weights stay valid
        assert all(v.dtype == np.float32 for k, v in opt.state_dict().items()
                   if isinstance(v, np.ndarray)), name


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "adadelta",
                                  "rmsprop", "adam", "adamw"])
def test_dense_step_allocates_no_arrays(name):
    import tracemalloc

    p = Tensor(np.ones((300, 200), np.float32), requires_grad=True)  # 240 kB
    opt = make_optimizer(name, [p], lr=0.01, weight_decay=0.01)
    p.grad = np.ones((300, 200), np.float32)
    opt.step()  # state and scratch buffers are made on the first step
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10_000, peak
