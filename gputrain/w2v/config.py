"""Word2vec hyper-parameters (gensim's names) and their checks."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

from gputrain.errors import OptionError

VECTOR_CHOICES = ("input", "sum", "concat")
MAX_DEFAULT_THREADS = 16  # the default --threads: the cores, at most this many


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """The CPU cores (at most MAX_DEFAULT_THREADS); 1 for each rank under mpiexec."""
    from gputrain.distributed import launched_size

    if launched_size() > 1:
        return 1
    return max(1, min(available_cores(), MAX_DEFAULT_THREADS))
ENGINE_CHOICES = ("auto", "cpu", "device")
SG_ALPHA = 0.025  # the default initial learning rate of skip-gram (word2vec.c, gensim)
CBOW_ALPHA = 0.05  # and of CBOW (word2vec.c; gensim uses 0.025 for both)


@dataclass
class Word2VecConfig:
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    alpha: float | None = None  # None: CBOW_ALPHA with cbow (word2vec.c's), else SG_ALPHA
    min_alpha: float = 0.0001
    epochs: int = 5
    cbow: bool = False
    hs: bool = False  # hierarchical softmax (besides negative sampling when negative > 0)
    seed: int = 1
    threads: int = 1
    max_vocab_size: int | None = None
    lowercase: bool = False
    vectors: str = "input"  # which table(s) become the saved vectors
    batch_centres: int = 512  # the device engine's centres per minibatch (CPU: unused)
    slice_words: int = 100_000  # unit of work, randomness and checkpointing
    engine: str = "auto"  # see gputrain.w2v.engine.choose_engine
    sync_words: int = 10_000  # mpiexec ranks: words each rank trains between merges
    sync_rows: int = 4096  # mpiexec ranks: rows (most frequent words) merged every time

    def __post_init__(self):
        if self.alpha is None:
            self.alpha = CBOW_ALPHA if self.cbow else SG_ALPHA

    def validate(self) -> Word2VecConfig:
        """Raise an :class:`OptionError` carrying the field for any value out of range."""
        v = VECTOR_CHOICES
        checks = (  # (ok, field, message naming the CLI flag)
            (1 <= self.vector_size <= 10_000, "vector_size",
             f"--dim must be in 1..10000, got {self.vector_size}"),
            (1 <= self.window <= 100, "window", f"--window must be in 1..100, got {self.window}"),
            (0 <= self.negative <= 100, "negative",
             f"--negative must be in 0..100, got {self.negative}"),
            (self.negative > 0 or self.hs, "negative",
             "--negative 0 turns negative sampling off and needs --hs (hierarchical softmax)"),
            (self.negative > 0 or self.vectors == "input", "vectors",
             f"--vectors {self.vectors} uses the negative-sampling output table, which "
             "--negative 0 does not train"),
            (1 <= self.epochs <= 10_000, "epochs",
             f"--epochs must be in 1..10000, got {self.epochs}"),
            (self.min_count >= 1, "min_count",
             f"--min-count must be at least 1, got {self.min_count}"),
            (0 < self.alpha <= 10, "alpha", f"--alpha must be in (0, 10], got {self.alpha}"),
            (0 <= self.min_alpha <= self.alpha, "min_alpha",
             f"--min-alpha must be in [0, --alpha], got {self.min_alpha}"),
            (0 <= self.sample < 1, "sample", f"--sample must be in [0, 1), got {self.sample}"),
            (-10 <= self.ns_exponent <= 10, "ns_exponent",
             f"--ns-exponent must be in -10..10, got {self.ns_exponent}"),
            (1 <= self.threads <= 1024, "threads",
             f"--threads must be in 1..1024, got {self.threads}"),
            (self.max_vocab_size is None or self.max_vocab_size >= 1, "max_vocab_size",
             f"--max-vocab-size must be positive, got {self.max_vocab_size}"),
            (self.vectors in v, "vectors",
             f"--vectors must be one of {', '.join(v)}, got {self.vectors!r}"),
            (1 <= self.batch_centres <= 1 << 20, "batch_centres",
             f"--batch-size must be in 1..1048576, got {self.batch_centres}"),
            (self.engine in ENGINE_CHOICES, "engine",
             f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {self.engine!r}"),
            (self.sync_words >= 1, "sync_words",
             f"--sync-words must be positive, got {self.sync_words}"),
            (self.sync_rows >= 0, "sync_rows", f"--sync-rows must be >= 0, got {self.sync_rows}"),
            (self.slice_words >= 1, "slice_words",
             f"slice_words must be positive, got {self.slice_words}"),
        )
        for ok, field, message in checks:
            if not ok:
                raise OptionError(field, message)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Word2VecConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    # settings a checkpoint must agree with to be resumed
    RESUME_KEYS = ("vector_size", "window", "min_count", "negative", "ns_exponent", "sample",
                   "alpha", "min_alpha", "epochs", "cbow", "seed", "max_vocab_size",
                   "lowercase", "batch_centres", "hs")
