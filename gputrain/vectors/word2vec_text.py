"""word2vec text vectors: a ``<count> <dim>`` header, then ``word v1 ... vdim`` per line.
GloVe's files, which have no header, are read too; gzip-compressed files as they are."""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from gputrain.atomicfile import atomic_open
from gputrain.errors import GputrainError
from gputrain.vectors.word2vec_common import decode_words, open_maybe_gzip, parse_header

_TEXT_CHUNK_LINES = 20_000


def read_word2vec_text(path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """word2vec text format: a ``count dim`` header, then ``word v1 ... vdim`` per line.
    Headerless files (GloVe's) are read to the end, the dimension from the first line."""
    with open_maybe_gzip(path) as f:
        first = f.readline()
        try:
            count, dim = parse_header(first, path)
            pending, line_no = [], 1
        except GputrainError:
            dim = headerless_dim(first)
            if dim is None:
                raise
            if dim == 1:
                raise GputrainError(
                    f"{path}: every line is a word and one number: this looks like a "
                    "vocabulary file (word counts, as gensim's save_word2vec_format(fvocab=...) "
                    "writes), not vectors") from None
            count, pending, line_no = None, [first], 0
        n = count if limit is None else min(limit, count if count is not None else limit)
        lines_in = itertools.chain(pending, f)
        raw_words: list[bytes] = []
        chunks = []
        while n is None or len(raw_words) < n:
            want = _TEXT_CHUNK_LINES if n is None else min(_TEXT_CHUNK_LINES, n - len(raw_words))
            lines, numbers = [], []
            for line in lines_in:
                line_no += 1
                if line.strip():  # blank lines are skipped
                    lines.append(line)
                    numbers.append(line_no)
                    if len(lines) == want:
                        break
            if not lines:
                if n is None:
                    break
                raise GputrainError(
                    f"{path}: truncated text vector file: the header announces {count} words, "
                    f"found {len(raw_words)} (line {line_no + 1})"
                )
            chunks.append(np.empty((len(lines), dim), dtype=np.float32))
            _parse_text_chunk(lines, numbers, dim, chunks[-1], raw_words, path,
                              "as the header says" if count is not None else "as line 1 has")
        if limit is None and count is not None:
            for line in lines_in:
                line_no += 1
                if line.strip():
                    raise GputrainError(
                        f"{path}: line {line_no}: more lines than the {count} words the "
                        "header announces"
                    )
    if len(chunks) == 1:
        return decode_words(raw_words, path), chunks[0]
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    return decode_words(raw_words, path), vectors


def headerless_dim(line: bytes) -> int | None:
    """The dimension if ``line`` looks like ``word v1 ... vdim`` (a GloVe file), else None."""
    parts = line.split()
    if len(parts) < 2:
        return None
    try:
        [float(p) for p in parts[1:]]
    except ValueError:
        return None
    return len(parts) - 1


def _parse_text_chunk(lines, numbers, dim, out, raw_words, path, source: str):
    """Parse ``lines`` into ``out``; ``source`` says where ``dim`` came from (for errors)."""
    words, rests = [], []
    for line in lines:
        word, _, rest = line.strip().partition(b" ")
        words.append(word)
        rests.append(rest)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # reported below, with the line
            flat = np.fromstring(b" ".join(rests), dtype=np.float32, sep=" ")
    except ValueError:  # text that is not a number (numpy >= 2 raises, older ones warn)
        flat = np.zeros(0, np.float32)
    if flat.size != len(lines) * dim:
        for k, rest in enumerate(rests):  # find the first bad line
            try:
                values = [float(v) for v in rest.split()]
            except ValueError:
                values = None
            if values is None or len(values) != dim:
                got = "a value that is not a number" if values is None else f"{len(values)}"
                raise GputrainError(
                    f"{path}: line {numbers[k]}: expected a word and {dim} numbers "
                    f"({source}), got {got}"
                )
        raise GputrainError(f"{path}: lines {numbers[0]}-{numbers[-1]}: malformed numbers")
    out[:] = flat.reshape(len(lines), dim)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():  # NaN or inf: every query would answer nan
        k = int(np.flatnonzero(~finite)[0])
        bad = out[k][~np.isfinite(out[k])][0]
        word = words[k].decode("utf-8", "replace")
        raise GputrainError(f"{path}: line {numbers[k]}: word {word!r} has {bad} in its "
                            "vector; vectors must be finite numbers")
    raw_words.extend(words)


def write_word2vec_text(path, words, vectors) -> None:
    n, dim = vectors.shape
    row_format = " ".join(["%.9g"] * dim)  # 9 significant digits: float32 round-trips exactly
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{n} {dim}\n")
        for start in range(0, n, 8192):
            block = vectors[start : start + 8192].tolist()
            lines = [w + " " + row_format % tuple(row)
                     for w, row in zip(words[start : start + 8192], block, strict=True)]
            f.write("\n".join(lines) + "\n")
