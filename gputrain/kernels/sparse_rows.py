"""Sparse row updates (kernels/sparse_rows.cu): SGD and Adagrad on the touched rows."""

from __future__ import annotations

import numpy

from gputrain.errors import GputrainError
from gputrain.kernels import launch
from gputrain.kernels.launch import check, function, grid_for, same_shape, xp_of


def _rows_args(op: str, table, rows, values):
    check(op, "table", table, numpy.float32, ndim=2)
    check(op, "rows", rows, numpy.int32)
    check(op, "values", values, numpy.float32)
    if values.size != rows.size * table.shape[1]:
        raise GputrainError(
            f"kernels.{op}: values {values.shape} must hold one row of {table.shape[1]}"
            f" for each of the {rows.size} rows"
        )
    return rows.size, table.shape[1]


def sgd_rows(table, rows, values, lr: float) -> None:
    """``table[rows] -= lr * values`` in place, duplicate rows summed (atomicAdd: the
    summation order of a repeated row is not fixed). Row ids must lie in ``[0, V)``."""
    n, dim = _rows_args("sgd_rows", table, rows, values)
    if n and dim:
        function("sparse_rows.cu", "sgd_rows", table)(
            (grid_for(n * dim),), (launch.BLOCK,),
            (table, rows, values, numpy.float32(lr), numpy.int32(n), numpy.int32(dim)),
        )


def adagrad_rows(table, accum, rows, values, lr: float, eps: float) -> None:
    """Adagrad on the touched rows in place: duplicates summed into ``g`` (atomicAdd),
    then ``accum[r] += g*g`` and ``table[r] -= lr * g / (sqrt(accum[r]) + eps)``."""
    op = "adagrad_rows"
    n, dim = _rows_args(op, table, rows, values)
    same_shape(op, "accum", check(op, "accum", accum, numpy.float32), table.shape)
    if not (n and dim):
        return
    xp = xp_of(table)
    unique, inverse = xp.unique(rows.reshape(-1), return_inverse=True)
    unique = xp.ascontiguousarray(unique, dtype=numpy.int32)
    slot = xp.ascontiguousarray(inverse.reshape(-1), dtype=numpy.int32)
    summed = xp.zeros((len(unique), dim), dtype=numpy.float32)
    function("sparse_rows.cu", "scatter_add_rows", table)(
        (grid_for(n * dim),), (launch.BLOCK,),
        (summed, slot, values, numpy.int32(n), numpy.int32(dim)),
    )
    u = len(unique)
    function("sparse_rows.cu", "adagrad_unique_rows", table)(
        (grid_for(u * dim),), (launch.BLOCK,),
        (table, accum, unique, summed, numpy.float32(lr), numpy.float32(eps), numpy.int32(u),
         numpy.int32(dim)),
    )
