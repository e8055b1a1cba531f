"""The device engine: how word2vec trains on a GPU (and, through its twin, on the CPU).

Per run, once: the encoded corpus (int32 ids, 4 bytes a token), the chunk boundaries
(sentences, cut at slice boundaries and every :data:`MAX_CHUNK` tokens), the keep
probabilities and the unigram ** ns_exponent table go to the device. A corpus above
:data:`RESIDENT_BYTES` of ids, or above half the device memory still free once the tables
are there (``$GPUTRAIN_RESIDENT_BYTES`` overrides both), is not kept whole:
its ids stream through two launch-sized buffers (:mod:`gputrain.w2v.id_stream`), the next
launch's ids copied from pinned host memory on a side stream while the current one trains.

Per launch: one kernel (``kernels/w2v_device.cu`` through
:func:`gputrain.kernels.w2v_device_train`) trains up to :data:`LAUNCH_WORDS` tokens of one
epoch (whole slices), one block per chunk; subsampling, windows and negatives are drawn on
the device from a counter-based generator (:mod:`gputrain.w2v.sampling`), and the learning
rate comes from each centre's global word position. The loss and pair count accumulate on
the device and are read once per launch (the launch's only synchronisation): divergence is
checked then, and ``monitor.boundary()`` (progress, checkpoints, stop; under ``mpiexec`` the
ranks' merges, so a launch then covers one round at most) runs between launches.

Launches cover fixed groups of slices (``LAUNCH_WORDS // slice_words`` of them, fewer when
``--checkpoint-every`` asks for more frequent checkpoints), so a run resumed from a
checkpoint (always written between launches) makes the same launches with the same draws as
an uninterrupted one.

On the CPU (``--engine device`` without a GPU) the launches, one slice each, run on NumPy
tables through :func:`gputrain.w2v.device_twin.train_launch`, with ``concurrent`` chunks
per minibatch so that one holds about ``plan.batch_centres`` centres.
"""

from __future__ import annotations

import math
import os

import numpy as np

from gputrain import kernels
from gputrain.backend import Device, free_memory, to_cpu, to_device
from gputrain.errors import GputrainError
from gputrain.w2v import device_twin, sampling
from gputrain.w2v.batches import keep_probabilities, negative_table
from gputrain.w2v.huffman import MAX_NODE_REPEATS, huffman_paths
from gputrain.w2v.id_stream import IdStream
from gputrain.w2v.shared import SharedState
from gputrain.w2v.worker import Diverged, Plan

LAUNCH_WORDS = 32_000_000  # tokens per launch at most (~0.1-0.3 s on an H100)
MAX_CHUNK = 1024  # tokens per chunk (one block's unit of work) at most
THREADS = 128  # threads per block
RESIDENT_BYTES = 4 << 30  # corpora up to this many bytes of ids stay on the device
RESIDENT_ENV = "GPUTRAIN_RESIDENT_BYTES"
SUBS = (32, 16, 8, 4, 2, 1)  # consecutive centres per step, the largest that fits
# the kernel variant launched: False, the default; True, the RING one (context rows kept in
# shared memory for their lifetime). The first GPU run of scripts/bench_gpu.py decides.
RING = False


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
               max_chunk: int = MAX_CHUNK, hs_len: int = 0, ring: bool = False) -> int:
    """Centres per step: the largest of :data:`SUBS` whose block fits in 48 KiB of shared
    memory (so every GPU runs several blocks per multiprocessor); with hierarchical softmax
    at most :data:`~gputrain.w2v.huffman.MAX_NODE_REPEATS` (the root is on every path: a
    step moves it by the summed update of its centres, as a CPU minibatch does)."""
    for sub in SUBS:
        fits = kernels.w2v_device_shared_bytes(threads, sub, window, negative, dim,
                                               max_chunk, hs_len, ring) <= kernels.SHARED_DEFAULT
        if hs_len and sub > MAX_NODE_REPEATS:
            continue
        if fits and sub <= threads:
            return sub
    return 1


def resident_bytes(device: Device | None = None) -> int:
    """The largest corpus (bytes of ids) kept whole on ``device``: $GPUTRAIN_RESIDENT_BYTES
    (tests lower it to exercise streaming on small corpora), else :data:`RESIDENT_BYTES` or
    half the memory free on the device now, whichever is less."""
    raw = os.environ.get(RESIDENT_ENV)
    if raw is None:
        if device is None or not device.is_gpu:
            return RESIDENT_BYTES
        return min(RESIDENT_BYTES, free_memory(device) // 2)
    try:
        return int(raw)
    except ValueError:
        raise GputrainError(f"{RESIDENT_ENV}={raw!r} is not a number of bytes") from None


class DeviceEngine:
    name = "device"
    n_workers = 1

    def __init__(self, device: Device, hs: bool = False):
        self.device = device
        self.hs = hs  # a third table, w_hs (hierarchical softmax)

    def new_state(self, n_words: int, dim: int, n_slots: int) -> SharedState:
        with self.device.activate():  # the tables live on this engine's device
            return SharedState.local(n_words, dim, 1, n_slots, xp=self.device.xp, hs=self.hs)

    def run(self, state: SharedState, corpus, plan: Plan, monitor) -> bool:
        launcher = Launcher(self.device, corpus, plan, state.w_in.shape[1],
                            monitor.checkpoint_every, monitor.launch_slices)
        for epoch in range(plan.epochs):
            todo = list(_launches(state, plan, epoch, launcher.per_launch))
            for i, (first, last) in enumerate(todo):
                if not monitor.boundary():
                    return False
                upcoming = todo[i + 1] if i + 1 < len(todo) else None
                if upcoming is None and epoch + 1 < plan.epochs:
                    upcoming = next(_launches(state, plan, epoch + 1, launcher.per_launch), None)
                loss, pairs = launcher.train(state, epoch, first, last, upcoming)
                if not math.isfinite(loss):
                    raise Diverged(plan.alpha_at(state.words_done()), state.words_done(),
                                   "lower --alpha or --batch-size")
                lo, hi = plan.bounds(first)[0], plan.bounds(last - 1)[1]
                state.loss[0] += loss
                state.pairs[0] += pairs
                state.words[0] += hi - lo
                state.done[epoch * plan.n_slices + first:epoch * plan.n_slices + last] = 1.0
                monitor.tick()
        return True


class Launcher:
    """One run's data on the device and its launches: :meth:`start` queues the kernel for
    slices ``[first, last)`` of an epoch, :meth:`read` waits for the loss and pair count
    it added (the launch's only synchronisation); :meth:`train` does both. On the CPU
    :meth:`train` runs the twin."""

    def __init__(self, device: Device, corpus, plan: Plan, dim: int, checkpoint_every: int = 0,
                 launch_slices: int = 0, ring: bool | None = None):
        self.device, self.corpus, self.plan = device, corpus, plan
        self.ring = RING if ring is None else ring
        counts = corpus.vocab.counts
        self.starts = chunk_starts(corpus.ends, plan.n_ids, plan.slice_words)
        self.keep_prob = self._put(keep_probabilities(counts, plan.sample))
        self.table = self._put(negative_table(counts, plan.ns_exponent))
        self.dev_starts = self._put(self.starts)
        self.resident = device.is_gpu and 4 * plan.n_ids <= resident_bytes(device)
        self.ids = self._put(_read_ids(corpus, 0, plan.n_ids)) if self.resident else None
        self.totals = device.xp.zeros(2, dtype=np.float64)
        self.seen = (0.0, 0.0)
        self.hs = {}
        if plan.hs:  # the Huffman paths, by word id, once per run
            paths = huffman_paths(counts)
            self.hs = dict(points=self._put(paths.points), psigns=self._put(paths.signs))
        hs_len = self.hs["points"].shape[1] if self.hs else 0
        self.sub = choose_sub(plan.window, plan.negative, dim, hs_len=hs_len, ring=self.ring)
        words = LAUNCH_WORDS
        if checkpoint_every > 0:  # checkpoints fall between launches
            words = min(words, checkpoint_every)
        # the twin, ~1000x slower than a GPU, launches one slice at a time (progress)
        self.per_launch = max(1, words // plan.slice_words) if device.is_gpu else 1
        if launch_slices > 0:  # under mpiexec: the ranks merge between launches
            self.per_launch = min(self.per_launch, launch_slices)
        self.streamed = None
        if device.is_gpu and not self.resident:
            capacity = min(plan.n_ids, self.per_launch * plan.slice_words)
            self.streamed = IdStream(device, corpus, capacity)

    def _put(self, a):
        return to_device(a, self.device)

    def _args(self, epoch: int, first: int, last: int) -> dict:
        plan = self.plan
        lo, hi = plan.bounds(first)[0], plan.bounds(last - 1)[1]
        c0, c1 = np.searchsorted(self.starts, [lo, hi])
        if self.resident:
            ids, base = self.ids, 0
        elif self.streamed is not None:  # waits for its copy on the side stream
            ids, base = self.streamed.take(lo, hi), lo
        else:  # the twin reads its slice from the host
            ids, base = _read_ids(self.corpus, lo, hi), lo
        return dict(ids=ids, ids_base=base, first_chunk=int(c0), n_chunks=int(c1 - c0),
                    keep_prob=self.keep_prob, table=self.table,
                    key=sampling.stream_key(plan.seed, epoch),
                    words_before=epoch * plan.n_ids, total_words=plan.total_words,
                    alpha=plan.alpha, min_alpha=plan.min_alpha, window=plan.window,
                    negative=plan.negative, sub=self.sub, cbow=plan.cbow, **self.hs)

    def start(self, state: SharedState, epoch: int, first: int, last: int) -> None:
        args = self._args(epoch, first, last)
        kernels.w2v_device_train(state.w_in, state.w_out, w_hs=state.w_hs,
                                 starts=self.dev_starts, **args,
                                 max_chunk=MAX_CHUNK, totals=self.totals,
                                 grid=max(1, args["n_chunks"]), threads=THREADS,
                                 ring=self.ring)
        if self.streamed is not None:
            self.streamed.release()

    def prefetch(self, first: int, last: int) -> None:
        """Start copying the ids of slices ``[first, last)`` (a streamed corpus only)."""
        if self.streamed is not None:
            self.streamed.prefetch(self.plan.bounds(first)[0], self.plan.bounds(last - 1)[1])

    def read(self) -> tuple[float, float]:
        now = tuple(float(x) for x in to_cpu(self.totals))  # waits for the launch
        delta = (now[0] - self.seen[0], now[1] - self.seen[1])
        self.seen = now
        return delta

    def train(self, state: SharedState, epoch: int, first: int, last: int, upcoming=None):
        """Train slices ``[first, last)``; ``upcoming``, the next launch's ``(first, last)``,
        has its ids copied meanwhile (a streamed corpus)."""
        if self.device.is_gpu:
            self.start(state, epoch, first, last)
            if upcoming is not None:
                self.prefetch(*upcoming)
            return self.read()
        return device_twin.train_launch(
            state.w_in, state.w_out, w_hs=state.w_hs, starts=self.starts,
            **self._args(epoch, first, last),
            concurrent=max(1, self.plan.batch_centres // self.sub))


def _read_ids(corpus, lo: int, hi: int) -> np.ndarray:
    if corpus.ids_path is None:
        return np.array(corpus.ids[lo:hi], dtype=np.int32)
    return np.fromfile(corpus.ids_path, dtype=np.int32, count=hi - lo, offset=4 * lo)


def _launches(state: SharedState, plan: Plan, epoch: int, per_launch: int):
    """(first, last + 1) slices of each launch of ``epoch`` still to train: the fixed
    groups of ``per_launch`` slices, less the slices already done (a resumed run) or
    claimed (under mpiexec, the other ranks' slices)."""
    lo, hi = epoch * plan.n_slices, (epoch + 1) * plan.n_slices
    done = np.maximum(state.done[lo:hi], state.claimed[lo:hi])  # claimed: another rank's
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
