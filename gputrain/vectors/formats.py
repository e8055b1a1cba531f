"""Vector files: word2vec binary, word2vec text and Parquet, read and written.

This module picks the format (from the content when reading, from the suffix when
writing) and hands over to ``word2vec_binary``, ``word2vec_text`` or ``parquet``.
Readers return ``(words, vectors, counts)`` with ``vectors`` a NumPy float32 matrix and
``counts`` an int64 array or None. A truncated or malformed file raises
:class:`~gputrain.errors.GputrainError` naming the file and where (line, byte offset, word
index). Words that are not valid UTF-8 are decoded with replacement characters.
Writers go through :mod:`gputrain.atomicfile`, so a half-written file never appears.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from gputrain.errors import GputrainError
from gputrain.vectors.parquet import read_parquet, write_parquet
from gputrain.vectors.word2vec_binary import read_word2vec_binary, write_word2vec_binary
from gputrain.vectors.word2vec_common import MAX_WORD_BYTES, open_maybe_gzip, parse_header
from gputrain.vectors.word2vec_text import (
    headerless_dim,
    read_word2vec_text,
    write_word2vec_text,
)

FORMATS = ("bin", "txt", "parquet")
_SUFFIXES = {".bin": "bin", ".txt": "txt", ".vec": "txt", ".parquet": "parquet", ".pq": "parquet"}


def format_from_suffix(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format to write: ``fmt`` if given, else from the suffix (default binary).

    Raises for a name no writer supports (``.gz``), so a trainer can check its output
    path before it starts rather than after hours of training."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gz":
        raise GputrainError(f"{path}: writing compressed vector files is not supported")
    if fmt is not None:
        if fmt not in FORMATS:
            raise GputrainError(f"unknown vector format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt
    if suffix and suffix not in _SUFFIXES:  # no suffix at all: word2vec binary
        raise GputrainError(f"{path}: no vector format is written as {suffix!r}; use one of "
                            f"{', '.join(_SUFFIXES)}")
    return _SUFFIXES.get(suffix, "bin")


def sniff_format(path: str | os.PathLike) -> str:
    """The format of an existing file, from its content (the suffix can lie)."""
    with open_maybe_gzip(path) as f:
        head = f.read(4)
        if head == b"PAR1":
            return "parquet"
        f.seek(0)
        header = f.readline(MAX_WORD_BYTES)
        try:
            dim = parse_header(header, path)[1]
        except GputrainError:
            if headerless_dim(header) is not None:
                return "txt"  # GloVe: text without a header
            raise
        first = f.readline(MAX_WORD_BYTES + 40 * dim)
    parts = first.split()
    if len(parts) == dim + 1:
        try:
            [float(p) for p in parts[1:]]
            return "txt"
        except ValueError:
            pass
    return "bin"


def read_vectors(path: str | os.PathLike, fmt: str | None = None, limit: int | None = None):
    """Read ``(words, vectors, counts)`` from a vector file of any supported format."""
    path = Path(path)
    if not path.exists():
        raise GputrainError(f"vector file not found: {path}")
    if path.is_dir():
        raise GputrainError(f"vector file is a directory: {path}")
    if path.stat().st_size == 0:
        raise GputrainError(f"{path}: vector file is empty")
    fmt = sniff_format(path) if fmt is None else format_from_suffix(path, fmt)
    if fmt == "parquet":
        words, vectors, counts = read_parquet(path)
    elif fmt == "txt":
        words, vectors = read_word2vec_text(path, limit)
        counts = None
    else:
        words, vectors = read_word2vec_binary(path, limit)
        counts = None
    if limit is not None:
        words, vectors = words[:limit], vectors[:limit]
        counts = None if counts is None else counts[:limit]
    return _drop_duplicates(words, vectors, counts, path)


def _drop_duplicates(words, vectors, counts, path):
    if len(set(words)) == len(words):
        return words, vectors, counts
    seen: set[str] = set()
    keep = []
    for i, w in enumerate(words):
        if w not in seen:
            seen.add(w)
            keep.append(i)
    warnings.warn(f"{path}: duplicate words; keeping the first vector of each", stacklevel=3)
    keep_idx = np.asarray(keep)
    return ([words[i] for i in keep], vectors[keep_idx],
            None if counts is None else counts[keep_idx])


def write_vectors(path, words, vectors, counts=None, fmt: str | None = None) -> str:
    """Write a vector file atomically; returns the format used."""
    fmt = format_from_suffix(path, fmt)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    for w in words:
        if not w or any(c.isspace() for c in w):
            raise GputrainError(f"cannot save word {w!r}: words must be non-empty, no whitespace")
    if fmt == "parquet":
        write_parquet(path, words, vectors, counts)
    elif fmt == "txt":
        write_word2vec_text(path, words, vectors)
    else:
        write_word2vec_binary(path, words, vectors)
    return fmt
