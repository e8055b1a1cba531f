"""Reductions: sum (primitive) and mean (sum divided by the count)."""

from __future__ import annotations

from gputrain.autograd.tensor import Function, Tensor
from gputrain.autograd.tensor import array_module as _xp


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim for a in axis) if ndim else ()


class Sum(Function):
    axis: object = None
    keepdims: bool = False

    def forward(self, x):
        self.in_shape = x.shape
        return _xp(x).asarray(x.sum(axis=self.axis, keepdims=self.keepdims))

    def backward(self, gy):
        if not self.keepdims and self.axis is not None:
            axes = _normalize_axis(self.axis, len(self.in_shape))
            gy = gy.reshape([1 if i in axes else n for i, n in enumerate(self.in_shape)])
        return _xp(gy).broadcast_to(gy, self.in_shape)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - the op's name
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    from gputrain.autograd.ops.arithmetic import mul

    x = x if isinstance(x, Tensor) else Tensor(x)
    axes = _normalize_axis(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return mul(sum(x, axis=axis, keepdims=keepdims), 1.0 / max(count, 1))
