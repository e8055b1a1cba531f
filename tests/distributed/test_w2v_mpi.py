"""``mpiexec -n 2 gputrain w2v``: identical tables on every rank, one writer, quality."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from gputrain.w2v.corpus import SAMPLE_CORPUS
from tests.distributed.conftest import mpirun, mpirun_script, needs_mpi

pytestmark = needs_mpi
HERE = Path(__file__).parent


def austen(tmp_path, words: int) -> Path:
    """The first ``words`` words of the shipped Austen corpus, in lines of 1,000 words."""
    with gzip.open(SAMPLE_CORPUS, "rt", encoding="utf-8") as f:
        tokens = f.read(12 * words).split()[:words]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(tokens[i:i + 1000]) + "\n"
                            for i in range(0, len(tokens), 1000)), encoding="utf-8")
    return path


def test_ranks_end_with_identical_tables(tmp_path):
    corpus = austen(tmp_path, 40_000)
    run = mpirun_script(2, HERE / "w2v_rank_tables.py", corpus, tmp_path, 2)
    assert run.returncode == 0, run.stderr
    a, b = np.load(tmp_path / "rank0.npy"), np.load(tmp_path / "rank1.npy")
    assert a.shape == b.shape and a.shape[1] == 40
    np.testing.assert_array_equal(a, b)
    assert np.abs(a[:, 20:]).max() > 0  # the output rows trained too


def test_one_rank_writes_outputs_and_events(tmp_path):
    corpus = austen(tmp_path, 40_000)
    events = tmp_path / "events.jsonl"
    run = mpirun(2, "w2v", corpus, "-o", tmp_path / "v.txt", "--dim", 10, "--epochs", 2,
                 "--sync-words", 5000, "--events", events, "--checkpoint-every", 20_000)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("wrote ") == 1, run.stderr
    assert (tmp_path / "v.txt").exists() and not (tmp_path / "v.txt.ckpt").exists()
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds.count("start") == 1 and kinds.count("done") == 1
    assert kinds.count("epoch") == 2 and kinds.count("checkpoint") >= 2
    start = json.loads(events.read_text().splitlines()[0])
    assert start["ranks"] == 2
