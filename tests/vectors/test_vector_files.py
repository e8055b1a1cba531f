"""Vector files that are not what they seem: a header that disagrees with the lines, NaN or
inf values, a gensim vocabulary file or a pickled gensim model given as vectors. Each is one
line that says what and where, never a load of nonsense or a screen of binary garbage."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from gputrain.vectors.keyedvectors import KeyedVectors


def test_a_header_dimension_that_disagrees_with_the_lines_names_the_line(tmp_path, cli):
    path = tmp_path / "v.txt"
    path.write_text("3 5\nking 1 2 3 4\nqueen 1 2 3 4\nman 1 2 3 4\n")  # read as binary before
    line = cli.fails("neighbors", path, "king")
    assert line == (f"error: {path}: line 2: expected a word and 5 numbers (as the header "
                    "says), got 4")


@pytest.mark.parametrize("suffix", [".txt", ".bin", ".parquet"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_values_are_refused_naming_the_word(tmp_path, cli, suffix, bad):
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    vectors[2, 1] = bad
    path = tmp_path / f"v{suffix}"
    KeyedVectors(["a", "b", "c", "d"], vectors).save(path)
    line = cli.fails("neighbors", path, "a")
    where = {".txt": "line 4", ".bin": "word 3 of 4", ".parquet": "row 2"}[suffix]
    assert line == (f"error: {path}: {where}: word 'c' has {bad} in its vector; vectors must "
                    "be finite numbers")


def test_a_vocabulary_file_is_not_loaded_as_one_dimensional_vectors(tmp_path, cli):
    path = tmp_path / "vocab.txt"
    path.write_text("the 1061396\nof 593677\nand 416629\n")  # gensim's fvocab
    assert "looks like a vocabulary file" in cli.fails("neighbors", path, "the")


@pytest.mark.parametrize("what, write", [
    ("a Python pickle", lambda p: p.write_bytes(pickle.dumps({"wv": [1.0]}, protocol=4))),
    ("a NumPy array", lambda p: np.save(p, np.zeros(3))),
    ("a zip archive", lambda p: np.savez(p, a=np.zeros(3))),
])
def test_a_saved_gensim_model_says_what_it_is(tmp_path, cli, what, write):
    path = tmp_path / "model"
    write(path)
    path = next(tmp_path.iterdir())  # np.save appends .npy, np.savez .npz
    line = cli.fails("neighbors", path, "king")
    assert f"this is {what}" in line and "save_word2vec_format" in line
    assert line.isprintable()


def test_a_real_gensim_model_and_vocab_file(tmp_path, cli):
    models = pytest.importorskip("gensim.models")
    sentences = [["king", "queen", "man", "woman"]] * 20
    model = models.Word2Vec(sentences, vector_size=4, min_count=1, epochs=1, workers=1)
    model.save(str(tmp_path / "w2v.model"))
    assert "a Python pickle" in cli.fails("neighbors", tmp_path / "w2v.model", "king")
    model.wv.save_word2vec_format(str(tmp_path / "v.bin"), fvocab=str(tmp_path / "vocab.txt"),
                                  binary=True)
    assert "vocabulary file" in cli.fails("neighbors", tmp_path / "vocab.txt", "king")
    assert cli.run("neighbors", tmp_path / "v.bin", "king")[0] == 0


def test_binary_garbage_is_not_printed(tmp_path, cli):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 4)
    line = cli.fails("neighbors", path, "king")
    assert line.endswith("expected a word2vec header '<count> <dim>', got binary data")
