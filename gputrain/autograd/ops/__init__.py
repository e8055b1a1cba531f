"""Differentiable ops, one small :class:`~gputrain.autograd.tensor.Function` each, grouped
by family; importing this package also attaches the Python operators to ``Tensor``.

    from gputrain.autograd import Tensor, ops
    loss = ops.softmax_cross_entropy(ops.relu(x @ w1 + b1) @ w2 + b2, labels)
    loss.backward()
"""

from gputrain.autograd.ops import operators as _operators
from gputrain.autograd.ops.activations import (
    abs,
    dropout,
    elu,
    hardtanh,
    leaky_relu,
    log_softmax,
    maxout,
    prelu,
    relu,
    sigmoid,
    softmax,
    softplus,
    stable_sigmoid,
    tanh,
)
from gputrain.autograd.ops.arithmetic import add, div, matmul, mul, neg, pow, sub
from gputrain.autograd.ops.elementwise import cos, exp, log, sin
from gputrain.autograd.ops.embedding import embedding
from gputrain.autograd.ops.fused import bias_relu
from gputrain.autograd.ops.losses import (
    mse,
    sigmoid_bce_backward,
    sigmoid_bce_forward,
    sigmoid_bce_with_logits,
    softmax_cross_entropy,
    softmax_xent_backward,
    softmax_xent_forward,
)
from gputrain.autograd.ops.reductions import mean, sum
from gputrain.autograd.ops.shape import getitem, reshape, transpose

_operators.attach()

__all__ = [
    "abs", "add", "bias_relu", "cos", "div", "dropout", "elu", "embedding", "exp", "getitem",
    "hardtanh", "leaky_relu", "log", "log_softmax", "matmul", "maxout", "mean", "mse", "mul",
    "neg", "pow", "prelu", "relu", "reshape", "softplus",
    "sigmoid", "sigmoid_bce_backward", "sigmoid_bce_forward", "sigmoid_bce_with_logits",
    "sin", "softmax", "softmax_cross_entropy", "softmax_xent_backward",
    "softmax_xent_forward", "stable_sigmoid", "sub", "sum", "tanh", "transpose",
]
