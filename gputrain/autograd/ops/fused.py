"""Fused ops: one op where the textbook composition is several, with the same gradient.

``bias_relu(x, b)`` is ``relu(x + b)`` for ``x`` (N, C) and a bias ``b`` (C,); on float32
GPU arrays its forward and its backward (input gradient and bias gradient together) are
one CUDA launch each (``kernels.bias_relu_forward/backward``), where ``relu(x + b)`` takes
five. The array functions below are the kernels' NumPy twins (keep their names and
signatures: the kernel tests compare the two).
"""

from __future__ import annotations

import numpy

from gputrain.autograd.tensor import Function
from gputrain.autograd.tensor import array_module as _xp
from gputrain.backend import is_gpu_array


def _use_kernel(*arrays) -> bool:
    return is_gpu_array(arrays[0]) and all(a.dtype == numpy.float32 for a in arrays)


def bias_relu_forward(x, b):
    """``relu(x + b)`` (a NaN stays NaN)."""
    if _use_kernel(x, b):
        from gputrain import kernels

        xp = _xp(x)
        return kernels.bias_relu_forward(xp.ascontiguousarray(x), xp.ascontiguousarray(b))
    return _xp(x).maximum(x + b, 0)


def bias_relu_backward(y, gy):
    """``(gx, gb)``: ``gy`` where the output ``y > 0`` else 0, and its sum over rows."""
    if _use_kernel(y, gy):
        from gputrain import kernels

        return kernels.bias_relu_backward(y, _xp(gy).ascontiguousarray(gy))
    gx = _xp(y).where(y > 0, gy, 0).astype(gy.dtype, copy=False)
    return gx, gx.sum(axis=0)


class BiasRelu(Function):
    def forward(self, x, b):
        if x.ndim != 2 or b.shape != x.shape[1:]:
            raise ValueError(f"bias_relu: x must be (N, C) and b (C,), got {x.shape} and "
                             f"{b.shape}")
        self.y = bias_relu_forward(x, b)
        return self.y

    def backward(self, gy):
        return bias_relu_backward(self.y, gy)


def bias_relu(x, b):
    return BiasRelu.apply(x, b)
