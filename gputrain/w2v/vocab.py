"""Vocabulary: streaming word counts with bounded memory, ids sorted by frequency.

Counting follows gensim: while the count table holds more than ``max_vocab_size`` words,
every word with a count at or below a threshold is dropped and the threshold goes up by
one (so the counts of words pruned early are lower bounds). Then words below ``min_count``
are removed and the rest get ids 0..n-1 by decreasing count (ties: first seen first).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from gputrain.atomicfile import atomic_open
from gputrain.errors import GputrainError


@dataclass
class Vocab:
    words: list[str]
    counts: np.ndarray  # int64, decreasing
    raw_tokens: int = 0  # every token of the corpus, in the vocabulary or not
    pruned: int = 0  # words dropped by --max-vocab-size pruning
    index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not self.index:
            self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def retained_tokens(self) -> int:
        return int(self.counts.sum())

    def save(self, path) -> None:
        with atomic_open(path, "w", encoding="utf-8") as f:
            json.dump({"raw_tokens": self.raw_tokens, "pruned": self.pruned,
                       "words": self.words, "counts": self.counts.tolist()}, f)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return cls(d["words"], np.asarray(d["counts"], dtype=np.int64), d["raw_tokens"],
                   d["pruned"])


def _prune(counts: Counter, min_reduce: int) -> int:
    doomed = [w for w, c in counts.items() if c <= min_reduce]
    for w in doomed:
        del counts[w]
    return len(doomed)


def count_words(token_lists: Iterable[list[str]], max_vocab_size: int | None = None):
    """Count tokens; returns (Counter, raw token count, number of words pruned)."""
    counts: Counter = Counter()
    raw = 0
    pruned = 0
    min_reduce = 1
    for tokens in token_lists:
        counts.update(tokens)
        raw += len(tokens)
        while max_vocab_size and len(counts) > max_vocab_size:  # at most one chunk over
            pruned += _prune(counts, min_reduce)
            min_reduce += 1
    return counts, raw, pruned


def build_vocab(token_lists: Iterable[list[str]], min_count: int = 5,
                max_vocab_size: int | None = None, source: str = "corpus") -> Vocab:
    """Count the tokens and keep words with at least ``min_count`` occurrences."""
    counts, raw, pruned = count_words(token_lists, max_vocab_size)
    vocab = vocab_from_counts(list(counts), np.fromiter(counts.values(), np.int64, len(counts)),
                              min_count, raw, source)
    vocab.pruned = pruned
    return vocab


def vocab_from_counts(words: list[str], counts: np.ndarray, min_count: int, raw_tokens: int,
                      source: str = "corpus") -> Vocab:
    """Words (in first-seen order) with at least ``min_count``, sorted by count (stable)."""
    keep = np.flatnonzero(counts >= min_count)
    if len(keep) == 0:
        best = int(counts.max()) if len(counts) else 0
        raise GputrainError(
            f"no word in {source} occurs --min-count {min_count} times "
            f"(most frequent: {best}); lower --min-count or use a larger corpus")
    order = keep[np.argsort(-counts[keep], kind="stable")]
    return Vocab([words[i] for i in order], counts[order].astype(np.int64), raw_tokens)
