"""Numerical gradient check: central differences in float64 against ``backward``.

    gradcheck(lambda x, w: ops.relu(x @ w), [x, w])   # raises GradcheckError if wrong

Every floating-point input is perturbed element by element; integer inputs (labels, ids)
are passed through as constants. A non-scalar output is reduced to the scalar
``sum(y * gy)`` with a fixed random ``gy``, so every output element is exercised. Sparse
gradients (embedding) are densified before comparison. Inputs stay on their device, so
CuPy arrays check the GPU path of every op.
"""

from __future__ import annotations

import numpy

from gputrain.autograd.tensor import SparseGrad, Tensor
from gputrain.backend import get_array_module, to_cpu


class GradcheckError(AssertionError):
    """The analytic gradient of some input differs from the numerical one."""


def _float_index(arrays) -> list[int]:
    return [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]


def _as_arrays(inputs):
    """Copies of the inputs on their own device (NumPy or CuPy), floats as float64."""
    out = []
    for x in inputs:
        data = x.data if isinstance(x, Tensor) else x
        a = get_array_module(data).array(data) if hasattr(data, "dtype") else numpy.array(data)
        out.append(a.astype(numpy.float64) if a.dtype.kind == "f" else a)
    return out


def _scalar(fn, arrays, gy, wrt):
    tensors = [Tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    y = fn(*tensors)
    if gy is None:
        return y, tensors, None
    return y, tensors, float(to_cpu((y.data * get_array_module(y.data).asarray(gy)).sum()))


def numerical_grad(fn, inputs, gy=None, eps: float = 1e-6, wrt=None) -> list:
    """d sum(fn(*inputs) * gy) / d input for each float input (None for the others)."""
    arrays = _as_arrays(inputs)
    wrt = _float_index(arrays) if wrt is None else list(wrt)
    if gy is None:
        y, _, _ = _scalar(fn, arrays, None, wrt)
        gy = numpy.ones(y.shape)
    grads = [None] * len(arrays)
    for i in wrt:
        x = arrays[i]
        g = numpy.zeros(x.shape)
        flat_x, flat_g = x.reshape(-1), g.reshape(-1)
        for j in range(flat_x.size):
            orig = float(flat_x[j])
            flat_x[j] = orig + eps
            plus = _scalar(fn, arrays, gy, wrt)[2]
            flat_x[j] = orig - eps
            minus = _scalar(fn, arrays, gy, wrt)[2]
            flat_x[j] = orig
            flat_g[j] = (plus - minus) / (2 * eps)
        grads[i] = g
    return grads


def gradcheck(fn, inputs, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-8,
              gy=None, seed: int = 0) -> float:
    """Check ``backward`` of ``fn`` against central differences, in float64.

    Returns the relative error ``||a - n|| / max(||a||, ||n||)`` of the worst input
    (``a`` analytic, ``n`` numerical gradient, 2-norms). Raises :class:`GradcheckError`
    when that exceeds ``rtol``, or when an element misses
    ``|a - n| <= atol + rtol * max(|a|, |n|)`` (``atol`` absorbs the round-off of the
    difference quotient, about 1e-16 * |f| / eps), naming the input and element.
    """
    arrays = _as_arrays(inputs)
    wrt = _float_index(arrays)
    if not wrt:
        raise ValueError("gradcheck needs at least one floating-point input")
    y, tensors, _ = _scalar(fn, [a.copy() for a in arrays], None, wrt)
    if y.dtype != numpy.float64:
        raise GradcheckError(f"fn output is {y.dtype}, not float64: an op lost precision")
    if gy is None:
        gy = numpy.random.default_rng(seed).standard_normal(y.shape) if y.size > 1 else \
            numpy.ones(y.shape)
    y.backward(get_array_module(y.data).asarray(gy, dtype=numpy.float64).reshape(y.shape))
    numeric = numerical_grad(fn, arrays, gy=gy, eps=eps, wrt=wrt)
    worst = 0.0
    for i in wrt:
        analytic = tensors[i].grad
        if analytic is None:
            analytic = numpy.zeros(arrays[i].shape)
        elif isinstance(analytic, SparseGrad):
            analytic = analytic.to_dense()
        analytic = numpy.asarray(to_cpu(analytic), dtype=numpy.float64)
        if analytic.shape != tuple(arrays[i].shape):
            raise GradcheckError(
                f"input {i}: gradient shape {analytic.shape} != input shape {arrays[i].shape}")
        if not numpy.all(numpy.isfinite(analytic)):
            raise GradcheckError(f"input {i}: analytic gradient is not finite")
        diff = numpy.abs(analytic - numeric[i])
        scale = max(float(numpy.linalg.norm(analytic)), float(numpy.linalg.norm(numeric[i])))
        rel = float(numpy.linalg.norm(diff)) / scale if scale > atol else 0.0
        bad = diff > atol + rtol * numpy.maximum(numpy.abs(analytic), numpy.abs(numeric[i]))
        if bad.any() or rel > rtol:
            j = numpy.unravel_index(int(numpy.argmax(diff)), diff.shape)
            raise GradcheckError(
                f"input {i} element {tuple(int(k) for k in j)}: analytic "
                f"{analytic[j]:.10g} vs numerical {numeric[i][j]:.10g} "
                f"(relative error {rel:.3g})")
        worst = max(worst, rel)
    return worst
