"""Activation primitives (relu, leaky_relu, sigmoid, tanh, hardtanh, softmax, log_softmax)
and dropout (a multiplication by a constant random mask).
"""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor
from gputrain.autograd.tensor import array_module as _xp


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    xp = _xp(x)
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


class Relu(Function):
    def forward(self, x):
        y = _xp(x).maximum(x, 0)
        self.y = y
        return y

    def backward(self, gy):
        return gy * (self.y > 0)


class LeakyRelu(Function):
    slope: float = 0.01

    def forward(self, x):
        self.mask = x > 0
        return _xp(x).where(self.mask, x, x * self.slope)

    def backward(self, gy):
        return _xp(gy).where(self.mask, gy, gy * self.slope)


class Sigmoid(Function):
    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, gy):
        y = self.y
        return gy * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        self.y = _xp(x).tanh(x)
        return self.y

    def backward(self, gy):
        y = self.y
        return gy * (1 - y * y)


class Hardtanh(Function):
    low: float = -1.0
    high: float = 1.0

    def forward(self, x):
        self.mask = (x > self.low) & (x < self.high)
        return _xp(x).clip(x, self.low, self.high)

    def backward(self, gy):
        return gy * self.mask


class Softmax(Function):
    axis: int = -1

    def forward(self, x):
        xp = _xp(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.y
        gyy = gy * y
        return gyy - y * gyy.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    axis: int = -1

    def forward(self, x):
        xp = _xp(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        return self.y

    def backward(self, gy):
        xp = _xp(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def relu(x) -> Tensor:
    return Relu.apply(x)


def leaky_relu(x, slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(x, slope=slope)


def sigmoid(x) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    return Tanh.apply(x)


def hardtanh(x, low: float = -1.0, high: float = 1.0) -> Tensor:
    return Hardtanh.apply(x, low=low, high=high)


def softmax(x, axis: int = -1) -> Tensor:
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(x, axis=axis)


def dropout(x, p: float, rng=None, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by
    1/(1-p), so evaluation (``training=False``, or p == 0) is the identity.

    ``rng`` is a generator on the array's device (``Device.rng``); a NumPy generator is
    accepted for GPU arrays too (the mask is then copied over).
    """
    from gputrain.autograd.ops.arithmetic import mul

    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not training or p == 0:
        return x
    xp = x.xp
    if rng is None:
        rng = xp.random.default_rng()
    u = rng.random(x.shape, dtype=x.dtype) if x.dtype.kind == "f" else rng.random(x.shape)
    keep = xp.asarray(u >= p)
    mask = keep.astype(x.dtype) * (1.0 / (1.0 - p))
    return mul(x, Tensor(mask))
