"""Arithmetic primitives: add, sub, mul, div, neg, pow (constant exponent), matmul.

Every binary op broadcasts like NumPy; its backward sums the gradient back down to each
input's shape with :func:`unbroadcast`. Backward rules never modify ``gy`` in place and
skip inputs that want no gradient (``self.needs_grad``).
"""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor, as_tensor, unbroadcast


class Add(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gy, self.shapes[1])


class Sub(Function):
    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, gy):
        gb = -unbroadcast(gy, self.shapes[1]) if self.needs_grad[1] else None
        return unbroadcast(gy, self.shapes[0]), gb


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        ga = unbroadcast(gy * self.b, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(gy * self.a, self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        g = gy / self.b
        ga = unbroadcast(g, self.a.shape) if self.needs_grad[0] else None
        gb = unbroadcast(-g * self.a / self.b, self.b.shape) if self.needs_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class PowConst(Function):
    """``a ** c`` for a constant Python number ``c``."""

    c: float

    def forward(self, a):
        self.a = a
        return a**self.c

    def backward(self, gy):
        c = self.c
        if c == 2:
            return gy * (2 * self.a)
        return gy * (c * self.a ** (c - 1))


class MatMul(Function):
    """``a @ b``; 2-D backward is two BLAS calls (``gy @ b.T`` and ``a.T @ gy``)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:
            ga = gy @ b.T if self.needs_grad[0] else None
            gb = a.T @ gy if self.needs_grad[1] else None
            return ga, gb
        # general case: promote 1-D operands to matrices, batch dims broadcast
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        gy2 = gy
        if a.ndim == 1:
            gy2 = gy2[..., None, :] if b.ndim > 1 else gy2[..., None]
        if b.ndim == 1:
            gy2 = gy2[..., None]
        ga = gb = None
        if self.needs_grad[0]:
            ga = unbroadcast(gy2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            gb = unbroadcast(a2.swapaxes(-1, -2) @ gy2, b2.shape).reshape(b.shape)
        return ga, gb


def add(a, b) -> Tensor:
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    return Mul.apply(a, b)


def div(a, b) -> Tensor:
    return Div.apply(a, b)


def neg(a) -> Tensor:
    return Neg.apply(a)


def pow(a, c) -> Tensor:  # noqa: A001 - the op's name
    """``a ** c``: a constant exponent is a primitive; a tensor exponent is
    exp(c * log(a)) (so ``a`` > 0)."""
    if isinstance(c, Tensor):
        from gputrain.autograd.ops.elementwise import exp, log

        return exp(mul(c, log(as_tensor(a, like=c))))
    return PowConst.apply(a, c=c)


def matmul(a, b) -> Tensor:
    return MatMul.apply(a, b)
