"""``mpiexec -n 2 gputrain ... --device gpu`` on the CuPy stand-in: the NCCL paths.

Each rank imports the stand-in (``PYTHONPATH``) with 2 fake GPUs and takes its own; device
buffers are summed by the stand-in's ``cupy.cuda.nccl``, whose data moves over MPI (a test
double: a real GPU run is ``pytest -m gpu`` territory). Its fault injection makes rank 1
stop or die inside its 2nd device allreduce.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import standin_env
from tests.distributed.conftest import mpirun, mpirun_script, needs_mpi, run_solo
from tests.distributed.test_mlp_mpi import ARGS as MLP_ARGS
from tests.distributed.test_w2v_mpi import austen
from tests.mlp.conftest import make_table, write

pytestmark = needs_mpi
HERE = Path(__file__).parent
FAULT = "GPUTRAIN_STANDIN_NCCL_FAULT"


def gpu_env(devices: int = 2, **extra) -> dict:
    return {**standin_env(devices), "GPUTRAIN_DEVICE": "gpu", **extra}


def test_w2v_device_engine_ranks_end_with_identical_tables(tmp_path):
    corpus = austen(tmp_path, 40_000)
    run = mpirun_script(2, HERE / "w2v_rank_tables.py", corpus, tmp_path, 2, "gpu",
                        **gpu_env())
    assert run.returncode == 0, run.stderr
    a, b = np.load(tmp_path / "rank0.npy"), np.load(tmp_path / "rank1.npy")
    np.testing.assert_array_equal(a, b)
    assert 0 < np.abs(a[:, 20:]).max() < 5  # trained, and the merges did not blow it up
    places = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert places == [{"device": "gpu:0", "nccl_device": 0},
                      {"device": "gpu:1", "nccl_device": 1}]


def test_mlp_two_ranks_on_gpus_equal_one_process(tmp_path):
    data = write(make_table(rows=400), tmp_path / "train.parquet")
    solo = run_solo("mlp", "train", data, *MLP_ARGS, "-o", tmp_path / "one", "--device", "gpu",
                    **gpu_env())
    assert solo.returncode == 0, solo.stderr
    two = mpirun(2, "mlp", "train", data, *MLP_ARGS, "-o", tmp_path / "two", "--device", "gpu",
                 **gpu_env())
    assert two.returncode == 0, two.stderr
    with np.load(tmp_path / "one" / "weights.npz") as a, \
            np.load(tmp_path / "two" / "weights.npz") as b:
        for name in a.files:
            np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-5, err_msg=name)
    one, dp = ((tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("one", "two"))
    for a, b in zip(map(json.loads, one), map(json.loads, dp), strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-4, (a, b)


def test_more_ranks_than_gpus_is_refused(tmp_path):
    corpus = austen(tmp_path, 5_000)
    run = mpirun(2, "w2v", corpus, "-o", tmp_path / "v.txt", "--quiet", **gpu_env(devices=1))
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert errors and "2 ranks on this node but 1 GPU: each rank needs its own" in errors[0], \
        run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_rank_failing_inside_a_device_merge_ends_the_run(tmp_path, how):
    corpus = austen(tmp_path, 20_000)
    run = mpirun(2, "w2v", corpus, "-o", tmp_path / "v.txt", "--dim", 10, "--epochs", 2,
                 "--sync-words", 2000, "--quiet", timeout=90,
                 **gpu_env(GPUTRAIN_MPI_TIMEOUT=3, **{FAULT: f"{how}:1:2"}))
    assert run.returncode != 0 and not (tmp_path / "v.txt").exists()
    assert "Traceback" not in run.stderr
    if how == "stop":  # the survivor times out in its device merge (mpiexec reports a kill)
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert errors and errors[0] == (
            "error: rank 0 of 2: an NCCL allreduce did not complete in 3 s: another rank "
            "died or hangs (GPUTRAIN_MPI_TIMEOUT sets the limit)"), run.stderr
