"""The CPU engine: the window step (:mod:`gputrain.w2v.window_step`, compiled), slice by slice.

With one thread the loop (:func:`~gputrain.w2v.worker.train_shard`) runs in this process
and is deterministic for a seed; with ``threads`` > 1, as many worker processes train their
shards Hogwild on tables in shared memory while this process watches them, pausing them
between slices for checkpoints (and, under ``mpiexec``, for the ranks' merges: the
monitor's ``pause_due()`` says when, its ``boundary()`` does it).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from contextlib import contextmanager

from gputrain.backend import CPU
from gputrain.errors import GputrainError
from gputrain.w2v.shared import DIVERGED, FAILED, FINISHED, PAUSED, SharedState
from gputrain.w2v.worker import Plan, single_thread_env, train_shard, worker_main


class CpuEngine:
    name = "cpu"
    device = CPU

    def __init__(self, threads: int, cache_dir, hs: bool = False):
        self.n_workers = threads
        self.cache_dir = cache_dir
        self.hs = hs  # a third table, w_hs (hierarchical softmax)

    def new_state(self, n_words: int, dim: int, n_slots: int) -> SharedState:
        if self.n_workers > 1:
            return SharedState.create_shared(n_words, dim, self.n_workers, n_slots, self.hs)
        return SharedState.local(n_words, dim, 1, n_slots, hs=self.hs)

    def run(self, state: SharedState, corpus, plan: Plan, monitor) -> bool:
        if self.n_workers == 1:
            return train_shard(state, corpus, plan, 0, monitor.boundary, monitor.tick)
        return _run_processes(state, plan, self.cache_dir, monitor)


@contextmanager
def _patched_env(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_processes(state: SharedState, plan: Plan, cache_dir, monitor) -> bool:
    """Spawn one process per shard and watch them; False if stopped by a signal."""
    # fork: workers start at once, share the loaded corpus, and need no importable
    # __main__; spawn where fork does not exist. Forked workers inherit the mappings, so
    # the shared files are unlinked at once: a trainer killed by SIGKILL leaks no RAM.
    fork = "fork" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    if fork:
        state.release()
        from gputrain.w2v.window_step import compile_steps

        compile_steps()  # once (numba), inherited by the workers
    procs = []
    lock = ctx.Lock()
    with _patched_env(single_thread_env()):
        for w in range(state.n_workers):
            p = ctx.Process(target=worker_main, daemon=True, name=f"gputrain-w2v-{w}",
                            args=(state if fork else state.spec, str(cache_dir), plan, w, lock))
            p.start()
            procs.append(p)

    def check_health():
        for w, p in enumerate(procs):
            if state.status[w] == DIVERGED:
                raise GputrainError(f"training diverged (the loss is no longer finite) in worker "
                                    f"{w}; lower --alpha, or use fewer --threads")
            if state.status[w] == FAILED or (p.exitcode not in (None, 0)):
                raise GputrainError(f"word2vec worker {w} failed (exit code {p.exitcode})")

    def all_finished():
        return all(state.status[w] == FINISHED for w in range(state.n_workers))

    try:
        while not all_finished():
            time.sleep(0.1 if monitor.pause_poll is None else monitor.pause_poll)
            check_health()
            monitor.tick()
            if monitor.pause_due():  # a checkpoint, a stop, or (ranks) the round's merge
                state.set_pause(True)
                while not all(state.status[w] in (PAUSED, FINISHED)
                              for w in range(state.n_workers)):
                    time.sleep(0.005)
                    check_health()
                if not monitor.boundary():
                    state.set_stop()
                    state.set_pause(False)
                    return False
                state.set_pause(False)
        return True
    finally:
        state.set_stop()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join()
