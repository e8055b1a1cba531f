"""Train one shard of the corpus: the loop every worker (process or in-process) runs.

The encoded corpus is cut into *slices* of ``slice_words`` ids. A slice is the unit of
work, of randomness (its generator is seeded with ``(seed, epoch, slice)``) and of
checkpointing (a checkpoint records which (epoch, slice) pairs are done). Worker ``w`` of
``n`` owns the contiguous shard of slices ``[w*S/n, (w+1)*S/n)`` and trains it epoch after
epoch; the learning rate decays linearly with the words trained by all workers together.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gputrain.errors import GputrainError
from gputrain.w2v.batches import keep_probabilities, negative_table, slice_batches
from gputrain.w2v.encoded import EncodedCorpus, open_cache
from gputrain.w2v.hs_step import output_steps
from gputrain.w2v.huffman import huffman_paths
from gputrain.w2v.shared import (
    DIVERGED,
    FAILED,
    FINISHED,
    PAUSED,
    RUNNING,
    SharedState,
    StateSpec,
)

# centres per call of the compiled loop: the learning rate is refreshed between calls
# (word2vec.c: every 10,000 words); nothing else depends on it
CALL_CENTRES = 10_000


class Diverged(GputrainError):
    """The loss became infinite or NaN: the learning rate is too high for this corpus."""

    def __init__(self, lr: float, words: float,
                 hint: str = "lower --alpha, or use fewer --threads"):
        super().__init__(
            f"training diverged (the loss is no longer finite) after {int(words):,} words at "
            f"learning rate {lr:.4g}; {hint}")


@dataclass(frozen=True)
class Plan:
    """How the corpus is cut into slices and shards, and the schedule's constants."""

    n_ids: int
    slice_words: int
    epochs: int
    window: int
    negative: int
    ns_exponent: float
    sample: float
    alpha: float
    min_alpha: float
    cbow: bool
    seed: int
    batch_centres: int  # the device engine's minibatch (the CPU loop is sequential)
    hs: bool = False  # hierarchical softmax (w_hs), besides negative sampling if negative > 0

    @property
    def n_slices(self) -> int:
        return max(1, -(-self.n_ids // self.slice_words))

    @property
    def total_words(self) -> int:
        return self.n_ids * self.epochs

    def bounds(self, s: int) -> tuple[int, int]:
        return s * self.slice_words, min(self.n_ids, (s + 1) * self.slice_words)

    def shard(self, worker: int, n_workers: int) -> range:
        n = self.n_slices
        return range(worker * n // n_workers, (worker + 1) * n // n_workers)

    def alpha_at(self, words_done: float) -> float:
        progress = min(1.0, words_done / max(1, self.total_words))
        return max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * progress)


def _claim(state: SharedState, plan: Plan, epoch: int, mine: range, lock) -> int | None:
    """The next slice of ``epoch`` to train: the first unclaimed one of this worker's shard,
    else (work stealing, when another worker is slower) the last unclaimed one of any."""
    base = epoch * plan.n_slices
    with lock:
        for s in [*mine, *range(plan.n_slices - 1, -1, -1)]:
            if not state.claimed[base + s]:
                state.claimed[base + s] = 1.0
                return s
    return None


def train_shard(state: SharedState, corpus: EncodedCorpus, plan: Plan, worker: int,
                boundary: Callable[[], bool], on_batch: Callable[[], None] | None = None,
                lock=None) -> bool:
    """Train worker ``worker``'s shard for every epoch; False if stopped early.

    Slices already done (a resumed run) or claimed by another worker are skipped; a worker
    whose shard is finished takes unclaimed slices of the same epoch from the others.
    ``boundary()`` is called between slices and returns False to stop. ``lock`` guards
    claiming between worker processes. (The GPU trains through the device engine.)
    """
    from gputrain.w2v.window_step import cbow_window_step, sgns_window_step  # numba: ~1 s

    lock = lock if lock is not None else contextlib.nullcontext()
    keep_prob = keep_probabilities(corpus.vocab.counts, plan.sample)
    neg_table = negative_table(corpus.vocab.counts, plan.ns_exponent)
    window_step = cbow_window_step if plan.cbow else sgns_window_step
    hs_paths = huffman_paths(corpus.vocab.counts) if plan.hs else None
    mine = plan.shard(worker, state.n_workers)
    for epoch in range(plan.epochs):
        while True:
            if not boundary():
                return False
            s = _claim(state, plan, epoch, mine, lock)
            if s is None:
                break
            slot = epoch * plan.n_slices + s
            lo, hi = plan.bounds(s)
            ids, sentence = corpus.read(lo, hi)
            rng = np.random.default_rng([plan.seed, epoch, s])
            for *windows, targets, fraction in slice_batches(
                    ids, sentence, keep_prob, neg_table, rng, plan.window, plan.negative,
                    CALL_CENTRES):
                state.inflight[worker] = fraction * (hi - lo)
                lr = plan.alpha_at(state.words_done())
                loss, pairs = output_steps(window_step, state, windows, targets, lr,
                                           negative=plan.negative > 0, paths=hs_paths)
                if not math.isfinite(loss):
                    raise Diverged(lr, state.words_done())
                state.loss[worker] += loss
                state.pairs[worker] += pairs
                if on_batch is not None:
                    on_batch()
            state.words[worker] += hi - lo
            state.inflight[worker] = 0.0
            state.done[slot] = 1.0
    return True


def _wait_while_paused(state: SharedState, worker: int, parent: int) -> bool:
    """Between slices: wait while the parent pauses us; False to stop (asked to, or the
    parent is gone, e.g. killed by SIGKILL: nobody would save what we train)."""
    while state.pause_requested and not state.stop_requested and os.getppid() == parent:
        state.status[worker] = PAUSED
        time.sleep(0.005)
    state.status[worker] = RUNNING
    return not state.stop_requested and os.getppid() == parent


def worker_main(shared: SharedState | StateSpec, cache_dir: str, plan: Plan, worker: int,
                lock) -> None:
    """Entry point of a worker process (the parent handles signals): ``shared`` is the
    parent's state when forked (its mappings are inherited), else its spec to map."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    state = shared if isinstance(shared, SharedState) else SharedState.attach(shared)
    parent = os.getppid()
    try:
        corpus = open_cache(cache_dir)
        train_shard(state, corpus, plan, worker,
                    lambda: _wait_while_paused(state, worker, parent), lock=lock)
        state.status[worker] = FINISHED
    except Diverged as e:
        state.status[worker] = DIVERGED
        sys.stderr.write(f"{e}\n")
        os._exit(1)
    except BaseException:
        state.status[worker] = FAILED
        traceback.print_exc()
        os._exit(1)


def single_thread_env() -> dict[str, str]:
    """Environment for worker processes: one BLAS/OpenMP thread each."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {name: "1" for name in names}
