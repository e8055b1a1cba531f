"""Row updates of a table from a sparse gradient (``rows`` + ``values``), in place.

These are the NumPy twins of the CUDA kernels ``sgd_rows`` / ``adagrad_rows`` in
``gputrain.kernels``: on float32 CuPy arrays the functions call the kernel with the same
arguments; on NumPy arrays (and CuPy arrays of other dtypes) they compute the same thing
here, as array code. ``rows`` may repeat; a
repeated row gets the SUM of its values (one update with the summed gradient, which is
what the dense rule applied to ``SparseGrad.to_dense()`` does).

``adam_rows`` is the lazy Adam of PyTorch's ``SparseAdam``: only the touched rows' moments
decay and only touched rows move; it has no kernel (on the GPU it runs as CuPy array code).
"""

from __future__ import annotations

import numpy

from gputrain.autograd.tensor import SparseGrad, scatter_add_rows
from gputrain.backend import get_array_module, is_gpu_array


def sgd_rows(table, rows, values, lr: float) -> None:
    """``table[rows] -= lr * values`` with duplicate rows summed, in place."""
    if _use_kernel(table):
        from gputrain import kernels

        rows, values = _kernel_args(table, rows, values)
        kernels.sgd_rows(table, rows, values, float(lr))
        return
    xp = get_array_module(table)
    rows = xp.asarray(rows).reshape(-1)
    scaled = xp.multiply(values, -lr, dtype=table.dtype)
    scatter_add_rows(table, rows, scaled.reshape((len(rows),) + tuple(table.shape[1:])))


def adagrad_rows(table, accum, rows, values, lr: float, eps: float) -> None:
    """Adagrad on the touched rows: duplicates summed into g, then per row r
    ``accum[r] += g*g`` and ``table[r] -= lr * g / (sqrt(accum[r]) + eps)``, in place."""
    if _use_kernel(table):
        from gputrain import kernels

        rows, values = _kernel_args(table, rows, values)
        kernels.adagrad_rows(table, accum, rows, values, float(lr), float(eps))
        return
    xp = get_array_module(table)
    unique, g = coalesce_rows(rows, values, table.shape)
    acc = accum[unique]
    acc += g * g
    accum[unique] = acc
    xp.sqrt(acc, out=acc)
    acc += eps
    xp.divide(g, acc, out=g)
    g *= lr
    table[unique] -= g


def adam_rows(table, m, v, rows, values, lr: float, beta1: float, beta2: float,
              eps: float, step: int) -> None:
    """Lazy Adam (PyTorch's SparseAdam) on the touched rows, duplicates summed, in place:
    ``m[r] = b1*m[r] + (1-b1)*g``, ``v[r] = b2*v[r] + (1-b2)*g*g``,
    ``table[r] -= lr * (m[r]/(1-b1**step)) / (sqrt(v[r]/(1-b2**step)) + eps)``."""
    xp = get_array_module(table)
    unique, g = coalesce_rows(rows, values, table.shape)
    mr = m[unique]
    mr *= beta1
    mr += (1.0 - beta1) * g
    m[unique] = mr
    vr = v[unique]
    vr *= beta2
    g *= g
    g *= 1.0 - beta2
    vr += g
    v[unique] = vr
    bc1 = 1.0 - beta1**step
    bc2 = 1.0 - beta2**step
    xp.sqrt(vr, out=vr)
    vr *= 1.0 / bc2**0.5
    vr += eps
    xp.divide(mr, vr, out=mr)
    mr *= lr / bc1
    table[unique] -= mr


def flat_rows(grad: SparseGrad) -> SparseGrad:
    """The same gradient with 1-D ``rows`` and ``values`` of shape (n, *row_shape)."""
    if grad.rows.ndim == 1 and grad.values.ndim == len(grad.shape):
        return grad
    rows = grad.rows.reshape(-1)
    values = grad.values.reshape((len(rows),) + tuple(grad.shape[1:]))
    return SparseGrad(rows, values, grad.shape)


def coalesce_rows(rows, values, shape):
    """(unique sorted rows, summed values) — a fresh values array the caller may modify."""
    xp = get_array_module(values)
    rows = xp.asarray(rows).reshape(-1)
    values = values.reshape((len(rows),) + tuple(shape[1:]))  # ids of any shape
    unique, inverse = xp.unique(rows, return_inverse=True)
    if len(unique) == len(rows):  # no duplicates: reorder instead of scatter-adding
        order = xp.argsort(rows)
        return rows[order], values[order]  # fancy indexing copies
    summed = xp.zeros((len(unique),) + tuple(shape[1:]), dtype=values.dtype)
    scatter_add_rows(summed, inverse.reshape(-1), values)
    return unique, summed


def _use_kernel(table) -> bool:
    """The CUDA kernels take C-contiguous float32 (V, D) tables; anything else on the GPU
    runs the array code."""
    return (is_gpu_array(table) and table.dtype == numpy.float32 and table.ndim == 2
            and table.flags.c_contiguous)


def _kernel_args(table, rows, values):
    """The kernels take int32 row ids and C-contiguous values of the table's dtype."""
    xp = get_array_module(table)
    rows = xp.ascontiguousarray(xp.asarray(rows).reshape(-1), dtype=xp.int32)
    values = xp.ascontiguousarray(values, dtype=table.dtype)
    values = values.reshape((len(rows),) + tuple(table.shape[1:]))
    return rows, values
