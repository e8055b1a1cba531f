"""The word2vec measurements of scripts/bench_gpu.py (the device engine).

- :func:`standin_run`: ``gputrain.w2v.trainer.train`` with the device engine on the GPU
  stand-in (tests/standin: the real kernel, emulated on the CPU) and its counters: kernel
  launches, synchronising calls and bytes each way, per million words trained.
- :func:`end_to_end`: ``gputrain w2v CORPUS --device gpu`` as a user runs it; words/s =
  raw corpus tokens x epochs / wall time of the command.
- :func:`kernel_at_launch_size`: the kernel alone (CUDA events) on the launches the trainer
  really makes for that corpus (the first epoch's), after one warm-up launch; both variants
  of the kernel (the default and the RING one, ``kernels.w2v_device_train(ring=True)``),
  alternately on fresh tables, and their ratio: the measurement that decides which one the
  device engine should launch (``device_engine.RING``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gputrain import backend
from gputrain.w2v.batches import keep_probabilities, negative_table
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.huffman import huffman_paths


def settings(epochs: int, cbow: bool) -> Word2VecConfig:
    """gputrain's defaults (dim 100, window 5, 5 negatives, sample 1e-3, min_count 5)."""
    return Word2VecConfig(epochs=epochs, cbow=cbow, engine="device")


def standin_run(corpus: str, epochs: int, out: str, cbow: bool = False, hs: bool = False) -> dict:
    import cupy  # the stand-in: bench_gpu.py put tests/standin first on sys.path

    from gputrain.vectors.keyedvectors import KeyedVectors
    from gputrain.w2v import device_engine
    from gputrain.w2v.trainer import train

    cfg = dataclasses.replace(settings(epochs, cbow), hs=hs)
    with tempfile.TemporaryDirectory() as tmp:
        cupy.standin.counters.reset()
        start = time.perf_counter()
        result = train(corpus, cfg, tmp, device=backend.resolve_device("gpu"))
        seconds = time.perf_counter() - start
        c = cupy.standin.counters.snapshot()
    KeyedVectors(result.words, result.vectors, result.counts).save(out)
    n_words, dim = result.vectors.shape
    table_bytes = (4 * n_words * dim + keep_probabilities(result.counts, cfg.sample).nbytes
                   + negative_table(result.counts, cfg.ns_exponent).nbytes)
    corpus_ids = int(result.words_trained) // epochs
    if hs:  # the Huffman paths (int32 points, float32 signs), uploaded once
        table_bytes += 8 * huffman_paths(result.counts).points.size
    per_m = 1e6 / result.words_trained
    return {"tokens": result.raw_tokens, "corpus_ids": corpus_ids, "epochs": epochs,
            "words_trained": int(result.words_trained), "cbow": cbow, "hs": hs,
            "streamed": c["h2d_pinned_bytes"] > 0,  # the ids went through pinned buffers
            "launches": c["launches"], "raw_launches": c["raw_launches"],
            "syncs": c["syncs"], "h2d_bytes": c["h2d_bytes"],
            "h2d_pinned_bytes": c["h2d_pinned_bytes"], "d2h_bytes": c["d2h_bytes"],
            "table_bytes": table_bytes,
            "launches_per_1m_words": round(c["launches"] * per_m, 2),
            "syncs_per_1m_words": round(c["syncs"] * per_m, 2),
            "h2d_bytes_per_token_beyond_tables":
                round((c["h2d_bytes"] - table_bytes) / corpus_ids, 3),
            "kernels": c["kernels"], "threads_per_block": device_engine.THREADS,
            "seconds": round(seconds, 1), "vectors": out}


def end_to_end(corpus: str, epochs: int, cbow: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        cmd = [sys.executable, "-m", "gputrain", "w2v", corpus, "-o", f"{tmp}/v.bin",
               "--device", "gpu", "--epochs", str(epochs), "--quiet", "--no-plot",
               "--events", str(events)] + (["--cbow"] if cbow else [])
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - start
        start_event = next(e for e in map(json.loads, events.read_text().splitlines())
                           if e.get("event") == "start")
    tokens = int(start_event["raw_tokens"])
    return {"command": " ".join(cmd[2:]), "tokens": tokens, "epochs": epochs, "wall_s": wall,
            "words_per_s": tokens * epochs / wall}


def _time_launch(cp, device, enc, plan, dim: int, ring: bool, repeats: int) -> dict:
    """One variant: fresh tables, one warm-up launch (compiles the kernel), then ``repeats``
    launches of the first epoch's first launch between two CUDA events."""
    from gputrain.w2v import device_engine
    from gputrain.w2v.shared import SharedState
    from gputrain.w2v.trainer import _initial_tables

    launcher = device_engine.Launcher(device, enc, plan, dim, ring=ring)
    state = SharedState.local(len(enc.vocab), dim, 1, plan.n_slices, xp=cp)
    state.w_in[...] = cp.asarray(_initial_tables(len(enc.vocab), dim, 1))
    last = min(plan.n_slices, launcher.per_launch)
    launcher.start(state, 0, 0, last)  # warm-up
    launcher.read()
    begin, end = cp.cuda.Event(), cp.cuda.Event()
    begin.record()
    for _ in range(repeats):
        launcher.start(state, 0, 0, last)
    end.record()
    end.synchronize()
    _, pairs = launcher.read()
    return {"launcher": launcher, "last": last, "sub": launcher.sub,
            "kernel_s": cp.cuda.get_elapsed_time(begin, end) / 1e3 / repeats,
            "pairs_per_launch": pairs / repeats}


def kernel_at_launch_size(corpus: str, cbow: bool = False, repeats: int = 3,
                          rounds: int = 2) -> dict:
    """The default kernel's figures, plus ``ring`` (the RING variant's sub, seconds and
    words/s) and ``ring_speedup`` (RING words/s over the default's, > 1: the ring is
    faster); each variant's best of ``rounds`` (default, ring, default, ring, ...)."""
    from gputrain.w2v import device_engine
    from gputrain.w2v.trainer import make_plan, prepare_corpus

    cp = backend.cupy_module()
    cfg = settings(1, cbow)
    device = backend.resolve_device("gpu")
    with tempfile.TemporaryDirectory() as tmp, device.activate():
        enc, _ = prepare_corpus(corpus, cfg, tmp, reuse=False)
        plan = make_plan(cfg, enc, 0)
        best: dict = {}
        for _ in range(rounds):
            for ring in (False, True):
                r = _time_launch(cp, device, enc, plan, cfg.vector_size, ring, repeats)
                if ring not in best or r["kernel_s"] < best[ring]["kernel_s"]:
                    best[ring] = r
    default, ringed = best[False], best[True]
    launcher = default["launcher"]
    lo, hi = plan.bounds(0)[0], plan.bounds(default["last"] - 1)[1]
    words_per_s = {ring: (hi - lo) / r["kernel_s"] for ring, r in best.items()}
    return {"launch_tokens": hi - lo, "launch_chunks": int(
                launcher.starts.searchsorted(hi) - launcher.starts.searchsorted(lo)),
            "threads_per_block": device_engine.THREADS, "sub": default["sub"], "cbow": cbow,
            "kernel_s": default["kernel_s"], "kernel_words_per_s": words_per_s[False],
            "pairs_per_launch": default["pairs_per_launch"],
            "ring": {"sub": ringed["sub"], "kernel_s": ringed["kernel_s"],
                     "kernel_words_per_s": words_per_s[True],
                     "pairs_per_launch": ringed["pairs_per_launch"]},
            "ring_speedup": words_per_s[True] / words_per_s[False]}
