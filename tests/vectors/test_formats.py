"""Vector files: round trips, files written by gensim / word2vec.c, and bad files."""

import gzip
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gputrain.errors import GputrainError
from gputrain.vectors import formats
from gputrain.vectors.keyedvectors import KeyedVectors


@pytest.fixture
def gensim_kv():
    return pytest.importorskip("gensim.models.keyedvectors")


@pytest.fixture
def kv():
    rng = np.random.default_rng(3)
    words = ["the", "of", "naïve", "日本", "x" * 40] + [f"w{i}" for i in range(95)]
    vectors = rng.standard_normal((100, 7)).astype(np.float32)
    vectors[3] = [1e-30, -3.4e38, 0.1, 1 / 3, 0.0, -0.0, 12345.678]  # awkward floats
    return KeyedVectors(words, vectors, counts=np.arange(1000, 900, -1))


@pytest.mark.parametrize("suffix", [".bin", ".txt", ".parquet"])
def test_round_trip_is_exact(tmp_path, kv, suffix):
    path = tmp_path / f"vectors{suffix}"
    kv.save(path)
    back = KeyedVectors.load(path)
    assert back.words == kv.words
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    if suffix == ".parquet":  # only Parquet keeps the counts
        np.testing.assert_array_equal(back.counts, kv.counts)
    else:
        assert back.counts is None
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_format_comes_from_suffix_or_argument_and_load_sniffs_content(tmp_path, kv):
    odd = tmp_path / "vectors.data"
    with pytest.raises(GputrainError, match="no vector format is written as '.data'"):
        kv.save(odd)  # an unknown suffix is refused, not written as binary
    assert kv.save(tmp_path / "vectors") == "bin"  # no suffix: binary, the default
    assert kv.save(odd, fmt="bin") == "bin"
    assert formats.sniff_format(odd) == "bin"
    assert kv.save(odd, fmt="txt") == "txt"
    assert formats.sniff_format(odd) == "txt"
    assert KeyedVectors.load(odd).words == kv.words
    kv.save(tmp_path / "v.parquet")
    assert formats.sniff_format(tmp_path / "v.parquet") == "parquet"
    with pytest.raises(GputrainError, match="unknown vector format"):
        kv.save(odd, fmt="hdf5")


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_reads_ours_and_we_read_gensims(tmp_path, kv, binary, gensim_kv):
    ours = tmp_path / ("ours.bin" if binary else "ours.txt")
    kv.save(ours)
    g = gensim_kv.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert list(g.index_to_key) == kv.words
    np.testing.assert_array_equal(g.vectors, kv.vectors)
    theirs = tmp_path / "theirs.w2v"  # gensim's binary has no newline after each vector
    g.save_word2vec_format(str(theirs), binary=binary)
    back = KeyedVectors.load(theirs)
    assert back.words == kv.words
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)


def _word2vec_c_binary(words, vectors, newline=True) -> bytes:
    """The layout word2vec.c's fwrite loop produces."""
    out = [f"{len(words)} {vectors.shape[1]}\n".encode()]
    for w, v in zip(words, vectors, strict=True):
        out.append(w + b" " + struct.pack(f"<{len(v)}f", *v) + (b"\n" if newline else b""))
    return b"".join(out)


@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_c_binary_with_and_without_newlines(tmp_path, newline):
    vectors = np.array([[10.0, 32.0], [13.0, 9.0], [0.5, -1.0]], np.float32)  # '\n' ' ' bytes
    path = tmp_path / "w2v.bin"
    path.write_bytes(_word2vec_c_binary([b"</s>", b"a", b"b"], vectors, newline))
    kv = KeyedVectors.load(path)
    assert kv.words == ["</s>", "a", "b"]
    np.testing.assert_array_equal(kv.vectors, vectors)


def test_word2vec_c_text_with_trailing_spaces(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("2 3\n</s> 0.001 -0.5 2e-3 \nking 1.000000 2.000000 3.000000 \n")
    kv = KeyedVectors.load(path)
    assert kv.words == ["</s>", "king"]
    np.testing.assert_allclose(kv.vectors, [[0.001, -0.5, 0.002], [1, 2, 3]])


@pytest.mark.parametrize("suffix", [".bin", ".txt"])
def test_gzip_compressed_files_are_read(tmp_path, kv, suffix):
    plain = tmp_path / f"v{suffix}"
    kv.save(plain)
    packed = tmp_path / f"v{suffix}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    back = KeyedVectors.load(packed)
    assert back.words == kv.words
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert KeyedVectors.load(packed, limit=3).words == kv.words[:3]
    packed.write_bytes(gzip.compress(plain.read_bytes())[:-20])  # cut inside the archive
    with pytest.raises(GputrainError, match="damaged gzip file"):
        KeyedVectors.load(packed)
    with pytest.raises(GputrainError, match="writing compressed vector files is not supported"):
        kv.save(tmp_path / "out.bin.gz")


def test_headerless_glove_text(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 0.1 0.2 0.3\n, -1 -2 -3\n\nof 4 5 6\n")
    kv = KeyedVectors.load(path)
    assert kv.words == ["the", ",", "of"]
    np.testing.assert_allclose(kv.vectors, [[0.1, 0.2, 0.3], [-1, -2, -3], [4, 5, 6]])
    assert KeyedVectors.load(path, limit=2).words == ["the", ","]
    path.write_text("the 0.1 0.2 0.3\nof 4 5\n")
    with pytest.raises(GputrainError, match=r"line 2: expected a word and 3 numbers \(as line 1 "
                                            r"has\), got 2"):
        KeyedVectors.load(path)


def test_non_utf8_word_is_decoded_with_replacement_and_warned(tmp_path):
    vectors = np.ones((2, 3), np.float32)
    path = tmp_path / "latin1.bin"
    path.write_bytes(_word2vec_c_binary(["café".encode("latin-1"), b"ok"], vectors))
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        kv = KeyedVectors.load(path)
    assert kv.words == ["caf\ufffd", "ok"]


def test_limit_reads_only_the_first_words(tmp_path, kv):
    for suffix in (".bin", ".txt", ".parquet"):
        kv.save(tmp_path / f"v{suffix}")
        small = KeyedVectors.load(tmp_path / f"v{suffix}", limit=10)
        assert small.words == kv.words[:10]
        np.testing.assert_array_equal(small.vectors, kv.vectors[:10])


def test_truncated_binary_names_word_and_byte_offset(tmp_path, kv):
    full = tmp_path / "v.bin"
    kv.save(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GputrainError, match=r"cut\.bin: truncated binary .* word 4\d of 100 "
                       r"\(byte offset \d+\)"):
        KeyedVectors.load(cut)
    cut.write_bytes(data[:-3])  # last vector short by 3 bytes
    with pytest.raises(GputrainError, match="truncated binary vector file at word 99 of 100"):
        KeyedVectors.load(cut)


def test_more_data_than_the_header_says_is_an_error(tmp_path, kv):
    path = tmp_path / "v.bin"
    kv.save(path)
    data = path.read_bytes().replace(b"100 7\n", b"90 7\n", 1)
    path.write_bytes(data)
    with pytest.raises(GputrainError, match="unexpected data after the 90 words"):
        KeyedVectors.load(path)


@pytest.mark.parametrize("content, message", [
    (b"", "vector file is empty"),
    (b"hello world\n", "line 1: expected a word2vec header"),
    (b"3\n", "line 1: expected a word2vec header"),
    (b"2 3\na 1 2 3\nb 1 2\n", r"line 3: expected a word and 3 numbers \(as the header says\), "
                               "got 2"),
    (b"2 3\na 1 2 3\nb 1 x 3\n", r"line 3: expected a word and 3 numbers \(as the header "
                                 r"says\), got a value that"),
    (b"3 2\na 1 2\nb 3 4\n", "truncated text vector file: the header announces 3 words, found 2"),
    (b"1 2\na 1 2\nb 3 4\n", "line 3: more lines than the 1 words"),
])
def test_malformed_files_say_where(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(GputrainError, match=message) as err:
        KeyedVectors.load(path)
    assert "bad.txt" in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(GputrainError, match="vector file not found"):
        KeyedVectors.load(tmp_path / "nope.bin")
    with pytest.raises(GputrainError, match="is a directory"):
        KeyedVectors.load(tmp_path)


def test_parquet_from_other_tools_variable_lists_and_missing_columns(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"word": ["a", "b"], "vector": [[1.0, 2.0], [3.0, 4.0]]}), path)
    kv = KeyedVectors.load(path)
    assert kv.words == ["a", "b"] and kv.counts is None
    np.testing.assert_array_equal(kv.vectors, [[1, 2], [3, 4]])
    pq.write_table(pa.table({"word": ["a", "b"], "vector": [[1.0, 2.0], [3.0]]}), path)
    with pytest.raises(GputrainError, match="row 1: vector length differs"):
        KeyedVectors.load(path)
    pq.write_table(pa.table({"token": ["a"], "vector": [[1.0]]}), path)
    with pytest.raises(GputrainError, match="lacks column.*word"):
        KeyedVectors.load(path)


def test_duplicate_words_in_a_file_keep_the_first(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("3 1\na 1\nb 2\na 3\n")
    with pytest.warns(UserWarning, match="duplicate words"):
        kv = KeyedVectors.load(path)
    assert kv.words == ["a", "b"] and kv.vectors[:, 0].tolist() == [1, 2]


def test_a_failed_save_keeps_the_old_file(tmp_path, kv):
    path = tmp_path / "v.bin"
    kv.save(path)
    before = path.read_bytes()
    bad = KeyedVectors(["ok", "has space"], np.zeros((2, 7), np.float32))
    with pytest.raises(GputrainError, match="cannot save word 'has space'"):
        bad.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.bin"]
