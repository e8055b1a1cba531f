"""What the word2vec binary and text formats share: the ``<count> <dim>`` header, gzip
transparency, and decoding the words (UTF-8, replacement characters with one warning)."""

from __future__ import annotations

import contextlib
import gzip
import warnings
import zlib

from gputrain.errors import GputrainError

MAX_WORD_BYTES = 10_000  # a "word" longer than this means the layout is not what we think


def is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


@contextlib.contextmanager
def open_maybe_gzip(path):
    """``open(path, "rb")``, through gzip when the file is gzip-compressed; a damaged
    archive becomes a GputrainError."""
    try:
        with (gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")) as f:
            yield f
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise GputrainError(f"{path}: damaged gzip file ({e})") from None


def parse_header(line: bytes, path) -> tuple[int, int]:
    parts = line.split()
    try:
        count, dim = int(parts[0]), int(parts[1])
        if len(parts) != 2 or count < 0 or dim < 1:
            raise ValueError
    except (ValueError, IndexError):
        shown = line[:60].decode("utf-8", "replace").strip()
        if "\ufffd" in shown or any(c < " " and c not in "\t\r\n" for c in shown):
            shown = "binary data"  # not text: say so rather than print the bytes
        else:
            shown = repr(shown)
        raise GputrainError(
            f"{path}: line 1: expected a word2vec header '<count> <dim>', got {shown}"
        ) from None
    return count, dim


def decode_words(raw_words: list[bytes], path) -> list[str]:
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
