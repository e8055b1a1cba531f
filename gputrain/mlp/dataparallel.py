"""Data-parallel MLP steps: each rank trains a shard of every batch, one allreduce per step.

Every rank holds the same weights and draws the same batch order (same seed); rank ``r``
of ``n`` takes rows ``[r*B/n, (r+1)*B/n)`` of each batch of ``B`` rows. Its loss is the
mean over its shard, so its gradient is scaled by ``shard/B`` before the sum: the summed
gradient is the gradient of the mean over the whole batch, and the optimizer step (the
same on every rank) equals single-process training to floating-point tolerance. All
gradients travel in one flat bucket, one allreduce per step (MPI on the host, NCCL on
GPUs); the bucket stays on the device. The loss sum and correct count stay on each rank
(its shard's) and are summed over the ranks only when the loop reads them.
"""

from __future__ import annotations

from gputrain.distributed import Solo


class GradientBucket:
    def __init__(self, comm: Solo, params, xp):
        self.comm = comm
        self.params = list(params)
        self.xp = xp

    def shard(self, batch: slice) -> slice:
        """This rank's rows of the batch ``batch`` (positions in the gathered rows)."""
        n, r, size = batch.stop - batch.start, self.comm.rank, self.comm.size
        return slice(batch.start + n * r // size, batch.start + n * (r + 1) // size)

    def reduce(self, batch_rows: int, shard_rows: int) -> None:
        """Sum the scaled gradients over the ranks, written back into ``.grad``. A rank
        with an empty shard adds zeros."""
        xp, weight = self.xp, shard_rows / batch_rows
        parts = []
        for p in self.params:
            if shard_rows and p.grad is not None:
                parts.append((p.grad * weight).ravel().astype(xp.float32, copy=False))
            else:
                parts.append(xp.zeros(p.data.size, dtype=xp.float32))
        bucket = self.comm.allreduce_sum(xp.concatenate(parts))
        at = 0
        for p in self.params:
            size = p.data.size
            p.grad = bucket[at:at + size].reshape(p.data.shape).astype(p.data.dtype, copy=False)
            at += size
