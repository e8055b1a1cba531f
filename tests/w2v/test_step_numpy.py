"""The fused NumPy minibatch step against a plain per-pair loop in float64."""

import numpy as np
import pytest

from gputrain.w2v.step import cbow_step, sgns_step


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference(w_in, w_out, contexts, targets, lr, cbow):
    """Gradients of the summed loss from the pre-step tables, applied at the end."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    d_in, d_out = np.zeros_like(w_in), np.zeros_like(w_out)
    loss = 0.0
    for b in range(len(contexts)):
        ctx = [c for c in contexts[b] if c >= 0]
        outs = [(t, 1.0 if k == 0 else 0.0) for k, t in enumerate(targets[b]) if t >= 0]
        if not ctx:
            continue
        inputs = [w_in[ctx].mean(axis=0)] if cbow else [w_in[c] for c in ctx]
        for i, h in enumerate(inputs):
            grad_h = np.zeros(w_in.shape[1])
            for t, label in outs:
                p = _sigmoid(h @ w_out[t])
                loss += -np.log(p) if label else -np.log(1 - p)
                g = label - p
                grad_h += g * w_out[t]
                d_out[t] += lr * g * h
            if cbow:
                for c in ctx:  # word2vec's rule: the full error to every context word
                    d_in[c] += lr * grad_h
            else:
                d_in[ctx[i]] += lr * grad_h
    return w_in + d_in, w_out + d_out, loss


def random_problem(seed, n_words=12, dim=7, batch=9, width=6, negative=4):
    rng = np.random.default_rng(seed)
    w_in = rng.normal(0, 0.5, (n_words, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (n_words, dim)).astype(np.float32)
    contexts = rng.integers(0, n_words, (batch, width)).astype(np.int32)
    contexts[rng.random(contexts.shape) < 0.3] = -1
    contexts[0] = -1  # a centre without any context
    targets = rng.integers(0, n_words, (batch, negative + 1)).astype(np.int32)
    targets[rng.random(targets.shape) < 0.15] = -1
    return w_in, w_out, contexts, targets


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_matches_per_pair_reference_with_repeated_rows(cbow, seed):
    w_in, w_out, contexts, targets = random_problem(seed)
    want_in, want_out, want_loss = reference(w_in, w_out, contexts, targets, 0.1, cbow)
    step = cbow_step if cbow else sgns_step
    loss = step(w_in, w_out, contexts, targets, 0.1)
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(w_in, want_in, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w_out, want_out, rtol=1e-4, atol=1e-5)


def test_all_masked_minibatch_changes_nothing():
    w_in, w_out, contexts, targets = random_problem(3)
    contexts[:] = -1
    before = w_in.copy(), w_out.copy()
    assert sgns_step(w_in, w_out, contexts, targets, 0.5) == 0.0
    assert cbow_step(w_in, w_out, contexts, targets, 0.5) == 0.0
    np.testing.assert_array_equal(w_in, before[0])
    np.testing.assert_array_equal(w_out, before[1])


def test_loss_stays_finite_for_huge_logits():
    w_in = np.full((3, 4), 50.0, dtype=np.float32)
    w_out = np.full((3, 4), -50.0, dtype=np.float32)
    contexts = np.array([[1, 2]], dtype=np.int32)
    targets = np.array([[0, 1, 2]], dtype=np.int32)
    loss = sgns_step(w_in, w_out, contexts, targets, 1e-6)
    assert np.isfinite(loss) and loss > 0
    assert np.isfinite(w_in).all() and np.isfinite(w_out).all()


def test_repeated_steps_lower_the_loss():
    w_in, w_out, contexts, targets = random_problem(4)
    losses = [sgns_step(w_in, w_out, contexts, targets, 0.05) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]


def test_rejects_wrong_dtypes():
    w_in, w_out, contexts, targets = random_problem(5)
    with pytest.raises(TypeError):
        sgns_step(w_in.astype(np.float64), w_out, contexts, targets, 0.1)
    with pytest.raises(TypeError):
        sgns_step(w_in, w_out, contexts.astype(np.int64), targets, 0.1)


def word2vec_c_loop(w_in, w_out, contexts, targets, lr, cbow, signs=None):
    """word2vec.c's training loop, literally, in float64: centre after centre (skip-gram:
    context word after context word), each output row updated as soon as its term is done,
    the input rows at the end of their group of terms. ``signs``: +1/-1 labels (HS), and
    then a term with |dot| >= 6 updates nothing (word2vec.c's HS; its NS keeps them)."""
    w_in, w_out = w_in.astype(np.float64), w_out.astype(np.float64)
    hs = signs is not None
    if signs is None:
        signs = np.where(np.arange(targets.shape[1]) == 0, 1.0, -1.0)[None].repeat(len(targets), 0)
    loss = 0.0
    for b in range(len(contexts)):
        ctx = [c for c in contexts[b] if c >= 0]
        for rows in [ctx] if cbow and ctx else [[c] for c in ctx]:
            h = w_in[rows].mean(axis=0)  # skip-gram: the context row as it is now
            neu1e = np.zeros(w_in.shape[1])
            for t, sign in zip(targets[b], signs[b], strict=True):
                if t < 0:
                    continue
                label = 1.0 if sign > 0 else 0.0
                f = h @ w_out[t]
                p = _sigmoid(f)
                loss += -np.log(p) if label else -np.log(1 - p)
                if hs and abs(f) >= 6:  # word2vec.c's HS: "if (f <= -MAX_EXP) continue; ..."
                    continue
                g = lr * (label - p)
                neu1e += g * w_out[t]
                w_out[t] += g * h
            for c in rows:
                w_in[c] += neu1e
    return w_in, w_out, loss


def window_problem(seed, window, n_words=15, dim=6, n=40, negative=4):
    """Centres in 3 sentences, their windows as the trainer gives them (``words``,
    ``sentence``, ``reach``: :func:`gputrain.w2v.batches.slice_batches`) and as a contexts
    matrix for the reference."""
    from gputrain.w2v.device_twin import window_contexts

    rng = np.random.default_rng(seed)
    kept = rng.integers(0, n_words, n).astype(np.int32)  # many repeated rows
    sentence = np.repeat(np.arange(4, dtype=np.int32), [10, 25, 1, 4])  # one lone word
    reach = rng.integers(1, window + 1, n, dtype=np.int32)
    contexts = window_contexts(kept, sentence, reach, window)
    assert (contexts[10 + 25] < 0).all()  # the lone word: a centre without context
    targets = rng.integers(0, n_words, (n, negative + 1)).astype(np.int32)  # repeats too
    targets[rng.random(targets.shape) < 0.1] = -1
    pad = np.full(window, -1, np.int32)
    windows = (np.concatenate([pad, kept, pad]), np.concatenate([pad, sentence, pad]), reach)
    w_in = rng.normal(0, 0.3, (n_words, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.3, (n_words, dim)).astype(np.float32)
    return windows, contexts, targets, w_in, w_out


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("seed, window", [(0, 3), (1, 5), (2, 10)])
def test_window_step_is_word2vec_c_loop(seed, window, cbow):
    from gputrain.w2v.window_step import cbow_window_step, sgns_window_step

    windows, contexts, targets, w_in, w_out = window_problem(seed, window)
    want_in, want_out, want_loss = word2vec_c_loop(w_in, w_out, contexts, targets, 0.05, cbow)
    b_in, b_out = w_in.copy(), w_out.copy()
    window_step = cbow_window_step if cbow else sgns_window_step
    got, pairs = window_step(b_in, b_out, *windows, targets, 0.05)
    assert got == pytest.approx(want_loss, rel=1e-5)
    n_in = (contexts >= 0).sum(axis=1)
    assert pairs == np.dot(n_in > 0 if cbow else n_in, (targets >= 0).sum(axis=1))
    np.testing.assert_allclose(b_in, want_in, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b_out, want_out, rtol=1e-4, atol=1e-5)
    assert not np.allclose(b_in, w_in)
    # ... and it differs from one minibatch step over the same windows (stale updates)
    a_in, a_out = w_in.copy(), w_out.copy()
    (cbow_step if cbow else sgns_step)(a_in, a_out, contexts, targets, 0.05)
    assert not np.allclose(a_out, b_out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cbow", [False, True])
def test_window_step_result_does_not_depend_on_the_call_size(cbow):
    """The trainer cuts a slice into calls of consecutive centres: cut anywhere, same tables."""
    from gputrain.w2v.window_step import cbow_window_step, sgns_window_step

    window = 5
    (words, sentence, reach), _, targets, w_in, w_out = window_problem(3, window)
    step = cbow_window_step if cbow else sgns_window_step
    whole_in, whole_out = w_in.copy(), w_out.copy()
    whole = step(whole_in, whole_out, words, sentence, reach, targets, 0.05)
    cut_in, cut_out = w_in.copy(), w_out.copy()
    loss, pairs = 0.0, 0
    for lo, hi in ((0, 7), (7, 8), (8, 40)):
        part = step(cut_in, cut_out, words[lo:hi + 2 * window], sentence[lo:hi + 2 * window],
                    reach[lo:hi], targets[lo:hi], 0.05)
        loss, pairs = loss + part[0], pairs + part[1]
    np.testing.assert_array_equal(cut_in, whole_in)
    np.testing.assert_array_equal(cut_out, whole_out)
    assert pairs == whole[1] and loss == pytest.approx(whole[0], rel=1e-6)


def test_window_step_rejects_a_reach_beyond_its_padding():
    from gputrain.w2v.window_step import sgns_window_step

    (words, sentence, reach), _, targets, w_in, w_out = window_problem(4, 3)
    with pytest.raises(ValueError, match="reach"):
        sgns_window_step(w_in, w_out, words, sentence, reach + 3, targets, 0.05)
    with pytest.raises(TypeError, match="int32"):
        sgns_window_step(w_in, w_out, words, sentence.astype(np.int64), reach, targets, 0.05)


def test_slice_batches_cover_every_kept_word_once_with_its_sentence():
    from gputrain.w2v.batches import negative_table, slice_batches

    ids = np.arange(50, dtype=np.int32)  # word i at position i
    sentence = np.repeat(np.arange(5), 10)
    table = negative_table(np.ones(50), 0.75)
    keep = np.full(50, 0.5, np.float32)
    runs = list(slice_batches(ids, sentence, keep, table, np.random.default_rng(0), 3, 2, 8))
    kept = np.concatenate([words[3:-3] for words, *_ in runs])
    assert 10 < len(kept) < 40 and (np.diff(kept) > 0).all()  # each kept word once, in order
    for words, sent, reach, targets, _ in runs:
        assert len(reach) <= 8 and reach.min() >= 1 and reach.max() <= 3
        np.testing.assert_array_equal(targets[:, 0], words[3:-3])
        known = words >= 0
        np.testing.assert_array_equal(sent[known], sentence[words[known]])
    np.testing.assert_array_equal(runs[1][0][:3], runs[0][0][-6:-3])  # padding: neighbours
    assert (runs[0][0][:3] == -1).all() and (runs[-1][0][-3:] == -1).all()
    fractions = [f for *_, f in runs]
    assert fractions == sorted(fractions) and fractions[-1] == (kept[-1] + 1) / 50
