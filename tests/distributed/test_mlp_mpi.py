"""``mpiexec -n 2 gputrain mlp train`` equals one process on the full batch."""

from __future__ import annotations

import json

import numpy as np

from tests.distributed.conftest import mpirun, needs_mpi, run_solo
from tests.mlp.conftest import make_table, write

pytestmark = needs_mpi

# batches of 25 split 12/13 between two ranks: the weighting of unequal shards matters
ARGS = ["--label", "animal", "--hidden", "16,8", "--epochs", "3", "--batch-size", "25",
        "--dropout", "0", "--val-split", "0.1", "--optimizer", "adam", "--lr", "0.01",
        "--seed", "3", "--quiet"]


def test_two_ranks_equal_one_process(tmp_path):
    data = write(make_table(rows=400), tmp_path / "train.parquet")
    solo = run_solo("mlp", "train", data, *ARGS, "-o", tmp_path / "one")
    assert solo.returncode == 0, solo.stderr
    events = tmp_path / "events.jsonl"
    two = mpirun(2, "mlp", "train", data, *ARGS, "-o", tmp_path / "two", "--events", events)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("model saved in") == 1  # rank 0 alone reports
    with np.load(tmp_path / "one" / "weights.npz") as a, \
            np.load(tmp_path / "two" / "weights.npz") as b:
        assert set(a.files) == set(b.files)
        for name in a.files:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-5, err_msg=name)
            assert not np.array_equal(a[name], np.zeros_like(a[name]))
    one = [json.loads(x) for x in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    dp = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    assert len(one) == len(dp) == 3
    for a, b in zip(one, dp, strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert abs(a[key] - b[key]) < 1e-4, (key, a, b)
    kinds = [json.loads(x)["event"] for x in events.read_text().splitlines()]
    assert kinds.count("start") == 1 and kinds.count("done") == 1  # one rank writes events
