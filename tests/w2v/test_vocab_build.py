"""Vocabulary counting and pruning, and the int32 id cache."""

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.w2v.encoded import encode_corpus, open_cache
from gputrain.w2v.vocab import build_vocab, count_words


def test_ids_sorted_by_frequency_and_min_count():
    chunks = [["b", "a", "b", "c"], ["a", "b", "d", "c"], ["a", "b"]]
    v = build_vocab(chunks, min_count=2)
    assert v.words == ["b", "a", "c"]
    assert v.counts.tolist() == [4, 3, 2]
    assert v.raw_tokens == 10 and v.retained_tokens == 9
    assert v.index["c"] == 2


def test_pruning_bounds_memory_like_gensim():
    # each chunk adds fresh hapaxes; the table never grows past the bound for long
    chunks = [["common"] * 5 + [f"rare{i}_{j}" for j in range(50)] for i in range(20)]
    counts, raw, pruned = count_words(chunks, max_vocab_size=60)
    assert len(counts) <= 60
    assert counts["common"] == 100 and pruned > 0
    assert raw == 20 * 55


def test_no_word_reaching_min_count_is_a_clear_error():
    with pytest.raises(GputrainError, match="--min-count 5"):
        build_vocab([["a", "b", "a"]], min_count=5, source="tiny.txt")


def test_encoded_cache_drops_unknown_words_and_keeps_sentences(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b x a\nx x\nb a b a b\n", encoding="utf-8")
    vocab = build_vocab([corpus.read_text().split()], min_count=2)
    enc = encode_corpus(corpus, vocab, tmp_path / "cache", False, {"k": 1})
    words = [vocab.words[i] for i in enc.ids]
    assert words == "a b x a x x b a b a b".split()  # x has count 3
    vocab = build_vocab([corpus.read_text().split()], min_count=4)  # only a, b left
    enc = encode_corpus(corpus, vocab, tmp_path / "cache2", False, {"k": 1})
    assert [vocab.words[i] for i in enc.ids] == "a b a b a b a b".split()
    assert enc.ends.tolist() == [3, 8]  # the all-unknown line vanished
    assert isinstance(enc.ids, np.memmap) and enc.ids.dtype == np.int32
    assert enc.raw_tokens == 11


def test_cache_is_reused_only_with_the_same_settings(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a a b b\n", encoding="utf-8")
    vocab = build_vocab([["a", "a", "b", "b"]], min_count=1)
    encode_corpus(corpus, vocab, tmp_path / "cache", False, {"min_count": 1})
    assert open_cache(tmp_path / "cache", {"min_count": 1}) is not None
    assert open_cache(tmp_path / "cache", {"min_count": 2}) is None
    assert open_cache(tmp_path / "elsewhere") is None


@pytest.mark.parametrize("step", [3, 7, 1 << 22])
def test_one_pass_encoding_equals_count_then_encode(tmp_path, step):
    from gputrain.w2v.corpus import iter_chunks
    from gputrain.w2v.encoded import count_and_encode

    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(["a", "b", "c", "d", "e", "f", "g"], rng.integers(0, 9),
                                 p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.04, 0.01]))
             for _ in range(60)]
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    tokens = [t for c in iter_chunks(corpus, chunk_bytes=16) for t in c.tokens]
    two = encode_corpus(corpus, build_vocab([tokens], min_count=5), tmp_path / "two", False, {})
    one = count_and_encode(corpus, tmp_path / "one", False, 5, {}, step=step)
    assert one.vocab.words == two.vocab.words and "g" not in one.vocab.words
    np.testing.assert_array_equal(one.vocab.counts, two.vocab.counts)
    np.testing.assert_array_equal(one.ids, two.ids)
    np.testing.assert_array_equal(one.ends, two.ends)
    assert one.raw_tokens == two.raw_tokens == len(tokens)
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(
        p.name for p in (tmp_path / "two").iterdir())  # no scratch files left
