"""The device engine: how word2vec trains on a GPU (and, through its twin, on the CPU).

Per run, once: the encoded corpus (int32 ids, 4 bytes a token), the chunk boundaries
(sentences, cut at slice boundaries and every :data:`MAX_CHUNK` tokens), the keep
probabilities and the unigram ** ns_exponent table go to the device. A corpus above
:data:`RESIDENT_BYTES` is not kept whole: each launch uploads its own range instead.

Per launch: one kernel (``kernels/w2v_device.cu`` through
:func:`gputrain.kernels.w2v_device_train`) trains up to :data:`LAUNCH_WORDS` tokens of one
epoch (whole slices), one block per chunk; subsampling, windows and negatives are drawn on
the device from a counter-based generator (:mod:`gputrain.w2v.sampling`), and the learning
rate comes from each centre's global word position. The loss and pair count accumulate on
the device and are read once per launch (the launch's only synchronisation): divergence is
checked then, and ``monitor.boundary()`` (progress, checkpoints, stop) runs between launches.

Launches cover fixed groups of slices (``LAUNCH_WORDS // slice_words`` of them, fewer when
``--checkpoint-every`` asks for more frequent checkpoints), so a run resumed from a
checkpoint (always written between launches) makes the same launches with the same draws as
an uninterrupted one.

On the CPU (``--engine device`` without a GPU) the same launches run on NumPy tables
through :func:`gputrain.w2v.device_twin.train_launch`, with ``concurrent`` chunks per
minibatch so that one holds about ``plan.batch_centres`` centres.
"""

from __future__ import annotations

import math

import numpy as np

from gputrain import kernels
from gputrain.backend import Device, to_cpu, to_device
from gputrain.w2v import device_twin, sampling
from gputrain.w2v.batches import keep_probabilities, negative_table
from gputrain.w2v.shared import SharedState
from gputrain.w2v.worker import Diverged, Plan

LAUNCH_WORDS = 32_000_000  # tokens per launch at most (~0.1-0.3 s on an H100)
MAX_CHUNK = 1024  # tokens per chunk (one block's unit of work) at most
THREADS = 128  # threads per block
RESIDENT_BYTES = 4 << 30  # corpora up to this many bytes of ids stay on the device
SUBS = (32, 16, 8, 4, 2, 1)  # consecutive centres per step, the largest that fits


def chunk_starts(ends: np.ndarray, n_ids: int, slice_words: int,
                 max_chunk: int = MAX_CHUNK) -> np.ndarray:
    """Chunk boundaries (int64, first 0, last ``n_ids``): sentence starts and slice
    boundaries, with longer stretches cut every ``max_chunk`` tokens."""
    cuts = np.union1d(np.concatenate([[0], np.asarray(ends, dtype=np.int64)]),
                      np.arange(0, n_ids, slice_words, dtype=np.int64))
    cuts = np.union1d(cuts[cuts < n_ids], [n_ids])
    lengths = np.diff(cuts)
    pieces = -(-lengths // max_chunk)
    first = np.repeat(cuts[:-1], pieces)
    within = np.arange(len(first)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return np.append(first + within * max_chunk, n_ids).astype(np.int64)


def choose_sub(window: int, negative: int, dim: int, threads: int = THREADS,
               max_chunk: int = MAX_CHUNK) -> int:
    """Centres per step: the largest of :data:`SUBS` whose block fits in 48 KiB of shared
    memory (so every GPU runs several blocks per multiprocessor)."""
    for sub in SUBS:
        fits = kernels.w2v_device_shared_bytes(threads, sub, window, negative, dim,
                                               max_chunk) <= kernels.SHARED_DEFAULT
        if fits and sub <= threads:
            return sub
    return 1


class DeviceEngine:
    name = "device"
    n_workers = 1

    def __init__(self, device: Device):
        self.device = device
        self.launches = 0  # kernel launches (or twin launches) of the last run

    def new_state(self, n_words: int, dim: int, n_slots: int) -> SharedState:
        return SharedState.local(n_words, dim, 1, n_slots, xp=self.device.xp)

    def run(self, state: SharedState, corpus, plan: Plan, monitor) -> bool:
        dim = state.w_in.shape[1]
        counts = corpus.vocab.counts
        starts = chunk_starts(corpus.ends, plan.n_ids, plan.slice_words)
        host_table = negative_table(counts, plan.ns_exponent)

        def put(a):
            return to_device(a, self.device)

        keep_prob, table, dev_starts = (put(keep_probabilities(counts, plan.sample)),
                                        put(host_table), put(starts))
        resident = self.device.is_gpu and 4 * plan.n_ids <= RESIDENT_BYTES
        ids_all = put(_read_ids(corpus, 0, plan.n_ids)) if resident else None
        totals = self.device.xp.zeros(2, dtype=np.float64)
        seen = (0.0, 0.0)
        sub = choose_sub(plan.window, plan.negative, dim)
        words = LAUNCH_WORDS
        if monitor.checkpoint_every > 0:  # checkpoints fall between launches
            words = min(words, monitor.checkpoint_every)
        per_launch = max(1, words // plan.slice_words)
        self.launches = 0
        for epoch in range(plan.epochs):
            key = sampling.stream_key(plan.seed, epoch)
            for first, last in _launches(state, plan, epoch, per_launch):
                if not monitor.boundary():
                    return False
                lo, hi = plan.bounds(first)[0], plan.bounds(last - 1)[1]
                c0, c1 = np.searchsorted(starts, [lo, hi])
                if resident:
                    ids, base = ids_all, 0
                else:
                    ids, base = put(_read_ids(corpus, lo, hi)), lo
                common = dict(ids_base=base, first_chunk=int(c0), n_chunks=int(c1 - c0),
                              keep_prob=keep_prob, table=table, key=key,
                              words_before=epoch * plan.n_ids, total_words=plan.total_words,
                              alpha=plan.alpha, min_alpha=plan.min_alpha, window=plan.window,
                              negative=plan.negative, sub=sub, cbow=plan.cbow)
                if self.device.is_gpu:
                    kernels.w2v_device_train(state.w_in, state.w_out, ids, starts=dev_starts,
                                             **common, max_chunk=MAX_CHUNK, totals=totals,
                                             grid=int(c1 - c0), threads=THREADS)
                    now = tuple(float(x) for x in to_cpu(totals))  # the launch's one sync
                    loss, pairs = now[0] - seen[0], now[1] - seen[1]
                    seen = now
                else:
                    loss, pairs = device_twin.train_launch(
                        state.w_in, state.w_out, ids, starts=starts, **common,
                        concurrent=max(1, plan.batch_centres // sub))
                self.launches += 1
                if not math.isfinite(loss):
                    raise Diverged(plan.alpha_at(state.words_done()), state.words_done())
                state.loss[0] += loss
                state.pairs[0] += pairs
                state.words[0] += hi - lo
                state.done[epoch * plan.n_slices + first:epoch * plan.n_slices + last] = 1.0
                monitor.tick()
        return True


def _read_ids(corpus, lo: int, hi: int) -> np.ndarray:
    if corpus.ids_path is None:
        return np.array(corpus.ids[lo:hi], dtype=np.int32)
    return np.fromfile(corpus.ids_path, dtype=np.int32, count=hi - lo, offset=4 * lo)


def _launches(state: SharedState, plan: Plan, epoch: int, per_launch: int):
    """(first, last + 1) slices of each launch of ``epoch`` still to train: the fixed
    groups of ``per_launch`` slices, less the slices already done (a resumed run)."""
    done = state.done[epoch * plan.n_slices:(epoch + 1) * plan.n_slices]
    for g in range(0, plan.n_slices, per_launch):
        s = g
        end = min(plan.n_slices, g + per_launch)
        while s < end:
            while s < end and done[s]:
                s += 1
            t = s
            while t < end and not done[t]:
                t += 1
            if s < t:
                yield s, t
            s = t
