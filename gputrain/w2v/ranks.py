"""Data-parallel word2vec: the ranks of ``mpiexec -n N gputrain w2v`` and their merges.

Every rank holds the tables and trains its contiguous share of each epoch's slices
(:meth:`Plan.shard` with the rank as worker): the other ranks' slices are marked claimed,
so the engine (CPU or device, one process per rank) skips them. The epoch's shares are
cut into *rounds* of ``m`` slices; after every round the ranks merge their tables: the
``hot`` rows (the most frequent words, which every rank updates all the time) after each
round, every row after the last round of an epoch and whenever a checkpoint is due or a
stop was asked for. A merge sums the ranks' changes since the last merge (``table =
snapshot + sum of deltas``), so a rare word trained by one rank keeps its whole update and
the ranks' updates add up as Hogwild threads' do (pWord2Vec averages instead; with the
sum, merging after every step would be exactly Hogwild). After a full merge the tables
are identical on every rank, so rank 0 alone writes checkpoints there, and a resume on
the same N continues the same schedule.

Each merge first sums a small host vector (each rank's words, loss and pairs, its slices'
done flags, its stop and checkpoint requests), then the table rows (on GPUs over NCCL).
The other ranks' words, loss and pairs become this rank's base counts, so progress, the
learning rate (CPU engine: from the words trained by all ranks up to the last merge plus
this rank's since) and checkpoints count every rank's work.

:class:`RankSync` stands in for the :class:`~gputrain.w2v.monitor.Monitor` that the engine
is handed: its ``boundary()`` merges, everything else is the monitor's.
"""

from __future__ import annotations

import hashlib

import numpy as np

from gputrain.backend import get_array_module
from gputrain.distributed import Solo
from gputrain.errors import GputrainError

MERGES_PER_EPOCH = 16  # at least, so a small corpus is not trained on stale tables


def merge_words(sync_words: int, n_ids: int, ranks: int) -> int:
    """Words a rank trains between merges: ``--sync-words``, less on a small corpus (at
    least :data:`MERGES_PER_EPOCH` merges an epoch), never under 1,000."""
    return max(1000, min(sync_words, n_ids // (ranks * MERGES_PER_EPOCH)))


class RankSync:
    def __init__(self, comm: Solo, state, plan, monitor, sync_words: int, hot_rows: int):
        self.comm, self.state, self.plan, self.monitor = comm, state, plan, monitor
        self.base = (state.base_words, monitor.base_loss, monitor.base_pairs)  # resumed
        every = merge_words(sync_words, plan.n_ids, comm.size)
        self.per_round = max(1, every // plan.slice_words)
        self.launch_slices = self.per_round  # a device launch ends by the round's merge
        self.hot = min(hot_rows, state.w_in.shape[0])
        n = plan.n_slices
        self.mine = plan.shard(comm.rank, comm.size)
        counts = [len(plan.shard(r, comm.size)) for r in range(comm.size)]
        self.rounds = max(1, -(-max(counts) // self.per_round))  # per epoch, every rank
        owner = np.zeros(n, dtype=bool)
        owner[self.mine.start:self.mine.stop] = True
        self.owned = np.tile(owner, plan.epochs)
        state.claimed[~self.owned] = 1.0  # other ranks' slices: never trained here
        self.snapshot = tuple(None if t is None else t.copy()
                              for t in (state.w_in, state.w_out, state.w_hs))
        self.epoch, self.round = self._position()
        self.merges = {"hot": 0, "full": 0}

    def _done_here(self, epoch: int) -> int:
        base = epoch * self.plan.n_slices
        return int(self.state.done[base + self.mine.start:base + self.mine.stop].sum())

    def _position(self) -> tuple[int, int]:
        """(epoch, round) to continue at: after a full merge (a checkpoint) the done flags
        are the same on every rank."""
        for epoch in range(self.plan.epochs):
            done = self._done_here(epoch)
            if done < len(self.mine) or not self._epoch_done(epoch):
                return epoch, done // self.per_round
        return self.plan.epochs, 0

    def _epoch_done(self, epoch: int) -> bool:
        n = self.plan.n_slices
        return bool(self.state.done[epoch * n:(epoch + 1) * n].all())

    def __getattr__(self, name):  # tick, checkpoint_every, stop_requested ...: the monitor's
        return getattr(self.monitor, name)

    # -- the engine's hooks -----------------------------------------------------------
    pause_poll = 0.01  # worker processes (--threads): a round is a fraction of a second

    def pause_due(self) -> bool:
        """Worker processes must pause: this rank finished a round (time to merge)."""
        if self.epoch >= self.plan.epochs:
            return False
        return self._done_here(self.epoch) >= min(len(self.mine),
                                                  (self.round + 1) * self.per_round)

    def boundary(self) -> bool:
        """Between slices: merge for every round this rank has finished; False to stop."""
        self.monitor.tick()
        while self.epoch < self.plan.epochs:
            need = min(len(self.mine), (self.round + 1) * self.per_round)
            if self._done_here(self.epoch) < need:
                return True
            if not self._merge(last=self.round + 1 >= self.rounds):
                return False
        return True

    def finish(self) -> bool:
        """After the last slice: the remaining merges (the last one is full); False when
        a stop was agreed on meanwhile (the checkpoint is written)."""
        return self.boundary()

    def check_same_vocab(self, words: list[str], counts) -> None:
        """Every rank must have counted the same vocabulary (the same corpus file)."""
        digest = hashlib.sha256("\n".join(words).encode())
        digest.update(np.asarray(counts, dtype=np.int64).tobytes())
        mine = digest.hexdigest()
        if self.comm.bcast(mine, "the vocabulary's digest") != mine:
            raise GputrainError("this rank counted another vocabulary than rank 0: every "
                                "rank must read the same corpus file")

    # -- merging ----------------------------------------------------------------------
    def _merge(self, last: bool) -> bool:
        stop, checkpoint = self._sum_counters()
        full = last or stop or checkpoint
        rows = slice(None) if full else slice(0, self.hot)
        self._sum_deltas(rows)
        self.merges["full" if full else "hot"] += 1
        if last:
            self.epoch, self.round = self.epoch + 1, 0
        else:
            self.round += 1
        if (stop or checkpoint) and self.comm.is_root:
            self.monitor.checkpoint_now()
        if stop or checkpoint:  # nobody leaves (or runs ahead) before the file is complete
            self.comm.barrier("the wait for rank 0's checkpoint")
        return not stop

    def _sum_counters(self) -> tuple[bool, bool]:
        s, m, n_slots = self.state, self.monitor, len(self.state.done)
        own = np.array([s.words.sum(), s.loss.sum(), s.pairs.sum()], dtype=np.float64)
        vec = np.zeros(3 + n_slots + 2, dtype=np.float64)
        vec[:3] = own
        vec[3:3 + n_slots] = np.where(self.owned, s.done, 0.0)
        vec[-2] = float(m.stop_requested())
        vec[-1] = float(self.comm.is_root and m.checkpoint_due())
        self.comm.allreduce_sum(vec)
        others = vec[:3] - own
        s.base_words = self.base[0] + others[0]
        m.base_loss, m.base_pairs = self.base[1] + others[1], self.base[2] + others[2]
        s.done[:] = vec[3:3 + n_slots] > 0
        return bool(vec[-2]), bool(vec[-1])

    def _sum_deltas(self, rows: slice) -> None:
        """Every table's rows ``rows`` (the hierarchical-softmax table whole: its inner
        nodes are not ordered by use) become the snapshot plus every rank's change."""
        s = self.state
        pairs = [(s.w_in, self.snapshot[0], rows), (s.w_out, self.snapshot[1], rows)]
        if s.w_hs is not None:
            pairs.append((s.w_hs, self.snapshot[2], slice(None)))
        xp = get_array_module(s.w_in)
        deltas = [(table[r] - snap[r]).ravel() for table, snap, r in pairs]
        bucket = self.comm.allreduce_sum(xp.concatenate(deltas))
        self.comm.settle()  # a device merge: wait for it here, under the deadline
        at = 0
        for (table, snap, r), delta in zip(pairs, deltas, strict=True):
            snap[r] += bucket[at:at + delta.size].reshape(snap[r].shape)
            table[r] = snap[r]
            at += delta.size
