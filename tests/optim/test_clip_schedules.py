"""Gradient clipping (global norm, value) and learning-rate schedules."""

import math

import numpy as np
import pytest

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.errors import GputrainError
from gputrain.optim import clip_grad_norm, clip_grad_value, make_optimizer, make_schedule


def _params():
    a = Tensor(np.zeros((2, 2)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    e = Tensor(np.zeros((5, 2)), requires_grad=True)
    a.grad = np.array([[3.0, 0.0], [0.0, 4.0]])  # norm 5
    b.grad = np.array([0.0, 0.0, 6.0])  # 6
    # rows 1 and 1 sum to (2, 2) and row 4 is (1, 1): norm^2 = 8 + 2 = 10
    e.grad = SparseGrad(np.array([1, 4, 1]), np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
                        (5, 2))
    return a, b, e


def test_clip_grad_norm_scales_all_gradients_together():
    a, b, e = _params()
    dense_before = [a.grad.copy(), b.grad.copy(), e.grad.to_dense()]
    shared = a.grad
    norm = clip_grad_norm([a, b, e], max_norm=1.0)
    assert norm == pytest.approx(math.sqrt(25 + 36 + 10))  # duplicates summed first
    after = [a.grad, b.grad, e.grad.to_dense()]
    total = math.sqrt(sum(float((g * g).sum()) for g in after))
    assert total == pytest.approx(1.0, rel=1e-5)
    for before, now in zip(dense_before, after, strict=True):
        np.testing.assert_allclose(now, before / norm, rtol=1e-5)  # same direction
    np.testing.assert_array_equal(shared, [[3.0, 0.0], [0.0, 4.0]])  # not scaled in place


def test_clip_grad_norm_leaves_small_gradients_alone():
    a, b, e = _params()
    before = a.grad.copy()
    assert clip_grad_norm([a, b, e], max_norm=100.0) == pytest.approx(math.sqrt(71))
    np.testing.assert_array_equal(a.grad, before)
    c = Tensor(np.zeros(2), requires_grad=True)
    assert clip_grad_norm([c], 1.0) == 0.0  # no gradients at all
    with pytest.raises(GputrainError, match="max_norm must be > 0"):
        clip_grad_norm([a], 0)


def test_clip_grad_norm_reports_non_finite():
    a = Tensor(np.zeros(2), requires_grad=True)
    a.grad = np.array([np.inf, 1.0])
    assert math.isinf(clip_grad_norm([a], 1.0))


def test_clip_grad_value():
    a, b, e = _params()
    clip_grad_value([a, b, e], 3.5)
    np.testing.assert_array_equal(a.grad, [[3.0, 0.0], [0.0, 3.5]])
    np.testing.assert_array_equal(b.grad, [0.0, 0.0, 3.5])
    e.grad.values[...] *= 10  # (20, 20) for row 1 after coalescing -> clipped to 3.5
    clip_grad_value([e], 3.5)
    np.testing.assert_array_equal(e.grad.to_dense()[1], [3.5, 3.5])
    with pytest.raises(GputrainError, match="clip_value must be > 0"):
        clip_grad_value([a], -1)


def _opt(lr=1.0):
    return make_optimizer("sgd", [Tensor(np.zeros(2), requires_grad=True)], lr=lr)


def _lrs(schedule, n):
    return [schedule.step() for _ in range(n)]


def test_step_schedule():
    opt = _opt(0.8)
    s = make_schedule("step", opt, step_size=2, gamma=0.5)
    assert _lrs(s, 5) == pytest.approx([0.8, 0.4, 0.4, 0.2, 0.2])
    assert opt.lr == pytest.approx(0.2)


def test_exponential_schedule():
    s = make_schedule("exponential", _opt(2.0), gamma=0.9)
    assert _lrs(s, 3) == pytest.approx([1.8, 1.62, 1.458])


def test_linear_schedule_reaches_final_lr_and_stays():
    opt = _opt(1.0)
    s = make_schedule("linear", opt, total_steps=4, final_lr=0.2)
    assert _lrs(s, 6) == pytest.approx([0.8, 0.6, 0.4, 0.2, 0.2, 0.2])


def test_none_schedule_keeps_lr():
    opt = _opt(0.3)
    s = make_schedule("none", opt)
    assert _lrs(s, 3) == pytest.approx([0.3] * 3)


def test_schedule_drives_the_update():
    x = Tensor(np.zeros(1), requires_grad=True)
    opt = make_optimizer("sgd", [x], lr=1.0)
    s = make_schedule("step", opt, step_size=1, gamma=0.5)
    for _ in range(3):
        x.grad = np.ones(1)
        opt.step()
        s.step()
    np.testing.assert_allclose(x.data, -(1.0 + 0.5 + 0.25))


def test_schedule_state_round_trip():
    opt = _opt(1.0)
    s = make_schedule("exponential", opt, gamma=0.5)
    _lrs(s, 3)
    sd = s.state_dict()
    opt2 = _opt(1.0)
    s2 = make_schedule("exponential", opt2, gamma=0.9)
    s2.load_state_dict({k: np.asarray(v) for k, v in sd.items()})  # as np.load gives it
    assert opt2.lr == pytest.approx(0.125)
    assert s2.step() == pytest.approx(0.0625)
    with pytest.raises(GputrainError, match="for 'exponential', not 'step'"):
        make_schedule("step", opt2, step_size=1).load_state_dict(sd)


@pytest.mark.parametrize("name, kw, msg", [
    ("cosine", {}, "unknown lr schedule 'cosine'"),
    ("step", {"step_size": 0}, "step_size must be > 0"),
    ("step", {"step_size": 1.5}, "step_size must be a whole number"),
    ("step", {}, "lr schedule step:.*step_size"),
    ("exponential", {"gamma": -0.5}, "gamma must be >= 0"),
    ("linear", {"total_steps": 10, "final_lr": -1}, "final_lr must be >= 0"),
])
def test_bad_schedules(name, kw, msg):
    with pytest.raises(GputrainError, match=msg):
        make_schedule(name, _opt(), **kw)
