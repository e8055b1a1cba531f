"""Activation primitives (relu, leaky_relu, sigmoid, tanh, hardtanh, softplus, elu, abs,
prelu, maxout, softmax, log_softmax) and dropout (a multiplication by a constant random
mask). ``cos`` is in :mod:`elementwise`.
"""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor, unbroadcast
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


class Softplus(Function):
    """log(1 + e^x), stable for any x: max(x, 0) + log1p(exp(-|x|))."""

    def forward(self, x):
        xp = _xp(x)
        self.x = x
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * stable_sigmoid(self.x)


class Elu(Function):
    """x for x > 0, alpha * (e^x - 1) otherwise."""

    alpha: float = 1.0

    def forward(self, x):
        xp = _xp(x)
        self.mask = x > 0
        self.neg = self.alpha * xp.expm1(xp.minimum(x, 0))
        return xp.where(self.mask, x, self.neg)

    def backward(self, gy):
        return _xp(gy).where(self.mask, gy, gy * (self.neg + self.alpha))


class Abs(Function):
    """Absolute-value rectification |x| (the gradient at 0 is taken as 0)."""

    def forward(self, x):
        self.sign = _xp(x).sign(x)
        return _xp(x).abs(x)

    def backward(self, gy):
        return gy * self.sign


class Prelu(Function):
    """Parametric ReLU: x for x > 0, slope * x otherwise; ``slope`` is a learned tensor
    that broadcasts against x (one slope per unit: shape (units,))."""

    def forward(self, x, slope):
        self.x, self.slope, self.mask = x, slope, x > 0
        return _xp(x).where(self.mask, x, x * slope)

    def backward(self, gy):
        xp = _xp(gy)
        gx = xp.where(self.mask, gy, gy * self.slope) if self.needs_grad[0] else None
        gs = (unbroadcast(xp.where(self.mask, 0, gy * self.x), self.slope.shape)
              if self.needs_grad[1] else None)
        return gx, gs


class Maxout(Function):
    """Maxout units: the last axis holds ``units * pieces`` values, unit j's pieces at
    j*pieces ... j*pieces + pieces - 1; each unit outputs the largest of its pieces and
    the gradient goes to that piece alone (the first one on a tie)."""

    pieces: int = 2

    def forward(self, x):
        xp = _xp(x)
        grouped = x.reshape(x.shape[:-1] + (x.shape[-1] // self.pieces, self.pieces))
        self.shape = x.shape
        self.winner = xp.arange(self.pieces) == grouped.argmax(axis=-1)[..., None]
        return grouped.max(axis=-1)

    def backward(self, gy):
        return (gy[..., None] * self.winner).reshape(self.shape)


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


def softplus(x) -> Tensor:
    return Softplus.apply(x)


def elu(x, alpha: float = 1.0) -> Tensor:
    return Elu.apply(x, alpha=alpha)


def abs(x) -> Tensor:
    return Abs.apply(x)


def prelu(x, slope) -> Tensor:
    return Prelu.apply(x, slope)


def maxout(x, pieces: int) -> Tensor:
    if pieces < 1 or x.shape[-1] % pieces:
        raise ValueError(f"maxout: the last axis ({x.shape[-1]}) is not a multiple of "
                         f"{pieces} pieces")
    return Maxout.apply(x, pieces=pieces)


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
