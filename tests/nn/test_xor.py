"""A tiny MLP learns XOR with plain gradient descent written right here."""

import numpy as np

from gputrain import nn
from gputrain.autograd import no_grad, ops


def test_mlp_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 8, rng=rng, init="xavier_uniform"), nn.Tanh(),
                          nn.Linear(8, 2, rng=rng, init="xavier_uniform"))
    first = None
    for _ in range(500):
        model.zero_grad()
        loss = ops.softmax_cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        loss.backward()
        with no_grad():
            for p in model.parameters():
                p.data -= 0.5 * p.grad
    assert loss.item() < 0.05 < first
    predictions = model(x).data.argmax(axis=1)
    np.testing.assert_array_equal(predictions, y)


def test_regression_with_mse_and_sigmoid_bce():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    target = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32)
    lin = nn.Linear(3, 1, rng=rng)
    for _ in range(200):
        lin.zero_grad()
        loss = ops.mse(ops.reshape(lin(x), -1), target)
        loss.backward()
        for p in lin.parameters():
            p.data -= 0.1 * p.grad
    assert loss.item() < 1e-4
    clf = nn.Linear(3, 1, rng=rng)
    labels = (target > 0).astype(np.float32)[:, None]
    for _ in range(200):
        clf.zero_grad()
        loss = ops.sigmoid_bce_with_logits(clf(x), labels)
        loss.backward()
        for p in clf.parameters():
            p.data -= 1.0 * p.grad
    accuracy = float(((clf(x).data > 0) == (labels > 0.5)).mean())
    assert accuracy > 0.95
