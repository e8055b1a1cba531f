"""The GPU path of the trainer (CuPy tables, the CUDA sgns/cbow kernels); needs a device."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gputrain.backend import resolve_device
from gputrain.w2v.trainer import train

_spec = importlib.util.spec_from_file_location(
    "train_runs", Path(__file__).with_name("test_train_runs.py"))
runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runs)


@pytest.mark.gpu
@pytest.mark.parametrize("cbow", [False, True])
def test_gpu_training_learns_topics_and_resumes(tmp_path, cbow):
    corpus = runs.topic_corpus(tmp_path / "c.txt")
    cfg = runs.cfg(cbow=cbow)
    r = train(corpus, cfg, tmp_path / "ck", device=resolve_device("gpu"))
    assert isinstance(r.vectors, np.ndarray) and np.isfinite(r.vectors).all()
    assert runs.same_topic_rate(r) > 0.95
    stop = runs.StopAfterFirstCheckpoint()
    first = train(corpus, cfg, tmp_path / "ck2", device=resolve_device("gpu"),
                  checkpoint_every=2000, report=stop, stop=stop)
    assert first.stopped
    rest = train(corpus, cfg, tmp_path / "ck2", device=resolve_device("gpu"),
                 checkpoint_every=2000, resume=True)
    assert not rest.stopped and rest.words_trained == r.words_trained
    assert runs.same_topic_rate(rest) > 0.95

