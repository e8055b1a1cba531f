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


# files people give instead of vectors: (magic bytes, what it is, what to do)
_NOT_VECTORS = (
    (b"\x80\x02", "a Python pickle (a gensim model saved with .save()?)"),
    (b"\x80\x03", "a Python pickle (a gensim model saved with .save()?)"),
    (b"\x80\x04", "a Python pickle (a gensim model saved with .save()?)"),
    (b"\x80\x05", "a Python pickle (a gensim model saved with .save()?)"),
    (b"\x93NUMPY", "a NumPy array (.npy, as gensim stores a big model's tables)"),
    (b"PK\x03\x04", "a zip archive (.npz?)"),
)
_SAVE_HINT = ("not a vector file; in gensim write one with "
              "model.wv.save_word2vec_format('vectors.bin', binary=True)")


def sniff_format(path: str | os.PathLike) -> str:
    """The format of an existing file, from its content (the suffix can lie)."""
    with open_maybe_gzip(path) as f:
        head = f.read(8)
        if head[:4] == b"PAR1":
            return "parquet"
        for magic, what in _NOT_VECTORS:
            if head.startswith(magic):
                raise GputrainError(f"{path}: this is {what}, {_SAVE_HINT}")
        f.seek(0)
        header = f.readline(MAX_WORD_BYTES)
        try:
            dim = parse_header(header, path)[1]
        except GputrainError:
            if headerless_dim(header) is not None:
                return "txt"  # GloVe: text without a header
            raise
        first = f.readline(MAX_WORD_BYTES + 40 * dim)
    # a text line (even one whose numbers disagree with the header's dimension: the text
    # reader names that line) rather than a word and raw float32 bytes
    if headerless_dim(first) is not None:
        return "txt"
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
    _check_finite(words, vectors, path, fmt)
    return _drop_duplicates(words, vectors, counts, path)


def _check_finite(words, vectors, path, fmt: str) -> None:
    """Refuse NaN or infinite values (every query would answer ``nan``), naming the word.
    The text reader has already named the line; here binary and Parquet files."""
    finite = np.isfinite(vectors).all(axis=1)
    if finite.all():
        return
    r = int(np.flatnonzero(~finite)[0])
    bad = vectors[r][~np.isfinite(vectors[r])][0]
    where = f"row {r}" if fmt == "parquet" else f"word {r + 1} of {len(words)}"
    raise GputrainError(f"{path}: {where}: word {words[r]!r} has {bad} in its vector; "
                        "vectors must be finite numbers")


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
