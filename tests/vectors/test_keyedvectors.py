"""KeyedVectors queries give gensim's answers on the same vectors."""

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.vectors.keyedvectors import KeyedVectors

gensim_kv = pytest.importorskip("gensim.models.keyedvectors")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Our vectors and gensim's, loaded from the same file."""
    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(500)]
    vectors = rng.standard_normal((500, 16)).astype(np.float32)
    vectors *= rng.uniform(0.2, 3.0, size=(500, 1)).astype(np.float32)  # unequal norms
    path = tmp_path_factory.mktemp("kv") / "v.bin"
    KeyedVectors(words, vectors).save(path)
    return KeyedVectors.load(path), gensim_kv.KeyedVectors.load_word2vec_format(str(path),
                                                                             binary=True)


def _same(ours, theirs):
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=2e-6)


@pytest.mark.parametrize("positive, negative, restrict", [
    (["w1"], [], None),
    (["w1", "w2"], ["w3"], None),  # king - man + woman
    (["w7"], ["w8", "w9"], None),
    ([], ["w4"], None),
    (["w1", "w2"], ["w3"], 100),  # only the 100 first words are candidates
])
def test_most_similar_matches_gensim(pair, positive, negative, restrict):
    ours, theirs = pair
    _same(ours.most_similar(positive, negative, topn=15, restrict_vocab=restrict),
          theirs.most_similar(positive, negative, topn=15, restrict_vocab=restrict))


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`")
def test_most_similar_excludes_query_words_and_accepts_vectors(pair):
    ours, theirs = pair
    hits = ours.most_similar(["w5", "w6"], topn=None)
    assert {"w5", "w6"}.isdisjoint(w for w, _ in hits) and len(hits) == len(ours) - 2
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert ours.most_similar("w5", topn=0) == []
    vec = ours.vectors[5] * 2 + ours.vectors[9]
    _same(ours.most_similar([vec], topn=10), theirs.most_similar([vec], topn=10))
    assert ours.most_similar(vec, topn=1)[0][0] == theirs.most_similar([vec], topn=1)[0][0]
    mixed = (["w1", vec], ["w2"])  # a vector counts with its own length, as in gensim
    _same(ours.most_similar(*mixed, topn=10), theirs.most_similar(*mixed, topn=10))
    _same(ours.most_similar_cosmul(*mixed, topn=10),
          theirs.most_similar_cosmul(*mixed, topn=10))


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`")
@pytest.mark.parametrize("positive, negative", [(["w1", "w2"], ["w3"]), (["w10"], []),
                                                (["w4", "w5", "w6"], ["w7", "w8"])])
def test_most_similar_cosmul_matches_gensim(pair, positive, negative):
    ours, theirs = pair
    _same(ours.most_similar_cosmul(positive, negative, topn=12),
          theirs.most_similar_cosmul(positive, negative, topn=12))


def test_similarity_and_doesnt_match_match_gensim(pair):
    ours, theirs = pair
    for a, b in [("w1", "w2"), ("w3", "w3"), ("w100", "w499")]:
        assert ours.similarity(a, b) == pytest.approx(float(theirs.similarity(a, b)), abs=1e-6)
    for group in (["w1", "w2", "w3", "w4"], [f"w{i}" for i in range(20, 40)]):
        assert ours.doesnt_match(group) == theirs.doesnt_match(group)


def test_batched_neighbours_equal_one_query_at_a_time(pair):
    ours, _ = pair
    queries = [f"w{i}" for i in range(0, 500, 7)]
    batched = ours.most_similar_batch(queries, topn=5)
    assert len(batched) == len(queries)
    for q, hits in zip(queries, batched, strict=True):
        _same(hits, ours.most_similar(q, topn=5))
    by_vector = ours.most_similar_batch(ours.vectors[:3], topn=2)
    assert [hits[0][0] for hits in by_vector] == ["w0", "w1", "w2"]  # itself, cosine 1
    assert by_vector[0][0][1] == pytest.approx(1.0, abs=1e-6)


def test_unknown_words_name_the_word(pair):
    ours, _ = pair
    with pytest.raises(GputrainError, match="'nope' is not in the vocabulary"):
        ours.most_similar(["w1", "nope"])
    with pytest.raises(GputrainError, match="'zzz'"):
        ours.similarity("w1", "zzz")
    with pytest.warns(UserWarning, match="ignores words not in the vocabulary: 'qq'"):
        assert ours.doesnt_match(["w1", "qq", "w2", "w3"]) == ours.doesnt_match(["w1", "w2", "w3"])
    with pytest.raises(GputrainError, match="none of 'qq' is"), pytest.warns(UserWarning):
        ours.doesnt_match(["qq"])
    with pytest.raises(GputrainError, match="'x'"):
        ours.most_similar_cosmul(["x"])
    with pytest.raises(GputrainError, match="at least one"):
        ours.most_similar([])


def test_vocabulary_accessors():
    kv = KeyedVectors(["a", "b", "c"], np.eye(3, dtype=np.float64), counts=[5, 3, 1])
    assert len(kv) == 3 and kv.vector_size == 3 and "b" in kv and "z" not in kv
    assert kv.index_of("c") == 2 and kv.vectors.dtype == np.float32
    assert kv.counts.tolist() == [5, 3, 1] and kv.words == ["a", "b", "c"]
    np.testing.assert_array_equal(kv["b"], [0, 1, 0])
    assert kv.to("cpu") is kv and str(kv.device) == "cpu"


def test_zero_vector_has_zero_similarity_instead_of_nan():
    kv = KeyedVectors(["a", "b", "zero"], [[1, 0], [0.6, 0.8], [0, 0]])
    assert kv.similarity("a", "zero") == 0.0
    assert kv.most_similar("a", topn=2) == [("b", pytest.approx(0.6)), ("zero", 0.0)]


@pytest.mark.parametrize("words, vectors, counts, message", [
    (["a", "b"], np.zeros((3, 2)), None, "must be a \\(2, dim\\) matrix"),
    (["a", "a"], np.zeros((2, 2)), None, "duplicate word 'a'"),
    (["a", "b"], np.zeros((2, 2)), [1], "counts must have 2 entries"),
])
def test_constructor_checks(words, vectors, counts, message):
    with pytest.raises(GputrainError, match=message):
        KeyedVectors(words, vectors, counts)


@pytest.mark.gpu
def test_queries_on_the_gpu_equal_the_cpu(pair):
    ours, _ = pair
    gpu = ours.to("gpu")
    assert gpu.device.is_gpu and type(gpu.normed).__module__.startswith("cupy")
    for q in (["w1", "w2"], ["w30"]):
        _same(gpu.most_similar(q, ["w3"], topn=10), ours.most_similar(q, ["w3"], topn=10))
        _same(gpu.most_similar_cosmul(q, ["w3"], topn=10),
              ours.most_similar_cosmul(q, ["w3"], topn=10))
    assert gpu.doesnt_match(["w1", "w2", "w3"]) == ours.doesnt_match(["w1", "w2", "w3"])
    assert gpu.similarity("w1", "w2") == pytest.approx(ours.similarity("w1", "w2"), abs=1e-6)


@pytest.mark.gpu
def test_queries_on_gpu_1_run_on_device_1(pair):
    """Vectors on gpu:1 are queried with gpu:1 current, whatever device is current."""
    from gputrain import backend

    if backend.gpu_count() < 2:  # the CuPy stand-in always has two
        pytest.skip("needs two CUDA devices")
    ours, _ = pair
    gpu = ours.to("gpu:1")
    assert gpu.device == backend.Device("gpu", 1) and gpu.to("gpu:0").device.id == 0
    _same(gpu.most_similar(["w1", "w2"], ["w3"], topn=10),
          ours.most_similar(["w1", "w2"], ["w3"], topn=10))
    _same(gpu.most_similar_cosmul(["w1"], ["w3"], topn=5),
          ours.most_similar_cosmul(["w1"], ["w3"], topn=5))
    assert gpu.doesnt_match(["w1", "w2", "w3"]) == ours.doesnt_match(["w1", "w2", "w3"])
    assert gpu.similarity("w1", "w2") == pytest.approx(ours.similarity("w1", "w2"), abs=1e-6)
