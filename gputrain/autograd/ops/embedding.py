"""Embedding lookup ``table[ids]`` with a sparse gradient (rows + values)."""

from __future__ import annotations

from gputrain.autograd.tensor import Function, SparseGrad, Tensor
from gputrain.backend import is_gpu_array


class Embedding(Function):
    """``table (V, D)[ids (...)] -> (..., D)``; backward gives the table a
    :class:`SparseGrad` with one row per looked-up id (duplicates summed when applied)."""

    def forward(self, table, ids):
        self.ids, self.table_shape = ids, table.shape
        return table[ids]

    def backward(self, gy):
        rows = self.ids.reshape(-1)
        shape = (rows.shape[0],) + tuple(self.table_shape[1:])
        values = gy if gy.shape == shape else gy.reshape(shape)
        return SparseGrad(rows, values, tuple(self.table_shape)), None


def embedding(table, ids) -> Tensor:
    """Rows of ``table`` for integer ``ids`` of any shape, each in [0, len(table)) (checked
    on the CPU; not on the GPU, where it would cost a device sync)."""
    table = table if isinstance(table, Tensor) else Tensor(table)
    xp = table.xp
    data = xp.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if data.dtype.kind not in "iu":
        raise ValueError(f"embedding ids must be integers, got dtype {data.dtype}")
    if not is_gpu_array(data) and data.size and (
            data.min() < 0 or data.max() >= table.shape[0]):  # -1 would read the last row
        raise ValueError(f"embedding ids must be in [0, {table.shape[0]}), got "
                         f"{int(data.min())}..{int(data.max())}")
    return Embedding.apply(table, Tensor(data))
