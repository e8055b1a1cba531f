"""The training state every worker sees: the tables and a few counters.

With ``--threads N > 1`` the state lives in two memory-mapped files under ``/dev/shm``
(RAM), which every worker process maps (forked workers inherit the parent's mappings,
and the files are unlinked as soon as they are forked): Hogwild, i.e. workers update the same tables
without locks, as word2vec.c's threads do. With one thread (or on a GPU) the same
structure holds plain in-process arrays. The tables are ``w_in`` and ``w_out`` and, with
hierarchical softmax, ``w_hs`` (one row per Huffman inner node; else None).

Counters (float64): ``pause``/``stop`` flags set by the parent, ``base_words`` (words
trained before this run, from a checkpoint), per worker ``words`` (finished slices),
``inflight`` (words of the current slice), ``loss`` and ``pairs`` (loss sum and number of
input-output terms), ``status``; then one ``done`` and one ``claimed`` flag per (epoch,
slice): a worker claims a slice (under the parent's lock) before training it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

RUNNING, PAUSED, FINISHED, FAILED, DIVERGED = 0.0, 1.0, 2.0, 3.0, 4.0
_HEAD = 3  # pause, stop, base_words
_PER_WORKER = 5  # words, inflight, loss, pairs, status


@dataclass
class StateSpec:
    """What a worker process needs to map the shared state (picklable)."""

    tables_path: str
    counters_path: str
    n_words: int
    dim: int
    n_workers: int
    n_slots: int
    hs: bool = False


class SharedState:
    def __init__(self, tables, counters, n_workers: int, n_slots: int, spec=None):
        self.w_in = tables[0]
        self.w_out = tables[1]
        self.w_hs = tables[2] if len(tables) > 2 else None
        self.counters = counters
        self.n_workers = n_workers
        self.n_slots = n_slots
        self.spec = spec
        per = counters[_HEAD:_HEAD + _PER_WORKER * n_workers].reshape(n_workers, _PER_WORKER)
        self.words, self.inflight, self.loss, self.pairs, self.status = per.T
        flags = _HEAD + _PER_WORKER * n_workers
        self.done = counters[flags:flags + n_slots]
        self.claimed = counters[flags + n_slots:flags + 2 * n_slots]

    # -- construction -----------------------------------------------------------------
    @staticmethod
    def _counter_len(n_workers, n_slots):
        return _HEAD + _PER_WORKER * n_workers + 2 * n_slots

    @classmethod
    def local(cls, n_words, dim, n_workers, n_slots, xp=np, hs: bool = False) -> SharedState:
        tables = xp.zeros((3 if hs else 2, n_words, dim), dtype=np.float32)
        counters = np.zeros(cls._counter_len(n_workers, n_slots), dtype=np.float64)
        return cls(tables, counters, n_workers, n_slots)

    @classmethod
    def create_shared(cls, n_words, dim, n_workers, n_slots, hs: bool = False) -> SharedState:
        where = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, tables_path = tempfile.mkstemp(prefix="gputrain-w2v-", suffix=".f32", dir=where)
        os.close(fd)
        fd, counters_path = tempfile.mkstemp(prefix="gputrain-w2v-", suffix=".f64", dir=where)
        os.close(fd)
        spec = StateSpec(tables_path, counters_path, n_words, dim, n_workers, n_slots, hs)
        tables = np.memmap(tables_path, np.float32, "w+", shape=(3 if hs else 2, n_words, dim))
        counters = np.memmap(counters_path, np.float64, "w+",
                             shape=(cls._counter_len(n_workers, n_slots),))
        return cls(tables, counters, n_workers, n_slots, spec)

    @classmethod
    def attach(cls, spec: StateSpec) -> SharedState:
        tables = np.memmap(spec.tables_path, np.float32, "r+",
                           shape=(3 if spec.hs else 2, spec.n_words, spec.dim))
        counters = np.memmap(spec.counters_path, np.float64, "r+",
                             shape=(cls._counter_len(spec.n_workers, spec.n_slots),))
        return cls(tables, counters, spec.n_workers, spec.n_slots, spec)

    def release(self) -> None:
        """Delete the shared files' names (the mappings live on until unmapped)."""
        if self.spec is not None:
            for path in (self.spec.tables_path, self.spec.counters_path):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    # -- flags and totals -------------------------------------------------------------
    @property
    def pause_requested(self) -> bool:
        return bool(self.counters[0])

    @property
    def stop_requested(self) -> bool:
        return bool(self.counters[1])

    def set_pause(self, on: bool) -> None:
        self.counters[0] = 1.0 if on else 0.0

    def set_stop(self) -> None:
        self.counters[1] = 1.0

    @property
    def base_words(self) -> float:
        return float(self.counters[2])

    @base_words.setter
    def base_words(self, value: float) -> None:
        self.counters[2] = value

    def words_done(self) -> float:
        """Words trained so far, all epochs, including the slices in flight."""
        return self.base_words + float(self.words.sum() + self.inflight.sum())
