"""Data-parallel MLP steps: each rank trains a shard of every batch, one allreduce per step.

Every rank holds the same weights and draws the same batch order (same seed); rank ``r``
of ``n`` takes rows ``[r*B/n, (r+1)*B/n)`` of each batch of ``B`` rows. Its loss is the
mean over its shard, so its gradient is scaled by ``shard/B`` before the sum: the summed
gradient is the gradient of the mean over the whole batch, and the optimizer step (the
same on every rank) equals single-process training to floating-point tolerance. All
gradients travel in one flat bucket with the batch's loss sum and correct count appended,
one allreduce per step (MPI on the host, NCCL on GPUs); the bucket stays on the device.
"""

from __future__ import annotations

from gputrain.distributed import Solo


class GradientBucket:
    def __init__(self, comm: Solo, params, xp):
        self.comm = comm
        self.params = list(params)
        self.xp = xp

    def shard(self, picked):
        """This rank's rows of the batch ``picked``."""
        n, r, size = len(picked), self.comm.rank, self.comm.size
        return picked[n * r // size:n * (r + 1) // size]

    def reduce(self, batch_rows: int, shard_rows: int, loss, correct):
        """Sum the scaled gradients (written back into ``.grad``) and the batch's loss sum
        and correct count over the ranks; returns ``(loss_sum, correct)`` of the batch,
        device scalars. A rank with an empty shard passes ``loss=None`` and adds zeros."""
        xp, weight = self.xp, shard_rows / batch_rows
        parts = []
        for p in self.params:
            if shard_rows and p.grad is not None:
                parts.append((p.grad * weight).ravel().astype(xp.float32, copy=False))
            else:
                parts.append(xp.zeros(p.data.size, dtype=xp.float32))
        tally = xp.zeros(2, dtype=xp.float32)
        if shard_rows:
            tally[0] = loss * shard_rows
            if correct is not None:
                tally[1] = correct
        parts.append(tally)
        bucket = self.comm.allreduce_sum(xp.concatenate(parts))
        at = 0
        for p in self.params:
            size = p.data.size
            p.grad = bucket[at:at + size].reshape(p.data.shape).astype(p.data.dtype, copy=False)
            at += size
        return bucket[at], bucket[at + 1]
