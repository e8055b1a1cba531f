"""A rank that hangs or dies ends the whole run: one clear error, a usable checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from gputrain.mlp.checkpoint import load_checkpoint
from tests.distributed.conftest import mpirun, needs_mpi, rank_pid, start
from tests.mlp.conftest import make_table, write

pytestmark = needs_mpi

MLP = ["--label", "animal", "--hidden", "32", "--batch-size", "8", "--dropout", "0",
       "--val-split", "0", "--quiet"]


def _when(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen in {timeout} s")


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the run did not end within {timeout} s of the failure")


@pytest.mark.parametrize("how", ["hang", "kill"])
def test_mlp_rank_failure_ends_run(tmp_path, how):
    data = write(make_table(rows=3000), tmp_path / "train.parquet")
    model = tmp_path / "model"
    proc = start(2, "mlp", "train", data, *MLP, "--epochs", "500", "-o", model,
                 GPUTRAIN_MPI_TIMEOUT=3)
    try:
        _when(lambda: (model / "checkpoint.npz").exists(), 120, "the first checkpoint")
        pid = _when(lambda: rank_pid(proc.pid, 1), 10, "finding rank 1")
        os.kill(pid, signal.SIGSTOP if how == "hang" else signal.SIGKILL)
        _, err = _finish(proc, 60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    if how == "hang":  # the survivor's line first; mpiexec reports a killed rank itself
        # (MPI_Abort sends SIGCONT before SIGKILL: the stopped rank may time out too)
        assert errors and errors[0] == (
            "error: rank 0 of 2: an allreduce did not complete in 3 s: another rank died or "
            "hangs (GPUTRAIN_MPI_TIMEOUT sets the limit)"), err
        assert all("did not complete in 3 s" in line for line in errors), err
    assert "Traceback" not in err
    done = load_checkpoint(model)[0]["loop"]["epoch"]
    resumed = mpirun(2, "mlp", "train", data, "--resume", model, "--epochs", done + 1)
    assert resumed.returncode == 0, resumed.stderr
    assert f"epoch {done + 1}: loss" in resumed.stdout


def test_w2v_killed_rank_then_resume_continues(tmp_path):
    from tests.distributed.test_w2v_mpi import austen

    corpus = austen(tmp_path, 20_000)
    args = ["w2v", corpus, "--dim", 16, "--epochs", 10, "--sync-words", 3000,
            "--checkpoint-every", 10_000, "--quiet", "--keep-checkpoint"]
    whole = mpirun(2, *args, "-o", tmp_path / "whole.txt", timeout=240)
    assert whole.returncode == 0, whole.stderr
    out, ckpt = tmp_path / "cut.txt", tmp_path / "cut.txt.ckpt"
    proc = start(2, *args, "-o", out, GPUTRAIN_MPI_TIMEOUT=10)
    try:
        _when(lambda: (ckpt / "checkpoint.npz").exists(), 120, "the first checkpoint")
        time.sleep(0.2)
        os.kill(_when(lambda: rank_pid(proc.pid, 1), 10, "finding rank 1"), signal.SIGKILL)
        _finish(proc, 60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and not out.exists()
    resumed = mpirun(2, *args, "-o", out, "--resume", timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_text() == (tmp_path / "whole.txt").read_text()
