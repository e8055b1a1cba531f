"""The device engine through the trainer, on the CPU (its NumPy twin): learning, determinism,
stop + resume equal to one run, chunking and launch grouping. tests/gpu runs the same engine
with the kernel on the GPU stand-in (or a GPU)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gputrain.w2v import device_engine
from gputrain.w2v.trainer import train

_spec = importlib.util.spec_from_file_location(
    "train_runs", Path(__file__).with_name("test_train_runs.py"))
runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runs)


def cfg(**kw):
    return runs.cfg(engine="device", **kw)


@pytest.mark.parametrize("cbow", [False, True])
def test_twin_learns_topics_and_is_deterministic(tmp_path, cbow):
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    events = []
    a = train(corpus, cfg(cbow=cbow), tmp_path / "a", report=lambda e, **f: events.append((e, f)))
    assert dict(events)["start"]["engine"] == "device"
    assert [e for e, _ in events].count("epoch") == 2
    assert a.words_trained == 2 * a.counts.sum() and np.isfinite(a.vectors).all()
    assert runs.same_topic_rate(a) > 0.95
    assert a.history[-1, 1] < a.history[0, 1] or len(a.history) < 2
    b = train(corpus, cfg(cbow=cbow), tmp_path / "b")
    np.testing.assert_array_equal(a.vectors, b.vectors)
    c = train(corpus, cfg(cbow=cbow, seed=4), tmp_path / "c")
    assert not np.array_equal(a.vectors, c.vectors)


@pytest.mark.parametrize("cbow", [False, True])
@pytest.mark.parametrize("negative", [0, 3])
def test_twin_learns_with_hierarchical_softmax(tmp_path, cbow, negative):
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    r = train(corpus, cfg(cbow=cbow, hs=True, negative=negative), tmp_path / "ck")
    assert runs.same_topic_rate(r) > 0.95
    assert r.stats["mean_loss"] < 0.69  # below log 2 per binary decision: it learned


@pytest.mark.parametrize("hs", [False, True])
def test_stop_then_resume_equals_one_uninterrupted_run(tmp_path, hs):
    """The twin launches one slice at a time: a checkpoint between two is resumed exactly
    (with --hs the third table too)."""
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=800)
    full = train(corpus, cfg(epochs=3, hs=hs), tmp_path / "full")
    stop = runs.StopAfterFirstCheckpoint()
    first = train(corpus, cfg(epochs=3, hs=hs), tmp_path / "ck", checkpoint_every=2000,
                  report=stop, stop=stop)
    assert first.stopped and 0 < first.words_trained < full.words_trained
    rest = train(corpus, cfg(epochs=3, hs=hs), tmp_path / "ck", checkpoint_every=2000,
                 resume=True)
    assert not rest.stopped and rest.words_trained == full.words_trained
    np.testing.assert_array_equal(rest.vectors, full.vectors)


def test_divergence_is_a_clear_error(tmp_path):
    from gputrain.errors import GputrainError

    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=300)
    with pytest.raises(GputrainError, match="diverged"):
        train(corpus, cfg(alpha=10.0, min_alpha=10.0), tmp_path / "ck")


def test_chunks_follow_sentences_slices_and_the_size_limit():
    ends = np.array([5, 2000, 2003, 2600], np.int64)
    starts = device_engine.chunk_starts(ends, 2600, slice_words=1000, max_chunk=512)
    assert starts[0] == 0 and starts[-1] == 2600
    assert np.all(np.diff(starts) > 0) and np.diff(starts).max() <= 512
    assert {5, 1000, 2000, 2003}.issubset(set(starts.tolist()))


def test_launches_are_fixed_groups_of_slices_less_the_done_ones():
    class State:
        done = np.zeros(2 * 7)
        claimed = np.zeros(2 * 7)

    plan = type("P", (), {"n_slices": 7})()
    state = State()
    assert list(device_engine._launches(state, plan, 0, 3)) == [(0, 3), (3, 6), (6, 7)]
    state.done[7 + 0] = state.done[7 + 4] = 1.0
    assert list(device_engine._launches(state, plan, 1, 3)) == [(1, 3), (3, 4), (5, 6), (6, 7)]
    state.claimed[:4] = 1.0  # under mpiexec: slices another rank trains
    assert list(device_engine._launches(state, plan, 0, 3)) == [(4, 6), (6, 7)]
