"""Vector files: word2vec binary, word2vec text and Parquet, read and written.

word2vec binary: an ASCII header ``"<count> <dim>\\n"``, then per word the UTF-8 word, one
space, ``dim`` little-endian float32 values, and (word2vec.c) or not (gensim) a newline.
word2vec text: the same header, then one line per word: ``word v1 ... vdim`` (GloVe's
files, which have no header, are read too).
Parquet: columns ``word`` (string), ``count`` (int64, may be null) and ``vector``
(fixed-size list<float32>).

Readers return ``(words, vectors, counts)`` with ``vectors`` a NumPy float32 matrix and
``counts`` an int64 array or None. A truncated or malformed file raises
:class:`~gputrain.errors.GputrainError` naming the file and where (line, byte offset, word
index). Words that are not valid UTF-8 are decoded with replacement characters.
Gzip-compressed word2vec files (``GoogleNews-vectors-negative300.bin.gz``) are read as they
are. Writers go through :mod:`gputrain.atomicfile`, so a half-written file never appears.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import mmap
import os
import warnings
import zlib
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_open, atomic_path
from gputrain.errors import GputrainError

FORMATS = ("bin", "txt", "parquet")
_SUFFIXES = {".bin": "bin", ".txt": "txt", ".vec": "txt", ".parquet": "parquet", ".pq": "parquet"}
_MAX_WORD_BYTES = 10_000  # a "word" longer than this means the layout is not what we think
_TEXT_CHUNK_LINES = 20_000
_SKIP = frozenset(b" \n\r\t")


def format_from_suffix(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format to write: ``fmt`` if given, else from the suffix (default binary).

    Raises for a name no writer supports (``.gz``), so a trainer can check its output
    path before it starts rather than after hours of training."""
    if Path(path).suffix.lower() == ".gz":
        raise GputrainError(f"{path}: writing compressed vector files is not supported")
    if fmt is not None:
        if fmt not in FORMATS:
            raise GputrainError(f"unknown vector format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt
    return _SUFFIXES.get(Path(path).suffix.lower(), "bin")


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


@contextlib.contextmanager
def _open_maybe_gzip(path):
    """``open(path, "rb")``, through gzip when the file is gzip-compressed; a damaged
    archive becomes a GputrainError."""
    try:
        with (gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as f:
            yield f
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise GputrainError(f"{path}: damaged gzip file ({e})") from None


def sniff_format(path: str | os.PathLike) -> str:
    """The format of an existing file, from its content (the suffix can lie)."""
    with _open_maybe_gzip(path) as f:
        head = f.read(4)
        if head == b"PAR1":
            return "parquet"
        f.seek(0)
        header = f.readline(_MAX_WORD_BYTES)
        try:
            dim = _parse_header(header, path)[1]
        except GputrainError:
            if _headerless_dim(header) is not None:
                return "txt"  # GloVe: text without a header
            raise
        first = f.readline(_MAX_WORD_BYTES + 40 * dim)
    parts = first.split()
    if len(parts) == dim + 1:
        try:
            [float(p) for p in parts[1:]]
            return "txt"
        except ValueError:
            pass
    return "bin"


# ---------------------------------------------------------------------------------------
# reading


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


def _parse_header(line: bytes, path) -> tuple[int, int]:
    parts = line.split()
    try:
        count, dim = int(parts[0]), int(parts[1])
        if len(parts) != 2 or count < 0 or dim < 1:
            raise ValueError
    except (ValueError, IndexError):
        shown = line[:60].decode("utf-8", "replace").strip()
        raise GputrainError(
            f"{path}: line 1: expected a word2vec header '<count> <dim>', got {shown!r}"
        ) from None
    return count, dim


def read_word2vec_binary(path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """word2vec.c / gensim binary format, with or without a newline after each vector.

    The file is memory-mapped; each record costs one ``find`` for the space after the word
    and one memcpy of its ``4 * dim`` bytes into the result (no per-value Python work).
    """
    if _is_gzip(path):
        with _open_maybe_gzip(path) as f:
            header = f.readline()
            count, dim = _parse_header(header, path)
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
        count, dim = _parse_header(header, path)
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
            space = buf.find(b" ", pos, pos + _MAX_WORD_BYTES)
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
        malformed = size - pos >= _MAX_WORD_BYTES and buf.find(b" ", pos, size) >= 0
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
    return _decode_words(raw_words, path), vectors.astype(np.float32, copy=False)


def read_word2vec_text(path, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """word2vec text format: a ``count dim`` header, then ``word v1 ... vdim`` per line.
    Headerless files (GloVe's) are read to the end, the dimension from the first line."""
    with _open_maybe_gzip(path) as f:
        first = f.readline()
        try:
            count, dim = _parse_header(first, path)
            pending, line_no = [], 1
        except GputrainError:
            dim = _headerless_dim(first)
            if dim is None:
                raise
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
            _parse_text_chunk(lines, numbers, dim, chunks[-1], raw_words, path)
        if limit is None and count is not None:
            for line in lines_in:
                line_no += 1
                if line.strip():
                    raise GputrainError(
                        f"{path}: line {line_no}: more lines than the {count} words the "
                        "header announces"
                    )
    if len(chunks) == 1:
        return _decode_words(raw_words, path), chunks[0]
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    return _decode_words(raw_words, path), vectors


def _headerless_dim(line: bytes) -> int | None:
    """The dimension if ``line`` looks like ``word v1 ... vdim`` (a GloVe file), else None."""
    parts = line.split()
    if len(parts) < 2:
        return None
    try:
        [float(p) for p in parts[1:]]
    except ValueError:
        return None
    return len(parts) - 1


def _parse_text_chunk(lines, numbers, dim, out, raw_words, path):
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
                    f"{path}: line {numbers[k]}: expected a word and {dim} numbers, "
                    f"got {got}"
                )
        raise GputrainError(f"{path}: lines {numbers[0]}-{numbers[-1]}: malformed numbers")
    out[:] = flat.reshape(len(lines), dim)
    raw_words.extend(words)


def _decode_words(raw_words: list[bytes], path) -> list[str]:
    try:
        words = b"\n".join(raw_words).decode("utf-8").split("\n")  # one decode, not n
        if len(words) == len(raw_words):  # (a word with a newline inside: decode each)
            return words
        return [w.decode("utf-8") for w in raw_words]
    except UnicodeDecodeError:
        warnings.warn(
            f"{path}: some words are not valid UTF-8; decoded with replacement characters",
            stacklevel=3,
        )
        return [w.decode("utf-8", "replace") for w in raw_words]


def read_parquet(path) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise GputrainError(f"{path}: not a readable Parquet file ({e})") from None
    missing = {"word", "vector"} - set(table.column_names)
    if missing:
        raise GputrainError(
            f"{path}: Parquet vector file lacks column(s) {', '.join(sorted(missing))} "
            f"(has {', '.join(table.column_names)})"
        )
    words = [str(w) for w in table.column("word").to_pylist()]
    column = table.column("vector").combine_chunks()
    if column.null_count:
        raise GputrainError(f"{path}: column 'vector' has nulls")
    if pa.types.is_fixed_size_list(column.type):
        dim = column.type.list_size
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = np.diff(np.asarray(column.offsets))
        if len(lengths) and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise GputrainError(f"{path}: row {bad}: vector length differs from row 0")
        dim = int(lengths[0]) if len(lengths) else 0
        column = column.flatten()
    else:
        raise GputrainError(f"{path}: column 'vector' must be a list of floats, not {column.type}")
    values = column.flatten() if pa.types.is_fixed_size_list(column.type) else column
    vectors = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)
    vectors = vectors.reshape(len(words), dim) if len(words) else np.zeros((0, dim), np.float32)
    counts = None
    if "count" in table.column_names and table.column("count").null_count == 0:
        counts = np.asarray(table.column("count").to_numpy(), dtype=np.int64)
    return words, vectors, counts


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


# ---------------------------------------------------------------------------------------
# writing


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


def write_parquet(path, words, vectors, counts=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, dim = vectors.shape
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    count_col = pa.array(
        [None] * n if counts is None else np.asarray(counts, dtype=np.int64), type=pa.int64()
    )
    table = pa.table({
        "word": pa.array(list(words), type=pa.string()),
        "count": count_col,
        "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
    })
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
