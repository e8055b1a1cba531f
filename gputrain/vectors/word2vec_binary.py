"""word2vec binary vectors: an ASCII header ``"<count> <dim>\\n"``, then per word the UTF-8
word, one space, ``dim`` little-endian float32 values, and (word2vec.c) or not (gensim) a
newline. Gzip-compressed files (``GoogleNews-vectors-negative300.bin.gz``) are read as they are.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

from gputrain.atomicfile import atomic_open
from gputrain.errors import GputrainError
from gputrain.vectors.word2vec_common import (
    MAX_WORD_BYTES,
    decode_words,
    is_gzip,
    open_maybe_gzip,
    parse_header,
)

_SKIP = frozenset(b" \n\r\t")


def read_word2vec_binary(path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """word2vec.c / gensim binary format, with or without a newline after each vector.

    The file is memory-mapped; each record costs one ``find`` for the space after the word
    and one memcpy of its ``4 * dim`` bytes into the result (no per-value Python work).
    """
    if is_gzip(path):
        with open_maybe_gzip(path) as f:
            header = f.readline()
            count, dim = parse_header(header, path)
            n = count if limit is None else min(count, limit)
            if limit is None:
                data = f.read()
            else:  # decompress only about what the first n records need
                data = f.read(n * (4 * dim + 64))
                try:
                    return _read_binary_records(data, 0, len(header), n, count, dim, limit,
                                                path)
                except GputrainError:  # longer words than guessed: read the rest
                    data += f.read()
        return _read_binary_records(data, 0, len(header), n, count, dim, limit, path)
    with open(path, "rb") as f:
        header = f.readline()
        count, dim = parse_header(header, path)
        n = count if limit is None else min(count, limit)
        if n == 0:
            return [], np.zeros((0, dim), np.float32)
        if os.fstat(f.fileno()).st_size <= len(header):
            raise GputrainError(f"{path}: truncated binary vector file: nothing after the header")
        # MAP_POPULATE (Linux) reads the file in ahead of the loop instead of page by page
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        with mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ) as buf:
            return _read_binary_records(buf, len(header), 0, n, count, dim, limit, path)


def _read_binary_records(buf, pos: int, base: int, n: int, count: int, dim: int, limit, path):
    """Parse ``n`` records from ``buf[pos:]``; ``base + offset`` is the offset in the file
    (of its uncompressed content) for messages."""
    rec = 4 * dim
    vectors = np.empty((n, dim), dtype="<f4")
    out = memoryview(vectors).cast("B")
    src = memoryview(buf)
    raw_words = []
    size = len(buf)
    try:
        for i in range(n):
            while buf[pos] in _SKIP:  # the newline word2vec.c writes after each vector
                pos += 1
            space = buf.find(b" ", pos, pos + MAX_WORD_BYTES)
            end = space + 1 + rec
            if space < 0 or end > size:
                break
            raw_words.append(buf[pos:space])
            out[i * rec : (i + 1) * rec] = src[space + 1 : end]
            pos = end
    except IndexError:  # ran off the end while skipping newlines
        pass
    finally:
        src.release()
    if len(raw_words) < n:
        i = len(raw_words)
        malformed = size - pos >= MAX_WORD_BYTES and buf.find(b" ", pos, size) >= 0
        raise GputrainError(
            f"{path}: {'malformed' if malformed else 'truncated'} binary vector file at word "
            f"{i} of {count} (byte offset {base + pos}): expected '<word> ' and {rec} bytes "
            "of floats"
        )
    if limit is None and buf[pos:].strip():
        raise GputrainError(
            f"{path}: unexpected data after the {count} words the header announces "
            f"(byte offset {base + pos})"
        )
    return decode_words(raw_words, path), vectors.astype(np.float32, copy=False)


def write_word2vec_binary(path, words, vectors) -> None:
    """word2vec.c layout: a newline after each vector (gensim and word2vec.c read it)."""
    n, dim = vectors.shape
    data = vectors.astype("<f4", copy=False)
    with atomic_open(path, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        for start in range(0, n, 65536):
            rows = data[start : start + 65536]
            parts = []
            for w, row in zip(words[start : start + 65536], rows, strict=True):
                parts.append(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
            f.write(b"".join(parts))
