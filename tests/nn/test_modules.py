"""Module tree, parameters, state_dict round trip, train/eval, layers."""

import numpy as np
import pytest

from gputrain import nn
from gputrain.autograd import SparseGrad, Tensor, ops
from gputrain.errors import GputrainError


def mlp(seed=0, p=0.5):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(4, 8, rng=rng), nn.ReLU(), nn.Dropout(p, rng=seed),
                         nn.Linear(8, 3, rng=rng))


def test_named_parameters_in_order():
    model = mlp()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert model[0].weight.shape == (4, 8) and not model[0].bias.data.any()
    assert len(model) == 4


def test_linear_computes_affine_map_and_gradients():
    lin = nn.Linear(3, 2, rng=np.random.default_rng(0))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = lin(x)
    np.testing.assert_allclose(y.data, x @ lin.weight.data + lin.bias.data, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(lin.weight.grad, x.T @ np.ones((2, 2)), rtol=1e-6)
    np.testing.assert_allclose(lin.bias.grad, [2.0, 2.0])
    assert nn.Linear(3, 2, bias=False).bias is None
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)


def test_state_dict_round_trip():
    a, b = mlp(seed=1), mlp(seed=2)
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    a.eval(), b.eval()
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    assert set(state) == {"0.weight", "0.bias", "3.weight", "3.bias"}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    state["0.weight"][:] = 0  # neither side aliases the other's arrays
    assert a[0].weight.data.any() and b[0].weight.data.any()
    assert "(0): Linear(4, 8, bias=True)" in repr(a) and "(1): ReLU()" in repr(a)


def test_load_state_dict_names_missing_unexpected_and_shape_errors():
    model = mlp()
    state = model.state_dict()
    del state["3.bias"]
    state["9.weight"] = np.zeros(2)
    with pytest.raises(GputrainError, match=r"missing 3\.bias; unexpected 9\.weight"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["0.weight"] = np.zeros((5, 8), dtype=np.float32)
    before = model[0].weight.data.copy()
    with pytest.raises(GputrainError, match=r"'0.weight' has shape \(5, 8\).*\(4, 8\)"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing half-loaded


def test_train_eval_toggles_dropout():
    model = mlp(p=0.5)
    x = np.ones((64, 4), dtype=np.float32)
    model.eval()
    assert all(not m.training for m in model.modules())
    np.testing.assert_array_equal(model(x).data, model(x).data)  # deterministic
    model.train()
    assert model[2].training
    assert not np.array_equal(model(x).data, model(x).data)  # fresh masks each call
    h = model[2](Tensor(np.ones((100, 100), dtype=np.float32)))
    assert 0.4 < float((h.data == 0).mean()) < 0.6


def test_embedding_module_gives_sparse_gradient():
    emb = nn.Embedding(10, 4, rng=np.random.default_rng(0))
    assert np.abs(emb.weight.data).max() <= 0.5 / 4
    out = emb(np.array([[1, 2], [2, 9]]))
    assert out.shape == (2, 2, 4)
    ops.sum(out).backward()
    assert isinstance(emb.weight.grad, SparseGrad)
    np.testing.assert_array_equal(emb.weight.grad.coalesce().rows, [1, 2, 9])


def test_activation_modules_match_ops():
    x = np.linspace(-3, 3, 13)
    for module, op in [(nn.ReLU(), ops.relu), (nn.Tanh(), ops.tanh), (nn.Sigmoid(), ops.sigmoid),
                       (nn.LeakyReLU(0.1), lambda t: ops.leaky_relu(t, 0.1)),
                       (nn.Hardtanh(), ops.hardtanh), (nn.Softplus(), ops.softplus),
                       (nn.ELU(), ops.elu), (nn.Abs(), ops.abs), (nn.Cos(), ops.cos),
                       (nn.Maxout(2), lambda t: ops.maxout(t, 2))]:
        x = np.linspace(-3, 3, 12)
        np.testing.assert_array_equal(module(x).data, op(x).data)
    assert set(nn.ACTIVATIONS) == {"relu", "tanh", "sigmoid", "leaky_relu", "hardtanh",
                                   "softplus", "elu", "abs", "cos"}


def test_prelu_slope_is_a_learned_parameter():
    unit = nn.PReLU(3)
    assert [n for n, _ in unit.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(unit.weight.data, [0.25, 0.25, 0.25])
    x = np.array([[-2.0, 1.0, -4.0]])
    y = unit(x)
    np.testing.assert_allclose(y.data, [[-0.5, 1.0, -1.0]])
    ops.sum(y).backward()
    np.testing.assert_allclose(unit.weight.grad, [-2.0, 0.0, -4.0])


@pytest.mark.parametrize("name", ["softplus", "elu", "abs", "cos", "prelu", "maxout"])
def test_new_units_keep_the_second_moment_with_their_gain(name):
    """He's rule: with weights of variance gain^2 / fan_in, a unit-variance input gives
    next-layer pre-activations of variance about 1 (checked through 3 layers)."""
    rng = np.random.default_rng(0)
    width, pieces = 400, 3
    k = pieces if name == "maxout" else 1

    def unit(z):
        if name == "maxout":
            return z.reshape(len(z), width, pieces).max(axis=-1)
        if name == "prelu":
            return np.where(z > 0, z, 0.25 * z)
        return getattr(ops, name)(z).data

    h = unit(rng.standard_normal((2000, width * k)))
    for _ in range(3):
        w = nn.init.kaiming_normal((width, width * k), rng, nonlinearity=name, pieces=pieces,
                                   dtype=np.float64)
        z = h @ w
        assert 0.85 < np.mean(z * z) < 1.15, (name, np.mean(z * z))
        h = unit(z)


def test_zero_grad_and_to_cpu():
    model = mlp()
    ops.softmax_cross_entropy(model(np.ones((2, 4), dtype=np.float32)), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.to("cpu") is model
    assert isinstance(model[0].weight.data, np.ndarray)


def test_tied_parameter_is_listed_once():
    first = nn.Linear(3, 3, rng=np.random.default_rng(0))
    second = nn.Linear(3, 3, rng=np.random.default_rng(1))
    second.weight = first.weight  # tied weights
    model = nn.Sequential(first, nn.Tanh(), second)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.bias"]
    assert len(model.parameters()) == 3
