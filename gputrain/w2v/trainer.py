"""Train word2vec on a corpus file: vocabulary, id cache, workers, checkpoints, vectors.

:func:`train` is what ``gputrain w2v`` (and the service, through it) runs. It reports
through one callback, ``report(event, **fields)`` with the events of
:mod:`gputrain.events` (``start``, ``progress``, ``epoch``, ``checkpoint``, ``done``), and
polls ``stop.requested`` (a :class:`gputrain.stopping.GracefulStop`): when set, it writes
a checkpoint and returns with ``stopped=True``.

How the slices are trained is the engine's business (:mod:`gputrain.w2v.engine`): the CPU
engine (the window step, ``--threads`` worker processes) or the device engine (one kernel
launch per millions of tokens on a GPU; its NumPy twin on the CPU). Under ``mpiexec -n N``
each rank trains its share of the slices and the ranks merge their tables at the engine's
boundaries (:mod:`gputrain.w2v.ranks`); rank 0 alone reports and checkpoints.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gputrain import distributed
from gputrain.backend import CPU, Device, to_cpu, to_device
from gputrain.dirlock import release_if_empty
from gputrain.errors import GputrainError
from gputrain.w2v import checkpoint as ckpt
from gputrain.w2v.batches import keep_probabilities
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.corpus import (
    check_corpus_file,
    corpus_fingerprint,
    corpus_size,
    is_stream,
    iter_chunks,
)
from gputrain.w2v.encoded import (
    EncodedCorpus,
    count_and_encode,
    encode_corpus,
    open_cache,
    remove_cache,
)
from gputrain.w2v.engine import choose_engine
from gputrain.w2v.model import TrainableModel, continued_tables, updated_vocab
from gputrain.w2v.monitor import Monitor, ReadMonitor
from gputrain.w2v.ranks import RankSync, merge_words
from gputrain.w2v.shared import SharedState
from gputrain.w2v.vocab import build_vocab, count_words
from gputrain.w2v.worker import Plan


@dataclass
class TrainResult:
    words: list[str]
    counts: np.ndarray
    vectors: np.ndarray  # (n, dim) or (n, 2*dim) for concat, on the CPU
    stopped: bool  # True: stopped early by a signal, checkpoint written
    words_trained: float
    seconds: float
    history: np.ndarray  # (n, 3): words, mean loss per term, alpha
    raw_tokens: int
    stats: dict = field(default_factory=dict)
    tables: tuple | None = None  # (w_in, w_out, w_hs or None) on the CPU, with keep_tables


def prepare_corpus(corpus_path, cfg: Word2VecConfig, cache_dir, reuse: bool,
                   base: TrainableModel | None = None, report=None,
                   stop=None) -> tuple[EncodedCorpus, bool]:
    """The encoded corpus in ``cache_dir``: reused when ``reuse`` and it matches, else built.
    With ``base``, the vocabulary is the model's grown by this corpus (:mod:`.model`).
    ``reading`` events go through ``report``; a ``stop`` request raises StopRequested."""
    settings = {"corpus": corpus_fingerprint(corpus_path), "lowercase": cfg.lowercase,
                "min_count": cfg.min_count, "max_vocab_size": cfg.max_vocab_size,
                "base_model": None if base is None else base.fingerprint()}
    if reuse:
        cached = open_cache(cache_dir, settings)
        if cached is not None:
            return cached, True
    passes = 1 if cfg.max_vocab_size is None and base is None else 2
    if passes == 2 and is_stream(corpus_path):
        option = "--max-vocab-size" if base is None else "continuing a model"
        raise GputrainError(f"{option} reads the corpus twice, and {corpus_path} is a stream "
                            "that can be read once: save it to a file first")
    reading = ReadMonitor(report or (lambda event, **fields: None), stop,
                          corpus_size(corpus_path), passes)
    if base is not None:
        chunks = (c.tokens for c in iter_chunks(corpus_path, cfg.lowercase,
                                                on_read=reading.next_pass()))
        counted, raw, pruned = count_words(chunks, cfg.max_vocab_size)
        vocab = updated_vocab(base, counted, cfg.min_count, raw, pruned)
        return encode_corpus(corpus_path, vocab, cache_dir, cfg.lowercase, settings,
                             on_read=reading.next_pass()), False
    if passes == 1:  # one pass over the text
        return count_and_encode(corpus_path, cache_dir, cfg.lowercase, cfg.min_count, settings,
                                source=str(corpus_path), on_read=reading.next_pass()), False
    chunks = (c.tokens for c in iter_chunks(corpus_path, cfg.lowercase,
                                            on_read=reading.next_pass()))
    vocab = build_vocab(chunks, cfg.min_count, cfg.max_vocab_size, source=str(corpus_path))
    return encode_corpus(corpus_path, vocab, cache_dir, cfg.lowercase, settings,
                         on_read=reading.next_pass()), False


MAX_REPEATS = 8.0  # expected occurrences of the most frequent word per minibatch


def safe_batch_centres(counts: np.ndarray, sample: float, limit: int) -> int:
    """``limit`` lowered so the most frequent word (after subsampling) is expected at most
    :data:`MAX_REPEATS` times per minibatch of the device engine: a minibatch sums the
    updates of a repeated row, and on a small vocabulary those sums overshoot and diverge."""
    kept = keep_probabilities(counts, sample) * np.asarray(counts, dtype=np.float64)
    p_max = float(kept.max() / kept.sum())
    return int(max(16, min(limit, MAX_REPEATS / p_max)))


def make_plan(cfg: Word2VecConfig, corpus: EncodedCorpus, checkpoint_every: int,
              ranks: int = 1) -> Plan:
    n_ids = len(corpus)
    slice_words = min(cfg.slice_words, max(1000, -(-n_ids // (4 * cfg.threads * ranks))))
    if ranks > 1:  # the ranks merge their tables at slice boundaries
        slice_words = min(slice_words, merge_words(cfg.sync_words, n_ids, ranks))
    if checkpoint_every > 0:
        slice_words = max(1000, min(slice_words, checkpoint_every))
    batch = safe_batch_centres(corpus.vocab.counts, cfg.sample, cfg.batch_centres)
    return Plan(n_ids, slice_words, cfg.epochs, cfg.window, cfg.negative, cfg.ns_exponent,
                cfg.sample, cfg.alpha, cfg.min_alpha, cfg.cbow, cfg.seed, batch, cfg.hs)


def _check_resumable(meta: dict, cfg: Word2VecConfig, corpus_path, ckpt_dir) -> None:
    saved = meta.get("config", {})
    for key in Word2VecConfig.RESUME_KEYS:
        if saved.get(key, getattr(Word2VecConfig(), key)) != getattr(cfg, key):
            raise GputrainError(
                f"checkpoint in {ckpt_dir} was made with {key}={saved.get(key)!r}, not "
                f"{getattr(cfg, key)!r}; use the same settings or another --checkpoint-dir")
    fp = corpus_fingerprint(corpus_path)
    if meta.get("corpus") != fp:
        raise GputrainError(f"checkpoint in {ckpt_dir} is for another or a changed corpus "
                            f"({meta.get('corpus', {}).get('path')})")


def _initial_tables(n_words: int, dim: int, seed: int) -> np.ndarray:
    """word2vec's start: input rows uniform in +-0.5/dim, output rows zero."""
    rng = np.random.default_rng([seed, 0x77327631])
    return ((rng.random((n_words, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)


def train(corpus_path, cfg: Word2VecConfig, ckpt_dir, device: Device = CPU,
          checkpoint_every: int = 0, resume: bool = False,
          report: Callable[..., None] | None = None, stop=None,
          init_model: TrainableModel | None = None, keep_tables: bool = False) -> TrainResult:
    """Train ``cfg`` on ``corpus_path``; ``init_model``: continue that model's training
    (its vocabulary grown by this corpus, its rows kept: :mod:`gputrain.w2v.model`);
    ``keep_tables``: return every table in ``TrainResult.tables``."""
    cfg.validate()
    check_corpus_file(corpus_path)
    comm = distributed.world()
    device = comm.device(device)
    report = report if report and comm.is_root else (lambda event, **fields: None)
    ckpt_dir = Path(ckpt_dir)
    started = time.time()
    resumed = ckpt.load_checkpoint(ckpt_dir) if resume else None
    base_fp = None if init_model is None else init_model.fingerprint()
    if resumed is not None:
        _check_resumable(resumed.meta, cfg, corpus_path, ckpt_dir)
        if resumed.meta.get("base_model") != base_fp:
            raise GputrainError(f"checkpoint in {ckpt_dir} continues "
                                + ("no model" if base_fp is None else "another model")
                                + "; resume it with the same --from-model, or --restart")
    # ranks but 0 keep their encoded corpus to themselves (nodes need not share a disk)
    cache_dir = ckpt_dir if comm.is_root else Path(tempfile.mkdtemp(prefix="gputrain-w2v-"))
    try:
        return _train(corpus_path, cfg, ckpt_dir, cache_dir, device, checkpoint_every, resume,
                      report, stop, init_model, keep_tables, resumed, base_fp, started, comm)
    finally:
        if cache_dir != ckpt_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)


def _train(corpus_path, cfg, ckpt_dir, cache_dir, device, checkpoint_every, resume, report,
           stop, init_model, keep_tables, resumed, base_fp, started, comm) -> TrainResult:
    interrupting = getattr(stop, "interrupting", contextlib.nullcontext)
    with interrupting():  # nothing to checkpoint yet: a stop request ends the read at once
        corpus, _ = prepare_corpus(corpus_path, cfg, cache_dir,
                                   reuse=resume and comm.is_root, base=init_model,
                                   report=report, stop=stop)
    if resumed is not None and len(corpus.vocab) != resumed.meta.get("vocab_size"):
        raise GputrainError(f"checkpoint in {ckpt_dir} does not match the corpus vocabulary; "
                            "delete the directory to start over")
    if resumed is not None:
        slice_words = int(resumed.meta["slice_words"])
        plan = make_plan(cfg, corpus, 0, comm.size)
        plan = Plan(**{**plan.__dict__, "slice_words": slice_words})
    else:
        plan = make_plan(cfg, corpus, checkpoint_every, comm.size)
    n_words, dim = len(corpus.vocab), cfg.vector_size
    engine = choose_engine(cfg, device, cache_dir)
    with engine.device.activate():  # gpu:N: the tables live where the kernels will run
        state = engine.new_state(n_words, dim, plan.epochs * plan.n_slices)
    try:
        with engine.device.activate():  # everything on the device, on the engine's device
            if resumed is not None:
                state.w_in[...] = to_device(resumed.w_in, engine.device)
                state.w_out[...] = to_device(resumed.w_out, engine.device)
                if state.w_hs is not None:
                    state.w_hs[...] = to_device(resumed.w_hs, engine.device)
                state.done[...] = resumed.done
                state.claimed[...] = resumed.done
                state.base_words = resumed.words
            elif init_model is not None:
                tables = continued_tables(init_model, corpus.vocab.words,
                                          _initial_tables(n_words, dim, cfg.seed), cfg.hs)
                for table, values in zip((state.w_in, state.w_out, state.w_hs), tables,
                                         strict=True):
                    if table is not None:
                        table[...] = to_device(values, engine.device)
            else:
                state.w_in[...] = to_device(_initial_tables(n_words, dim, cfg.seed), engine.device)
            meta = {"config": cfg.to_dict(), "corpus": corpus_fingerprint(corpus_path),
                    "slice_words": plan.slice_words, "vocab_size": n_words,
                    "base_model": base_fp}
            monitor = Monitor(state, plan, ckpt_dir, meta, report, stop, checkpoint_every,
                              resumed)
            sync = None
            if comm.size > 1:  # the engine sees the ranks' merges behind monitor.boundary()
                sync = RankSync(comm, state, plan, monitor, cfg.sync_words, cfg.sync_rows)
                sync.check_same_vocab(corpus.vocab.words, corpus.vocab.counts)
            report("start", vocab_size=n_words, corpus_words=len(corpus),
                   raw_tokens=corpus.raw_tokens, total_words=plan.total_words,
                   epochs=plan.epochs, threads=engine.n_workers, ranks=comm.size,
                   device=str(engine.device),
                   engine=engine.name,
                   resumed_words=state.base_words, progress=monitor.progress())
            finished = engine.run(state, corpus, plan, sync or monitor)
            if finished and sync is not None:
                finished = sync.finish()
            if finished:
                monitor.finish()
            vectors = _output_vectors(state, cfg.vectors)
            tables = None
            if keep_tables:
                tables = tuple(None if t is None else np.array(to_cpu(t), dtype=np.float32)
                               for t in (state.w_in, state.w_out, state.w_hs))
            stats = monitor.stats() | ({"merges": sync.merges} if sync else {})
            return TrainResult(corpus.vocab.words, corpus.vocab.counts, vectors, not finished,
                               state.words_done(), time.time() - started, monitor.history_array(),
                               corpus.raw_tokens, stats, tables)
    finally:
        state.release()


def remove_run_files(ckpt_dir) -> None:
    """Delete the checkpoint and the corpus cache, and the directory if now empty."""
    ckpt_dir = Path(ckpt_dir)
    ckpt.checkpoint_path(ckpt_dir).unlink(missing_ok=True)
    remove_cache(ckpt_dir)
    release_if_empty(ckpt_dir)


def _output_vectors(state: SharedState, which: str) -> np.ndarray:
    w_in, w_out = to_cpu(state.w_in), to_cpu(state.w_out)
    if which == "sum":
        return np.asarray(w_in + w_out, dtype=np.float32)
    if which == "concat":
        return np.ascontiguousarray(np.hstack([w_in, w_out]), dtype=np.float32)
    return np.array(w_in, dtype=np.float32)
