"""Hierarchical softmax: the Huffman paths, the step with code-bit signs, and training."""

import heapq
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.w2v.huffman import huffman_paths, node_weights
from gputrain.w2v.step import sgns_step
from gputrain.w2v.window_step import cbow_window_step, sgns_window_step

_spec = importlib.util.spec_from_file_location(
    "train_runs", Path(__file__).with_name("test_train_runs.py"))
runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runs)
cfg, same_topic_rate, topic_corpus = runs.cfg, runs.same_topic_rate, runs.topic_corpus
_spec = importlib.util.spec_from_file_location(
    "step_tests", Path(__file__).with_name("test_step_numpy.py"))
step_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(step_tests)


def test_paths_equal_word2vec_c_on_a_hand_built_tree():
    """word2vec.c's CreateBinaryTree on counts 5, 3, 2, 1 (worked by hand): inner nodes
    0..2, root 2; codes and points root first."""
    p = huffman_paths(np.array([5, 3, 2, 1]))
    assert p.lengths.tolist() == [1, 2, 3, 3]
    assert p.points.tolist() == [[2, -1, -1], [2, 1, -1], [2, 1, 0], [2, 1, 0]]
    codes = [[0], [1, 1], [1, 0, 1], [1, 0, 0]]
    for w, code in enumerate(codes):
        want = [1.0 - 2.0 * c for c in code] + [0.0] * (3 - len(code))
        assert p.signs[w].tolist() == want


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_codes_are_an_optimal_prefix_code_in_any_word_order(seed):
    rng = np.random.default_rng(seed)
    counts = rng.zipf(1.5, 500).astype(np.int64)
    p = huffman_paths(counts)
    n = len(counts)
    codes = {tuple(p.signs[w, :p.lengths[w]]) for w in range(n)}
    assert len(codes) == n  # distinct codes ...
    assert np.isclose(np.sum(2.0 ** -p.lengths.astype(float)), 1.0)  # ... a full tree
    heap = list(counts)  # optimal cost: the sum of all merges of Huffman's algorithm
    heapq.heapify(heap)
    best = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        best += merged
        heapq.heappush(heap, merged)
    assert int(np.dot(counts, p.lengths)) == best
    # every path starts at the root (node n-2) and uses inner nodes 0..n-2 only
    assert (p.points[:, 0] == n - 2).all() and p.points.max() == n - 2
    # two words sharing a code prefix share its inner nodes
    shuffled = rng.permutation(n)
    q = huffman_paths(counts[shuffled])
    np.testing.assert_array_equal(np.sort(q.lengths), np.sort(p.lengths))


def test_batch_trims_to_the_longest_path_and_masks_missing_centres():
    p = huffman_paths(np.array([5, 3, 2, 1]))
    points, signs = p.batch(np.array([0, 1, -1], np.int32))
    assert points.tolist() == [[2, -1], [2, 1], [-1, -1]]
    assert signs.tolist() == [[1.0, 0.0], [-1.0, -1.0], [0.0, 0.0]]
    assert node_weights(points).tolist() == [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    assert points.dtype == np.int32 and signs.dtype == np.float32


def test_a_launch_moves_an_inner_node_by_at_most_max_repeats_centres():
    from gputrain.w2v.huffman import MAX_NODE_REPEATS

    p = huffman_paths(np.array([5, 3, 2, 1]))
    centres = np.array([0] * 4 + [1] * 12 + [3] * 4, np.int32)  # root on 20 paths
    points, _ = p.batch(centres)
    weight = node_weights(points)
    assert np.allclose(weight[points == 2], MAX_NODE_REPEATS / 20)
    assert np.allclose(weight[points == 1], MAX_NODE_REPEATS / 16)
    assert np.allclose(weight[points == 0], 1.0)  # on 4 paths


def _problem(seed, n=30, n_words=40, dim=6, window=3, scale=0.3):
    from gputrain.w2v.device_twin import window_contexts

    rng = np.random.default_rng(seed)
    kept = rng.integers(0, n_words, n).astype(np.int32)
    sentence = np.zeros(n, np.int32)
    reach = rng.integers(1, window + 1, n, dtype=np.int32)
    contexts = window_contexts(kept, sentence, reach, window)
    pad = np.full(window, -1, np.int32)
    windows = (np.concatenate([pad, kept, pad]), np.concatenate([pad, sentence, pad]), reach)
    points, signs = huffman_paths(rng.zipf(1.5, n_words)).batch(kept)
    tables = [rng.normal(0, scale, (n_words, dim)).astype(np.float32) for _ in range(2)]
    return windows, contexts, points, signs, tables


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("scale", [0.3, 1.5])
def test_hs_window_step_is_word2vec_c_loop(cbow, scale):
    """The loss is word2vec.c's, -log sigmoid(+-h.w) with label 1 - code, and the updates
    its loop's: each inner node moved as soon as its term is done (the root too), none
    where |h.w| >= 6 (scale 1.5: many such terms)."""
    windows, contexts, points, signs, (w_in, w_hs) = _problem(5, scale=scale)
    if scale > 1:
        dots = np.abs(w_in[contexts[contexts >= 0]] @ w_hs.T)
        assert (dots >= 6).mean() > 0.05
    want_in, want_hs, want = step_tests.word2vec_c_loop(w_in, w_hs, contexts, points, 0.1,
                                                        cbow, signs)
    window_step = cbow_window_step if cbow else sgns_window_step
    got, pairs = window_step(w_in, w_hs, *windows, points, 0.1, signs)
    assert got == pytest.approx(want, rel=1e-5)
    n_in = (contexts >= 0).sum(axis=1)
    assert pairs == np.dot(n_in > 0 if cbow else n_in, (points >= 0).sum(axis=1))
    np.testing.assert_allclose(w_in, want_in, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w_hs, want_hs, rtol=1e-4, atol=1e-5)


def test_ns_signs_equal_the_default_labels():
    _, contexts, points, _, (w_in, w_out) = _problem(6)
    targets = np.where(points >= 0, points, 3).astype(np.int32)
    signs = np.full(targets.shape, -1.0, np.float32)
    signs[:, 0] = 1.0
    a_in, a_out, b_in, b_out = w_in.copy(), w_out.copy(), w_in.copy(), w_out.copy()
    assert sgns_step(a_in, a_out, contexts, targets, 0.1) == \
        sgns_step(b_in, b_out, contexts, targets, 0.1, signs)
    np.testing.assert_array_equal(a_in, b_in)
    with pytest.raises(ValueError, match="signs"):
        sgns_step(a_in, a_out, contexts, targets, 0.1, signs[:, :1])


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("negative", [0, 3])
def test_hs_training_learns_topics_alone_and_with_negatives(tmp_path, cbow, negative):
    from gputrain.w2v.trainer import train

    corpus = topic_corpus(tmp_path / "c.txt")
    r = train(corpus, cfg(cbow=cbow, hs=True, negative=negative), tmp_path / "ck")
    assert same_topic_rate(r) > 0.95
    assert r.stats["mean_loss"] < 0.69  # below log 2 per binary decision: it learned


def test_hs_in_worker_processes(tmp_path):
    from gputrain.w2v.trainer import train

    corpus = topic_corpus(tmp_path / "c.txt")
    r = train(corpus, cfg(hs=True, negative=0, threads=2), tmp_path / "ck")
    assert same_topic_rate(r) > 0.95


def test_negative_zero_needs_hs_and_input_vectors():
    with pytest.raises(GputrainError, match="needs --hs"):
        cfg(negative=0).validate()
    with pytest.raises(GputrainError, match="--vectors sum"):
        cfg(negative=0, hs=True, vectors="sum").validate()
    cfg(negative=0, hs=True).validate()
