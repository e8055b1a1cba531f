"""The device engine's kernel (kernels/w2v_device.cu) against its NumPy twin
(gputrain/w2v/device_twin.py): draws bit for bit, one launch of a one-block grid to rtol
1e-5, on CuPy with a GPU and on the CPU emulation of the same source without one. Both
variants of the kernel: the default and the RING one (``ring=True``: input rows kept in a
shared-memory ring for their lifetime), which for one block computes the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from gputrain.backend import to_cpu
from gputrain.w2v import device_twin, sampling
from gputrain.w2v.batches import keep_probabilities, negative_table
from gputrain.w2v.huffman import huffman_paths

RTOL, ATOL = 1e-5, 1e-6
pytestmark = pytest.mark.timeout(120, method="thread")


def _vocab(n=60, sample=1e-2):
    counts = (1000 / np.arange(1, n + 1)).astype(np.int64) + 1
    return keep_probabilities(counts, sample), negative_table(counts, 0.75)


def test_draws_match_the_twin_bit_for_bit(kernels, xp):
    keep_prob, table = _vocab()
    ids = np.random.default_rng(0).integers(0, len(keep_prob), 3001).astype(np.int32)
    base, key = 2**40 + 17, sampling.stream_key(7, 3)  # positions past 2**32
    keep, reach, negs = kernels.w2v_device_draws(xp.asarray(ids), base, xp.asarray(keep_prob),
                                                 xp.asarray(table), key, 5, 7)
    pos = base + np.arange(len(ids), dtype=np.int64)
    want_keep = sampling.keep_mask(key, pos, ids, keep_prob)
    np.testing.assert_array_equal(to_cpu(keep).astype(bool), want_keep)
    np.testing.assert_array_equal(to_cpu(reach), sampling.reaches(key, pos, 5))
    np.testing.assert_array_equal(to_cpu(negs), sampling.negatives(key, pos, 7, table))
    assert 0.5 < want_keep.mean() < 1.0 and not want_keep.all()  # subsampling bites
    assert set(np.unique(to_cpu(reach))) == {1, 2, 3, 4, 5}


def _launch_problem(dim, seed=0, vocab=60, n=700, base=5000):
    rng = np.random.default_rng(seed)
    keep_prob, table = _vocab(vocab)
    ids = rng.integers(0, vocab, n).astype(np.int32)
    ids[100:140] = 3  # a row repeated inside one step's windows
    starts = np.array([base, base + 37, base + 300, base + 301, base + 640, base + n], np.int64)
    w_in = ((rng.random((vocab, dim), dtype=np.float32) - 0.5) * 20 / dim).astype(np.float32)
    w_out = ((rng.random((vocab, dim), dtype=np.float32) - 0.5) * 20 / dim).astype(np.float32)
    args = dict(ids_base=base, first_chunk=1, n_chunks=4, key=sampling.stream_key(1, 2),
                words_before=10_000, total_words=20_000, alpha=0.1, min_alpha=0.001,
                window=3, negative=4, sub=5)
    return ids, starts, keep_prob, table, w_in, w_out, args


@pytest.mark.parametrize("ring", [False, True])
@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("dim", [19, 64])
def test_one_block_launch_equals_twin(kernels, xp, cbow, dim, ring):
    ids, starts, keep_prob, table, w_in, w_out, args = _launch_problem(dim)
    want_in, want_out = w_in.copy(), w_out.copy()
    loss, pairs = device_twin.train_launch(want_in, want_out, ids, starts=starts,
                                           keep_prob=keep_prob, table=table, **args,
                                           cbow=cbow, concurrent=1)
    got_in, got_out = xp.array(w_in), xp.array(w_out)
    totals = xp.zeros(2, dtype=np.float64)
    kernels.w2v_device_train(got_in, got_out, xp.asarray(ids), starts=xp.asarray(starts),
                             keep_prob=xp.asarray(keep_prob), table=xp.asarray(table), **args,
                             cbow=cbow, max_chunk=400, totals=totals, grid=1, threads=7,
                             ring=ring)
    assert np.abs(want_in - w_in).max() > 0.1  # it trained
    np.testing.assert_allclose(to_cpu(got_in), want_in, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(to_cpu(got_out), want_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(to_cpu(totals), [loss, pairs], rtol=RTOL)
    assert pairs > 0


@pytest.mark.parametrize("ring", [False, True])
@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("negative", [0, 4])
def test_one_block_launch_with_hierarchical_softmax_equals_twin(kernels, xp, cbow, negative,
                                                                ring):
    """The Huffman path's inner nodes as output columns of w_hs (after the negative-sampling
    columns when negative > 0), labels from the code bits."""
    ids, starts, keep_prob, table, w_in, w_out, args = _launch_problem(19, seed=1)
    counts = (1000 / np.arange(1, len(w_in) + 1)).astype(np.int64) + 1
    paths = huffman_paths(counts)
    assert paths.points.shape[1] > 5  # paths of several nodes, padded
    w_hs = np.random.default_rng(2).normal(0, 0.3, w_in.shape).astype(np.float32)
    args["negative"] = negative
    want = [w_in.copy(), w_out.copy(), w_hs.copy()]
    loss, pairs = device_twin.train_launch(want[0], want[1], ids, starts=starts,
                                           keep_prob=keep_prob, table=table, **args,
                                           cbow=cbow, concurrent=1, w_hs=want[2],
                                           points=paths.points, psigns=paths.signs)
    got = [xp.array(w) for w in (w_in, w_out, w_hs)]
    totals = xp.zeros(2, dtype=np.float64)
    kernels.w2v_device_train(got[0], got[1], xp.asarray(ids), starts=xp.asarray(starts),
                             keep_prob=xp.asarray(keep_prob), table=xp.asarray(table), **args,
                             cbow=cbow, max_chunk=400, totals=totals, grid=1, threads=7,
                             w_hs=got[2], points=xp.asarray(paths.points),
                             psigns=xp.asarray(paths.signs), ring=ring)
    assert np.abs(want[2] - w_hs).max() > 0.01  # the HS table trained
    assert (np.abs(want[1] - w_out).max() > 0.01) == (negative > 0)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(to_cpu(g), w, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(to_cpu(totals), [loss, pairs], rtol=RTOL)


@pytest.mark.parametrize("ring", [False, True])
def test_many_blocks_train_every_chunk_once(kernels, xp, ring):
    """A grid of several blocks (each taking chunks in a grid-stride loop) trains the same
    pairs as one block; the tables differ only by the order of Hogwild updates."""
    ids, starts, keep_prob, table, w_in, w_out, args = _launch_problem(16)
    args["alpha"] = args["min_alpha"] = 1e-6  # nearly frozen: the pair counts stay comparable
    runs = []
    for grid in (1, 3):
        got_in, got_out = xp.array(w_in), xp.array(w_out)
        totals = xp.zeros(2, dtype=np.float64)
        kernels.w2v_device_train(got_in, got_out, xp.asarray(ids), starts=xp.asarray(starts),
                                 keep_prob=xp.asarray(keep_prob), table=xp.asarray(table),
                                 **args, cbow=False, max_chunk=400, totals=totals, grid=grid,
                                 threads=32, ring=ring)
        runs.append((to_cpu(got_in), to_cpu(totals)))
    np.testing.assert_array_equal(runs[0][1][1], runs[1][1][1])
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-6)


def test_launch_arguments_are_checked(kernels, xp):
    from gputrain.errors import GputrainError

    ids, starts, keep_prob, table, w_in, w_out, args = _launch_problem(8)
    with pytest.raises(GputrainError, match="starts"):
        kernels.w2v_device_train(xp.asarray(w_in), xp.asarray(w_out), xp.asarray(ids),
                                 starts=xp.asarray(starts.astype(np.int32)),
                                 keep_prob=xp.asarray(keep_prob), table=xp.asarray(table),
                                 **args, cbow=False, max_chunk=400,
                                 totals=xp.zeros(2, dtype=np.float64), grid=1, threads=8)
