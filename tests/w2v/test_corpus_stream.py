"""Streaming the corpus: chunks, sentences, decoding, refusing bad files."""

import gzip
import warnings

import pytest

from gputrain.errors import GputrainError
from gputrain.w2v import corpus as corpus_mod
from gputrain.w2v.corpus import iter_chunks


def read_all(path, **kw):
    tokens, sentences, current = [], [], []
    for chunk in iter_chunks(path, **kw):
        start = 0
        for end in chunk.ends:
            current.extend(chunk.tokens[start:end])
            sentences.append(current)
            current, start = [], end
        current.extend(chunk.tokens[start:])
        tokens.extend(chunk.tokens)
    assert not current, "every token belongs to an ended sentence"
    return tokens, sentences


TEXT = "the quick  brown fox\njumps over\n\n  the lazy dog  \nnaïve café déjà vu"


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 1 << 20])
def test_tiny_chunks_give_the_same_tokens_and_sentences(tmp_path, chunk_bytes):
    p = tmp_path / "c.txt"
    p.write_text(TEXT, encoding="utf-8")
    tokens, sentences = read_all(p, chunk_bytes=chunk_bytes)
    assert tokens == TEXT.split()
    assert sentences == [line.split() for line in TEXT.split("\n") if line.split()]


def test_a_long_line_is_cut_into_bounded_sentences(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "MAX_SENTENCE_TOKENS", 4)
    p = tmp_path / "line.txt"
    p.write_text(" ".join(f"w{i}" for i in range(10)) + "\na b", encoding="utf-8")
    _, sentences = read_all(p, chunk_bytes=5)
    assert [len(s) for s in sentences] == [4, 4, 2, 2]


def test_one_huge_line_streams_in_chunks(tmp_path):
    p = tmp_path / "text8.txt"
    p.write_text("abc def " * 50_000, encoding="utf-8")  # one 400 kB line
    sizes = [len(c.tokens) for c in iter_chunks(p, chunk_bytes=16 << 10)]
    assert len(sizes) > 5 and max(sizes) <= 16_500  # never the whole 100k-token line
    assert sum(sizes) == 100_000


def test_gzip_and_lowercase(tmp_path):
    p = tmp_path / "c.txt.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write("Hello World\nHELLO")
    tokens, sentences = read_all(p, lowercase=True)
    assert tokens == ["hello", "world", "hello"]
    assert len(sentences) == 2


def test_invalid_utf8_is_replaced_with_one_warning(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(("caf\xe9 " * 3).encode("latin-1") + b"plain words here " * 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens, _ = read_all(p, chunk_bytes=4)
    assert tokens[:3] == ["caf\ufffd"] * 3
    assert len(caught) == 1 and "invalid UTF-8" in str(caught[0].message)


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"", "empty"),
    (b"  \n\t \n", "no words"),
    (bytes(range(256)) * 40, "binary"),
])
def test_unusable_files_are_refused_with_one_line(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(GputrainError, match=message) as err:
        list(iter_chunks(p))
    assert "\n" not in str(err.value) and "bad.txt" in str(err.value)


def test_latin1_text_is_read_with_replacement_not_refused(tmp_path):
    p = tmp_path / "fr.txt"
    p.write_bytes(("le caf\xe9 na\xefve du r\xe9sum\xe9 et la " * 500).encode("latin-1"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens, _ = read_all(p)
    assert tokens[:3] == ["le", "caf\ufffd", "na\ufffdve"] and len(caught) == 1


def test_utf16_is_refused(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_text("hello world " * 100, encoding="utf-16")
    with pytest.raises(GputrainError, match="binary"):
        list(iter_chunks(p))
