"""Stream a text corpus as tokens, in chunks of bytes (never whole lines).

A text8-style corpus is one 100 MB line, and a corpus may be larger than memory, so the
file is read in fixed-size byte chunks, decoded incrementally as UTF-8 (invalid bytes
become U+FFFD, with one warning), and split on whitespace. A token cut by a chunk boundary
is carried over to the next chunk. Newlines end sentences (context windows never cross
them) and a sentence is cut after :data:`MAX_SENTENCE_TOKENS` tokens. Gzip is recognised by
its magic bytes (whatever the name). A UTF-8 byte-order mark is dropped. A file that is
mostly not text is refused.

The corpus may be a stream: ``-`` (standard input), a FIFO or a process substitution
(``<(zcat big.gz)``). Training reads it once (the vocabulary and the id cache are built in
one pass, see :mod:`gputrain.w2v.encoded`); ``--max-vocab-size`` needs two passes and
therefore a file.
"""

from __future__ import annotations

import codecs
import gzip
import os
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gputrain.errors import GputrainError

MAX_SENTENCE_TOKENS = 10_000
STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
# Jane Austen's six novels (public domain), lowercase a-z, one line: demo and sanity test
SAMPLE_CORPUS = Path(__file__).resolve().parent.parent / "data" / "austen.txt.gz"
CHUNK_BYTES = 1 << 20
SNIFF_BYTES = 64 << 10
MAX_BINARY_FRACTION = 0.30  # of the first 64 KiB: control bytes + invalid UTF-8 sequences
MAX_NUL_FRACTION = 0.01  # NUL bytes: binary data or UTF-16, never UTF-8 text

_TEXT_CONTROLS = set(b"\t\n\r\f\v\x1b")


@dataclass
class TokenChunk:
    """Tokens of one chunk; ``ends`` are the indices *after* which a sentence ends."""

    tokens: list[str]
    ends: list[int]


def check_corpus_file(path: str | os.PathLike) -> Path:
    """The corpus path, or a one-line error if it is missing, a directory or empty."""
    p = Path(path)
    if str(path) == STDIN:
        return p
    if not p.exists():
        raise GputrainError(f"corpus not found: {p}")
    if p.is_dir():
        raise GputrainError(f"corpus is a directory, not a file: {p}")
    if not is_stream(p) and p.stat().st_size == 0:  # a pipe's size says nothing
        raise GputrainError(f"corpus is empty: {p}")
    return p


def is_stream(path: str | os.PathLike) -> bool:
    """True for standard input, a FIFO, a pipe or a character device: read once, no size."""
    if str(path) == STDIN:
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def corpus_size(path) -> int | None:
    """Bytes in the corpus file as stored (compressed for gzip), None for a stream."""
    return None if is_stream(path) else Path(path).stat().st_size


def open_corpus(path: str | os.PathLike):
    """Open a corpus for binary reading (gzip when its first bytes say so), with clear
    errors; ``-`` is standard input."""
    p = check_corpus_file(path)
    if str(path) == STDIN:
        raw = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
    else:
        raw = open(p, "rb")  # noqa: SIM115
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


def _sniff(data: bytes, path) -> None:
    """Refuse a file whose first bytes are mostly not text."""
    if not data:
        return
    controls = sum(1 for b in data if b < 32 and b not in _TEXT_CONTROLS)
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    if (data.count(0) / len(data) > MAX_NUL_FRACTION
            or (controls + invalid) / len(data) > MAX_BINARY_FRACTION):
        raise GputrainError(f"corpus looks like a binary file, not UTF-8 text: {path}")


def iter_chunks(path: str | os.PathLike, lowercase: bool = False,
                chunk_bytes: int = CHUNK_BYTES,
                on_read: Callable[[int, int], None] | None = None) -> Iterator[TokenChunk]:
    """Yield the corpus as :class:`TokenChunk` s of roughly ``chunk_bytes`` bytes each.

    ``on_read(bytes, tokens)`` is called after every chunk read: the bytes of the file
    consumed so far (compressed bytes for gzip, as :func:`corpus_size` counts them) and the
    tokens of that chunk. It may raise to stop the read (a stop request)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")  # drops a BOM
    carry = ""  # a partial token (no whitespace seen after it yet)
    sentence_len = 0  # tokens in the current (unfinished) sentence
    warned = False
    seen_tokens = False
    consumed = 0  # bytes read, when the source cannot tell its position
    f, source = open_corpus(path)
    with source, f:
        first = True
        while True:
            try:
                raw = f.read(max(chunk_bytes, SNIFF_BYTES) if first else chunk_bytes)
            except (OSError, EOFError) as e:  # a truncated or corrupt .gz
                raise GputrainError(f"cannot read corpus {path}: {e}") from None
            consumed += len(raw)
            if first:
                _sniff(raw[:SNIFF_BYTES], path)
                first = False
            final = not raw
            text = carry + decoder.decode(raw, final=final)
            if not warned and "\ufffd" in text:
                warnings.warn(f"{path}: invalid UTF-8 replaced by U+FFFD", stacklevel=2)
                warned = True
            if final:
                carry = ""
            else:  # keep a token that may continue in the next chunk
                cut = len(text)
                while cut > 0 and not text[cut - 1].isspace():
                    cut -= 1
                if cut == 0 and len(text) < 64 * chunk_bytes:
                    carry = text
                    continue
                text, carry = text[:cut], text[cut:]
            if lowercase:
                text = text.lower()
            tokens: list[str] = []
            ends: list[int] = []
            lines = text.split("\n")
            for i, line in enumerate(lines):
                words = line.split()
                start = 0
                while start < len(words):
                    room = MAX_SENTENCE_TOKENS - sentence_len
                    piece = words[start:start + room]
                    tokens.extend(piece)
                    sentence_len += len(piece)
                    start += len(piece)
                    if sentence_len >= MAX_SENTENCE_TOKENS:
                        ends.append(len(tokens))
                        sentence_len = 0
                if i < len(lines) - 1 and sentence_len:
                    ends.append(len(tokens))
                    sentence_len = 0
            if final and sentence_len:
                ends.append(len(tokens))
                sentence_len = 0
            if tokens:
                seen_tokens = True
            if on_read is not None:
                on_read(_position(source, f, consumed), len(tokens))
            if tokens or ends:
                yield TokenChunk(tokens, ends)
            if final:
                break
    if not seen_tokens:
        raise GputrainError(f"corpus has no words (only whitespace): {path}")


def _position(source, f, consumed: int) -> int:
    if f is source:
        return consumed
    try:
        return source.tell()  # gzip: the compressed bytes consumed
    except OSError:  # a pipe
        return consumed


def corpus_fingerprint(path: str | os.PathLike) -> dict:
    """Size and modification time: enough to notice a changed corpus on ``--resume``.

    A stream has neither: a resumed run trains on the ids cached from its one reading."""
    if is_stream(path):
        return {"path": str(path), "stream": True}
    st = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
