"""Training runs through the trainer API: determinism, resume, learning, workers."""

import os

import numpy as np
import pytest

from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.trainer import train


def topic_corpus(path, sentences=1500, seed=0):
    """Sentences drawn from one of two disjoint topics, plus shared filler words."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(12)], [f"b{i}" for i in range(12)]]
    filler = ["the", "of", "and"]
    lines = []
    for _ in range(sentences):
        words = list(rng.choice(topics[rng.integers(2)], 8)) + list(rng.choice(filler, 2))
        rng.shuffle(words)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cfg(**kw):
    base = dict(vector_size=16, window=3, min_count=2, epochs=2, sample=0.0, seed=3,
                alpha=0.05)
    base.update(kw)
    return Word2VecConfig(**base)


def same_topic_rate(result):
    """Fraction of words whose nearest neighbour (cosine) is from the same topic."""
    words = result.words
    v = result.vectors / np.linalg.norm(result.vectors, axis=1, keepdims=True)
    sims = v @ v.T
    np.fill_diagonal(sims, -2)
    topic = [w[0] if w[0] in "ab" and w[1:].isdigit() else None for w in words]
    rows = [i for i, t in enumerate(topic) if t]
    return np.mean([topic[int(np.argmax(sims[i]))] == topic[i] for i in rows])


@pytest.mark.parametrize("cbow", [False, True])
def test_one_thread_same_seed_is_identical_and_learns_topics(tmp_path, cbow):
    corpus = topic_corpus(tmp_path / "c.txt")
    a = train(corpus, cfg(cbow=cbow), tmp_path / "ck1")
    b = train(corpus, cfg(cbow=cbow), tmp_path / "ck2")
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.words == b.words and not a.stopped
    assert a.words_trained == 2 * a.counts.sum()
    assert same_topic_rate(a) > 0.95
    c = train(corpus, cfg(cbow=cbow, seed=4), tmp_path / "ck3")
    assert not np.array_equal(a.vectors, c.vectors)


def test_loss_goes_down_and_alpha_decays_linearly(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt")
    events = []
    r = train(corpus, cfg(epochs=4), tmp_path / "ck", report=lambda e, **f: events.append((e, f)))
    names = [e for e, _ in events]
    assert names[0] == "start" and names.count("epoch") == 4
    hist = r.history
    assert hist[-1, 1] < hist[0, 1]  # mean loss per term fell
    words, alpha = hist[:, 0], hist[:, 2]
    expected = 0.05 - (0.05 - 0.0001) * words / (4 * r.counts.sum())
    np.testing.assert_allclose(alpha, np.maximum(expected, 0.0001), rtol=1e-9)


class StopAfterFirstCheckpoint:
    requested = False

    def __call__(self, event, **fields):
        if event == "checkpoint":
            self.requested = True


@pytest.mark.parametrize("lose_cache", [False, True])
def test_stop_then_resume_equals_one_uninterrupted_run(tmp_path, lose_cache):
    corpus = topic_corpus(tmp_path / "c.txt", sentences=800)
    full = train(corpus, cfg(epochs=3), tmp_path / "full", checkpoint_every=2000)
    stop = StopAfterFirstCheckpoint()
    first = train(corpus, cfg(epochs=3), tmp_path / "ck", checkpoint_every=2000,
                  report=stop, stop=stop)
    assert first.stopped and 0 < first.words_trained < full.words_trained
    assert (tmp_path / "ck" / "checkpoint.npz").exists()
    if lose_cache:  # the encoded corpus is rebuilt, identically
        from gputrain.w2v.encoded import remove_cache
        remove_cache(tmp_path / "ck")
    events = []
    rest = train(corpus, cfg(epochs=3), tmp_path / "ck", checkpoint_every=2000, resume=True,
                 report=lambda e, **f: events.append((e, f)))
    start = dict(events)["start"]
    assert start["resumed_words"] == first.words_trained  # the count does not restart
    assert not rest.stopped and rest.words_trained == full.words_trained
    np.testing.assert_array_equal(rest.vectors, full.vectors)


def test_resume_with_other_settings_is_refused(tmp_path):
    from gputrain.errors import GputrainError

    corpus = topic_corpus(tmp_path / "c.txt", sentences=300)
    stop = StopAfterFirstCheckpoint()
    train(corpus, cfg(), tmp_path / "ck", checkpoint_every=1000, report=stop, stop=stop)
    with pytest.raises(GputrainError, match="vector_size"):
        train(corpus, cfg(vector_size=8), tmp_path / "ck", resume=True)


def test_worker_processes_share_the_tables(tmp_path, monkeypatch):
    from gputrain.w2v.shared import SharedState

    created = []
    original = SharedState.create_shared.__func__

    def spy(cls, *args):
        state = original(cls, *args)
        created.append(state.spec)
        return state

    monkeypatch.setattr(SharedState, "create_shared", classmethod(spy))
    corpus = topic_corpus(tmp_path / "c.txt", sentences=3000)
    named_while_training = []

    def report(event, **fields):  # a trainer killed by SIGKILL must leave no /dev/shm files
        if event == "progress":
            named_while_training.append(os.path.exists(created[0].tables_path))

    # gensim's default alpha: 27 words, all hot, two Hogwild workers (0.05 can diverge)
    r = train(corpus, cfg(threads=2, slice_words=5000, alpha=0.025), tmp_path / "ck",
              report=report)
    assert named_while_training and not any(named_while_training)
    assert not r.stopped and r.words_trained == 2 * r.counts.sum()
    assert np.isfinite(r.vectors).all()
    assert same_topic_rate(r) > 0.95  # both shards trained the same tables
    assert len(created) == 1
    assert not os.path.exists(created[0].tables_path)  # shared files cleaned up
    assert not os.path.exists(created[0].counters_path)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that is being tested
def test_divergence_is_a_clear_error(tmp_path):
    from gputrain.errors import GputrainError

    corpus = topic_corpus(tmp_path / "c.txt", sentences=300)
    with pytest.raises(GputrainError, match="diverged.*--alpha"):
        train(corpus, cfg(alpha=10.0, batch_centres=4096, vector_size=64), tmp_path / "ck")


def test_vectors_choice(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt", sentences=200)
    inp = train(corpus, cfg(epochs=1), tmp_path / "a")
    both = train(corpus, cfg(epochs=1, vectors="concat"), tmp_path / "b")
    summed = train(corpus, cfg(epochs=1, vectors="sum"), tmp_path / "c")
    assert both.vectors.shape == (len(inp.words), 32)
    np.testing.assert_array_equal(both.vectors[:, :16], inp.vectors)
    np.testing.assert_allclose(summed.vectors, both.vectors[:, :16] + both.vectors[:, 16:],
                               rtol=1e-6)


def test_worker_processes_pause_checkpoint_stop_and_resume(tmp_path):
    corpus = topic_corpus(tmp_path / "c.txt", sentences=3000)
    stop = StopAfterFirstCheckpoint()
    events = []

    def report(event, **fields):
        events.append(event)
        stop(event, **fields)

    settings = cfg(threads=2, epochs=20, alpha=0.025)
    first = train(corpus, settings, tmp_path / "ck", checkpoint_every=3000, report=report,
                  stop=stop)
    assert first.stopped and "checkpoint" in events
    total = 20 * first.counts.sum()
    assert 0 < first.words_trained < total
    rest = train(corpus, settings, tmp_path / "ck", checkpoint_every=3000, resume=True)
    assert not rest.stopped and rest.words_trained == total
    assert same_topic_rate(rest) > 0.95
