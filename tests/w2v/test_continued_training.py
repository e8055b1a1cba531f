"""Continued training on new text: --save-model, then --from-model on another corpus."""

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from gputrain.cli import main
from gputrain.errors import GputrainError
from gputrain.vectors.keyedvectors import KeyedVectors
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.model import TrainableModel, continued_tables, updated_vocab
from gputrain.w2v.trainer import train

_spec = importlib.util.spec_from_file_location(
    "train_runs", Path(__file__).with_name("test_train_runs.py"))
runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runs)


def topics_corpus(path, topics, sentences=1500, seed=0):
    """Sentences of 8 words from one of ``topics`` (lists of words) plus 2 fillers."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(sentences):
        words = list(rng.choice(topics[rng.integers(len(topics))], 8))
        words += list(rng.choice(["the", "of", "and"], 2))
        rng.shuffle(words)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


A = [f"a{i}" for i in range(12)]
B = [f"b{i}" for i in range(12)]
C = [f"c{i}" for i in range(12)]


def _model(result, cfg) -> TrainableModel:
    return TrainableModel(result.words, result.counts, *result.tables, cfg.to_dict())


def _nearest(result, word):
    kv = KeyedVectors(result.words, result.vectors)
    return {w for w, _ in kv.most_similar(word, topn=3)}


def test_vocabulary_grows_counts_add_and_rows_travel_with_their_words():
    model = TrainableModel(["x", "y", "z"], np.array([9, 5, 2]),
                           np.arange(6, dtype=np.float32).reshape(3, 2),
                           np.ones((3, 2), np.float32), None, {})
    vocab = updated_vocab(model, Counter({"y": 7, "new": 4, "rare": 1}), min_count=3,
                          raw_tokens=12)
    assert vocab.words == ["y", "x", "new", "z"]  # by summed count: 12, 9, 4, 2
    assert vocab.counts.tolist() == [12, 9, 4, 2] and vocab.raw_tokens == 12
    fresh = np.full((4, 2), 0.5, np.float32)
    w_in, w_out, w_hs = continued_tables(model, vocab.words, fresh, hs=False)
    np.testing.assert_array_equal(w_in, [[2, 3], [0, 1], [0.5, 0.5], [4, 5]])
    np.testing.assert_array_equal(w_out, [[1, 1], [1, 1], [0, 0], [1, 1]])
    assert w_hs is None
    with pytest.raises(GputrainError, match="--dim 3 differs from the model's vector size 2"):
        continued_tables(model, vocab.words, np.zeros((4, 3), np.float32), hs=False)


@pytest.mark.parametrize("hs", [False, True])
def test_old_words_keep_their_neighbours_and_new_words_get_sensible_ones(tmp_path, hs):
    cfg = runs.cfg(epochs=3, hs=hs, negative=0 if hs else 5)
    first = train(topics_corpus(tmp_path / "ab.txt", [A, B]), cfg, tmp_path / "ck1",
                  keep_tables=True)
    model = _model(first, cfg)
    model.save(tmp_path / "m.npz")
    model = TrainableModel.load(tmp_path / "m.npz")
    new_text = topics_corpus(tmp_path / "ac.txt", [A, C], sentences=600, seed=1)
    short = runs.cfg(epochs=1, hs=hs, negative=0 if hs else 5)
    second = train(new_text, short, tmp_path / "ck2", init_model=model, keep_tables=True)
    assert set(second.words) == set(first.words) | set(C)
    counts = dict(zip(second.words, second.counts.tolist(), strict=True))
    before = dict(zip(first.words, first.counts.tolist(), strict=True))
    assert counts["b0"] == before["b0"] and counts["a0"] > before["a0"]
    assert list(second.counts) == sorted(second.counts, reverse=True)
    assert runs.same_topic_rate(second) > 0.95  # a, b and c words: nearest is same-topic
    kept = np.mean([len(_nearest(first, w) & _nearest(second, w)) / 3 for w in A + B])
    assert kept > 0.5, kept  # the old neighbourhoods survive a short update
    for w in C:
        assert _nearest(second, w) <= set(C), (w, _nearest(second, w))


def test_cli_save_model_then_from_model_takes_its_settings(tmp_path, capsys):
    ab = topics_corpus(tmp_path / "ab.txt", [A, B], sentences=400)
    ac = topics_corpus(tmp_path / "ac.txt", [A, C], sentences=200, seed=1)
    common = ["--window", "3", "--min-count", "2", "--sample", "0", "--quiet", "--threads", "1"]

    def run(*args):
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in args])
            sys.exit(0)
        return info.value.code, capsys.readouterr().err

    code, err = run("w2v", ab, "-o", tmp_path / "v1.bin", "--dim", "12", "--hs",
                    "--save-model", tmp_path / "m.npz", *common)
    assert code == 0, err
    code, err = run("w2v", ac, "-o", tmp_path / "v2.bin", "--from-model", tmp_path / "m.npz",
                    "--save-model", tmp_path / "m.npz", "--epochs", "1", *common)
    assert code == 0, err
    kv = KeyedVectors.load(tmp_path / "v2.bin")
    assert kv.vector_size == 12 and set(C) <= set(kv.words) and "b0" in kv
    model = TrainableModel.load(tmp_path / "m.npz")
    assert model.config["hs"] and model.w_hs is not None and len(model.words) == len(kv)
    code, err = run("w2v", ac, "-o", tmp_path / "v3.bin", "--from-model", tmp_path / "m.npz",
                    "--dim", "20", *common)
    assert code == 2 and "--dim 20 differs from the model's vector size 12" in err
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    code, err = run("w2v", ac, "-o", tmp_path / "v4.bin", "--from-model", tmp_path / "junk.npz",
                    *common)
    assert code == 2 and "is not a model saved by gputrain w2v --save-model" in err


def test_cbow_learning_rate_defaults_to_word2vec_c_s_also_when_continuing(tmp_path, capsys):
    """--alpha left out: 0.05 for CBOW, 0.025 for skip-gram (word2vec.c), also for a run
    that takes CBOW from its base model; a given --alpha always wins."""
    assert Word2VecConfig().alpha == 0.025 and Word2VecConfig(cbow=True).alpha == 0.05
    assert Word2VecConfig(cbow=True, alpha=0.01).alpha == 0.01
    corpus = topics_corpus(tmp_path / "ab.txt", [A, B], sentences=100)
    common = ["--dim", "8", "--min-count", "2", "--epochs", "1", "--quiet", "--threads", "1"]

    def alpha_of(name, *args):
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in ("w2v", corpus, "-o", tmp_path / f"{name}.bin",
                                   "--save-model", tmp_path / f"{name}.npz", *common, *args)])
            sys.exit(0)
        assert info.value.code == 0, capsys.readouterr().err
        config = TrainableModel.load(tmp_path / f"{name}.npz").config
        return config["alpha"], config["cbow"]

    assert alpha_of("sg") == (0.025, False)
    assert alpha_of("cbow", "--cbow") == (0.05, True)
    assert alpha_of("more", "--from-model", tmp_path / "sg.npz", "--cbow") == (0.05, True)
    assert alpha_of("again", "--from-model", tmp_path / "cbow.npz") == (0.05, True)
    assert alpha_of("given", "--from-model", tmp_path / "cbow.npz", "--alpha", "0.01") == \
        (0.01, True)
