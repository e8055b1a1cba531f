"""Elementwise math primitives: exp, log, sin, cos."""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor
from gputrain.autograd.tensor import array_module as _xp


class Exp(Function):
    def forward(self, x):
        self.y = _xp(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    def forward(self, x):
        self.x = x
        return _xp(x).log(x)

    def backward(self, gy):
        return gy / self.x


class Sin(Function):
    def forward(self, x):
        self.x = x
        return _xp(x).sin(x)

    def backward(self, gy):
        return gy * _xp(self.x).cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return _xp(x).cos(x)

    def backward(self, gy):
        return -gy * _xp(self.x).sin(self.x)


def exp(x) -> Tensor:
    return Exp.apply(x)


def log(x) -> Tensor:
    return Log.apply(x)


def sin(x) -> Tensor:
    return Sin.apply(x)


def cos(x) -> Tensor:
    return Cos.apply(x)
