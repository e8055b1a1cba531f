"""Initialisers: the variance of a big matrix matches each formula."""

import math

import numpy as np
import pytest

from gputrain.nn import init

SHAPE = (400, 600)  # fan_in 400, fan_out 600: 240k samples, variance within ~1%


@pytest.mark.parametrize("name,expected_var", [
    ("xavier_uniform", 2.0 / (400 + 600)),
    ("xavier_normal", 2.0 / (400 + 600)),
    ("kaiming_uniform", 2.0 / 400),
    ("kaiming_normal", 2.0 / 400),
])
def test_variance_matches_formula(name, expected_var):
    w = init.get_initializer(name)(SHAPE, np.random.default_rng(0))
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(float(w.mean())) < 0.01 * math.sqrt(expected_var)
    assert float(w.var()) == pytest.approx(expected_var, rel=0.02)


def test_uniform_bounds_and_variance():
    w = init.uniform(SHAPE, 0.3, np.random.default_rng(1))
    assert w.min() >= -0.3 and w.max() <= 0.3 and w.max() > 0.299
    assert float(w.var()) == pytest.approx(0.3**2 / 3, rel=0.02)


def test_uniform_variants_stay_in_their_bound():
    w = init.xavier_uniform(SHAPE, np.random.default_rng(2))
    assert np.abs(w).max() <= math.sqrt(6.0 / 1000)
    w = init.kaiming_uniform(SHAPE, np.random.default_rng(3))
    assert np.abs(w).max() <= math.sqrt(2.0) * math.sqrt(3.0 / 400)


def test_leaky_relu_and_tanh_gains():
    w = init.kaiming_normal(SHAPE, np.random.default_rng(4), nonlinearity="leaky_relu",
                            slope=0.2)
    assert float(w.var()) == pytest.approx(2.0 / (1 + 0.2**2) / 400, rel=0.02)
    assert init.gain("tanh") == pytest.approx(5 / 3)
    assert init.gain("relu") == pytest.approx(math.sqrt(2))
    assert init.gain("hardtanh") == 1.0
    with pytest.raises(ValueError, match="nonlinearity"):
        init.gain("swish")


def test_zeros_and_seeding():
    assert not init.zeros((3, 2)).any()
    a = init.xavier_normal((5, 5), np.random.default_rng(9))
    b = init.xavier_normal((5, 5), np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown init"):
        init.get_initializer("glorot")
    with pytest.raises(ValueError, match="dimensions"):
        init.fans((5,))
