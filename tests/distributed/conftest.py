"""Run ``gputrain`` under ``mpiexec`` (OpenMPI) on this machine only.

MPI's traffic stays on loopback and shared memory (``btl=self,vader``, the out-of-band
channel on ``lo``); root may run it (CI does). Every launch has a timeout. The tests skip
when OpenMPI's ``mpiexec`` or mpi4py is missing (``scripts/test.sh`` installs both).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

MPI_ENV = {
    "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",  # no ptrace-based copies (containers)
    "OMPI_MCA_rmaps_base_oversubscribe": "1",  # more ranks than cores is fine here
    "OMPI_MCA_hwloc_base_binding_policy": "none",
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "GPUTRAIN_DEVICE": "cpu",
}
MAIN = "from gputrain.cli import main; main()"


def _mpiexec() -> str | None:
    path = shutil.which("mpiexec")
    if path is None:
        return None
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return path


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="needs OpenMPI's mpiexec and mpi4py")


def mpi_command(n: int, *args) -> list[str]:
    return [MPIEXEC, "-n", str(n), sys.executable, "-c", MAIN, *map(str, args)]


def mpi_env(**extra) -> dict:
    return {**os.environ, **MPI_ENV, **{k: str(v) for k, v in extra.items()}}


def mpirun(n: int, *args, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    """``mpiexec -n N gputrain ARGS``; killed (with its ranks) after ``timeout`` seconds."""
    proc = start(n, *args, **env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec did not finish in {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_solo(*args, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    """The same command without mpiexec (one process)."""
    env = {**os.environ, "GPUTRAIN_DEVICE": "cpu", **{k: str(v) for k, v in env.items()}}
    return subprocess.run([sys.executable, "-c", MAIN, *map(str, args)], env=env, text=True,
                          capture_output=True, timeout=timeout)


def start(n: int, *args, **env) -> subprocess.Popen:
    """``mpiexec -n N gputrain ARGS`` in the background (its own process group)."""
    return subprocess.Popen(mpi_command(n, *args), env=mpi_env(**env), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of rank ``rank`` among the children of ``mpiexec`` (by its environment)."""
    try:
        children = open(f"/proc/{launcher}/task/{launcher}/children").read().split()
    except OSError:
        return None
    for pid in map(int, children):
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ:
            return pid
    return None


def mpirun_script(n: int, script, *args, timeout: float = 120, **env):
    """``mpiexec -n N python SCRIPT ARGS``."""
    command = [MPIEXEC, "-n", str(n), sys.executable, str(script), *map(str, args)]
    return subprocess.run(command, env=mpi_env(**env), text=True, capture_output=True,
                          timeout=timeout)
