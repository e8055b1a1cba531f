"""The device engine stays on the device: kernel launches, synchronising calls and bytes
copied per run, counted by the GPU stand-in (tests/standin). These are budgets of work, not
timings: they hold whatever the speed of the device (or of the emulation)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gputrain.backend import resolve_device
from gputrain.errors import GputrainError
from gputrain.w2v import device_engine
from gputrain.w2v.batches import keep_probabilities, negative_table
from gputrain.w2v.trainer import train

_spec = importlib.util.spec_from_file_location(
    "train_runs", Path(__file__).parents[1] / "w2v" / "test_train_runs.py")
runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runs)

pytestmark = pytest.mark.gpu


def _counters():
    cupy = pytest.importorskip("cupy")
    if getattr(cupy, "standin", None) is None:
        pytest.skip("launch and sync counters exist on the GPU stand-in only")
    return cupy.standin.counters


@pytest.mark.parametrize("cbow", [False, True])
def test_a_run_is_two_launches_and_a_few_syncs(tmp_path, cbow):
    counters = _counters()
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    cfg = runs.cfg(engine="device", cbow=cbow)
    counters.reset()
    r = train(corpus, cfg, tmp_path / "ck", device=resolve_device("gpu"))
    c = counters.snapshot()
    assert c["kernels"] == {"w2v_device_train": cfg.epochs}  # one launch per epoch here
    # one read of the loss per launch, the vectors at the end (two tables)
    assert c["syncs"] <= cfg.epochs + 2, c
    assert c["launches"] <= cfg.epochs + 8, c  # + allocations / fills / table copies
    n_ids = int(r.words_trained) // cfg.epochs
    tables = (4 * r.vectors.size + keep_probabilities(r.counts, cfg.sample).nbytes
              + negative_table(r.counts, cfg.ns_exponent).nbytes)
    assert c["h2d_bytes"] - tables <= 4 * n_ids + 8 * 2000, c  # ids + chunk bounds
    assert c["d2h_bytes"] <= 2 * r.vectors.nbytes + 16 * cfg.epochs + 64, c
    assert runs.same_topic_rate(r) > 0.95


def test_syncs_grow_with_launches_not_with_minibatches(tmp_path, monkeypatch):
    counters = _counters()
    monkeypatch.setattr(device_engine, "LAUNCH_WORDS", 4000)  # several launches per epoch
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=1500)
    cfg = runs.cfg(engine="device", batch_centres=16)
    counters.reset()
    r = train(corpus, cfg, tmp_path / "ck", device=resolve_device("gpu"))
    launches = counters.kernels["w2v_device_train"]
    assert launches >= 3 * cfg.epochs
    assert counters.syncs <= launches + 2
    assert np.isfinite(r.vectors).all()


def test_stop_and_resume_gives_the_uninterrupted_vectors(tmp_path):
    """On the stand-in, blocks run one after another, so a run is deterministic and a
    resumed run (a checkpoint between launches, the same draws after it) must give the
    uninterrupted run's vectors. On a GPU, Hogwild blocks make both only statistically equal."""
    _counters()
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=800)
    cfg = runs.cfg(engine="device", epochs=3)
    gpu = resolve_device("gpu")
    full = train(corpus, cfg, tmp_path / "full", device=gpu)
    stop = runs.StopAfterFirstCheckpoint()
    first = train(corpus, cfg, tmp_path / "ck", device=gpu, checkpoint_every=2000,
                  report=stop, stop=stop)
    assert first.stopped and 0 < first.words_trained < full.words_trained
    rest = train(corpus, cfg, tmp_path / "ck", device=gpu, checkpoint_every=2000, resume=True)
    assert rest.words_trained == full.words_trained
    np.testing.assert_allclose(rest.vectors, full.vectors, rtol=1e-5, atol=1e-6)


def test_trains_on_the_second_device(tmp_path):
    """Tables, corpus and launches all on gpu:1 (the stand-in refuses a launch that mixes
    devices or runs on another current device)."""
    _counters()
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    r = train(corpus, runs.cfg(engine="device"), tmp_path / "ck", device=resolve_device("gpu:1"))
    assert runs.same_topic_rate(r) > 0.95


def test_a_streamed_corpus_gives_the_resident_vectors_and_uploads_each_id_once(
        tmp_path, monkeypatch):
    """Above the resident threshold (lowered to 0 here) the ids stream through two buffers:
    each launch's range copied once per epoch from pinned memory on a side stream (the
    stand-in raises StreamRace if a kernel could read a buffer whose copy it did not wait
    for), with no extra synchronisation, and the vectors are the resident run's."""
    counters = _counters()
    monkeypatch.setattr(device_engine, "LAUNCH_WORDS", 4000)  # several launches per epoch
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=1500)
    cfg = runs.cfg(engine="device", epochs=3)
    gpu = resolve_device("gpu")
    counters.reset()
    resident = train(corpus, cfg, tmp_path / "a", device=gpu)
    kept = counters.snapshot()
    streams = []

    class Recorded(device_engine.IdStream):
        def __init__(self, *args):
            super().__init__(*args)
            streams.append(self)

    monkeypatch.setattr(device_engine, "IdStream", Recorded)
    monkeypatch.setenv(device_engine.RESIDENT_ENV, "0")
    counters.reset()
    streamed = train(corpus, cfg, tmp_path / "b", device=gpu)
    c = counters.snapshot()
    np.testing.assert_array_equal(streamed.vectors, resident.vectors)
    (stream,) = streams
    n_ids = int(streamed.words_trained) // cfg.epochs
    per_epoch = len(stream.uploads) // cfg.epochs
    assert per_epoch >= 3
    ranges = stream.uploads[:per_epoch]
    assert stream.uploads == ranges * cfg.epochs  # the same launches, every epoch
    assert [lo for lo, _ in ranges] == [0] + [hi for _, hi in ranges[:-1]]  # they tile
    assert ranges[-1][1] == n_ids
    assert c["h2d_pinned_bytes"] == 4 * n_ids * cfg.epochs  # every id once per epoch
    assert c["h2d_bytes"] - c["h2d_pinned_bytes"] == kept["h2d_bytes"] - 4 * n_ids
    assert c["syncs"] == kept["syncs"] <= c["kernels"]["w2v_device_train"] + 2, c


def test_the_resident_threshold_must_be_a_number(monkeypatch):
    monkeypatch.setenv(device_engine.RESIDENT_ENV, "4G")
    with pytest.raises(GputrainError, match="GPUTRAIN_RESIDENT_BYTES"):
        device_engine.resident_bytes()


@pytest.mark.parametrize("cbow", [False, True])
def test_hierarchical_softmax_on_the_device(tmp_path, cbow):
    """--hs (with negatives) through the kernel: the Huffman paths go up once per run, one
    launch per epoch, and it learns."""
    counters = _counters()
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    cfg = runs.cfg(engine="device", cbow=cbow, hs=True, negative=2)
    counters.reset()
    r = train(corpus, cfg, tmp_path / "ck", device=resolve_device("gpu"))
    c = counters.snapshot()
    assert c["kernels"] == {"w2v_device_train": cfg.epochs}
    assert c["syncs"] <= cfg.epochs + 3, c  # + the HS table at the end
    assert runs.same_topic_rate(r) > 0.95
    assert r.stats["mean_loss"] < 0.69


def test_a_corpus_above_half_the_free_device_memory_streams(tmp_path, monkeypatch):
    """Without $GPUTRAIN_RESIDENT_BYTES the ids stay resident only while they take at most
    half the memory the device has free once the tables are there."""
    cupy = pytest.importorskip("cupy")
    _counters()
    monkeypatch.delenv(device_engine.RESIDENT_ENV, raising=False)
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=300)
    gpu = resolve_device("gpu")
    assert device_engine.resident_bytes(gpu) == device_engine.RESIDENT_BYTES  # 16 GiB free
    used = cupy.get_default_memory_pool().used_bytes()
    monkeypatch.setattr(cupy.cuda.runtime, "TOTAL_MEMORY", used + 20_000)  # 10 kB for ids
    assert device_engine.resident_bytes(gpu) == 10_000
    counters = cupy.standin.counters
    counters.reset()
    r = train(corpus, runs.cfg(engine="device"), tmp_path / "ck", device=gpu)
    assert counters.h2d_pinned_bytes == 4 * int(r.words_trained)  # > 10 kB of ids: streamed
    assert runs.same_topic_rate(r) > 0.95


@pytest.mark.parametrize("cbow", [False, True])
def test_the_ring_variant_trains_what_the_default_kernel_does(tmp_path, monkeypatch, cbow):
    """``device_engine.RING`` launches the RING kernel (w2v_device_train_ring); on the
    stand-in, whose blocks run one after another, it gives the default kernel's vectors up
    to the order of float sums (a 27-word vocabulary: every window repeats words)."""
    counters = _counters()
    monkeypatch.setattr(device_engine, "SUBS", (8,))  # the same steps for both variants
    corpus = runs.topic_corpus(tmp_path / "c.txt", sentences=400)
    cfg = runs.cfg(engine="device", cbow=cbow)
    gpu = resolve_device("gpu")
    default = train(corpus, cfg, tmp_path / "default", device=gpu)
    monkeypatch.setattr(device_engine, "RING", True)
    counters.reset()
    ring = train(corpus, cfg, tmp_path / "ring", device=gpu)
    assert counters.snapshot()["kernels"] == {"w2v_device_train_ring": cfg.epochs}
    assert np.abs(ring.vectors).max() > 0.1  # it trained
    np.testing.assert_allclose(ring.vectors, default.vectors, rtol=1e-4, atol=1e-5)
