"""Shape primitives: reshape, transpose, indexing (``t[...]``)."""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor
from gputrain.autograd.tensor import array_module as _xp


class Reshape(Function):
    shape: tuple

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Transpose(Function):
    axes: tuple | None

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return gy.transpose()
        inverse = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inverse[ax % len(self.axes)] = i
        return gy.transpose(inverse)


class GetItem(Function):
    """``x[key]`` (basic or integer-array indexing); repeated indices sum their grads."""

    key: object

    def forward(self, x):
        self.in_shape, self.dtype = x.shape, x.dtype
        return x[self.key]

    def backward(self, gy):
        xp = _xp(gy)
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        xp.add.at(gx, self.key, gy)
        return gx


def reshape(x, *shape) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=tuple(shape))


def transpose(x, *axes) -> Tensor:
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose.apply(x, axes=tuple(axes) if axes else None)


def getitem(x, key) -> Tensor:
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, tuple):
        key = tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return GetItem.apply(x, key=key)
