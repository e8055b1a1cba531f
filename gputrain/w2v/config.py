"""Word2vec hyper-parameters (gensim's names) and their checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from gputrain.errors import GputrainError

VECTOR_CHOICES = ("input", "sum", "concat")


@dataclass
class Word2VecConfig:
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 5
    cbow: bool = False
    seed: int = 1
    threads: int = 1
    max_vocab_size: int | None = None
    lowercase: bool = False
    vectors: str = "input"  # which table(s) become the saved vectors
    batch_centres: int = 512  # centre words per minibatch (about 6 context words each)
    slice_words: int = 100_000  # unit of work, randomness and checkpointing

    def validate(self) -> Word2VecConfig:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise GputrainError(what)

        need(1 <= self.vector_size <= 10_000, f"--dim must be in 1..10000, got {self.vector_size}")
        need(1 <= self.window <= 100, f"--window must be in 1..100, got {self.window}")
        need(1 <= self.negative <= 100, f"--negative must be in 1..100, got {self.negative}")
        need(1 <= self.epochs <= 10_000, f"--epochs must be in 1..10000, got {self.epochs}")
        need(self.min_count >= 1, f"--min-count must be at least 1, got {self.min_count}")
        need(0 < self.alpha <= 10, f"--alpha must be in (0, 10], got {self.alpha}")
        need(0 <= self.min_alpha <= self.alpha,
             f"--min-alpha must be in [0, --alpha], got {self.min_alpha}")
        need(0 <= self.sample < 1, f"--sample must be in [0, 1), got {self.sample}")
        need(-10 <= self.ns_exponent <= 10,
             f"--ns-exponent must be in -10..10, got {self.ns_exponent}")
        need(1 <= self.threads <= 1024, f"--threads must be in 1..1024, got {self.threads}")
        need(self.max_vocab_size is None or self.max_vocab_size >= 1,
             f"--max-vocab-size must be positive, got {self.max_vocab_size}")
        need(self.vectors in VECTOR_CHOICES,
             f"--vectors must be one of {', '.join(VECTOR_CHOICES)}, got {self.vectors!r}")
        need(1 <= self.batch_centres <= 1 << 20,
             f"--batch-size must be in 1..1048576, got {self.batch_centres}")
        need(self.slice_words >= 1, f"slice_words must be positive, got {self.slice_words}")
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
                   "lowercase", "batch_centres")
