"""Trainer subprocesses: start one per job attempt, signal it, and clean up after a crash.

Each trainer runs in a process group of its own (so a signal reaches anything it starts)
and, on Linux, with ``PR_SET_PDEATHSIG`` = :data:`~gputrain.stopping.PARENT_DIED_SIGNAL`:
if the server dies, even by ``kill -9``, its trainers are told to checkpoint and stop. The
kernel sends that signal once per exiting server thread; the trainer checkpoints once
however many arrive (repeated SIGTERMs would mean "stop now, no checkpoint"). The server
records each trainer's PID in the store; the next server start looks for survivors
(checking that the PID still runs a trainer of that job, as PIDs get reused) and stops
them before it re-queues their jobs.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gputrain.service.constants import ERROR_MESSAGE_CHARS, TOKEN_ENV
from gputrain.stopping import PARENT_DIED_SIGNAL

PR_SET_PDEATHSIG = 1

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _prctl = None

# environment variables a trainer must not inherit from the server
_SCRUBBED_ENV = (TOKEN_ENV, "GPUTRAIN_DEVICE", "CUDA_VISIBLE_DEVICES")


# a job on several GPUs is one mpiexec launch on this node: MPI's traffic stays on
# loopback and shared memory (no ptrace-based copies: containers forbid them), any number of
# ranks per core, no CPU binding; root (a container) is allowed
MPI_ENV = {
    "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMPI_MCA_hwloc_base_binding_policy": "none",
}
ROOT_MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def mpi_missing() -> str | None:
    """Why this server cannot start a job on several devices (None: it can)."""
    if shutil.which("mpiexec") is None:
        return "needs MPI's mpiexec on the server (apt-get install openmpi-bin libopenmpi-dev)"
    if importlib.util.find_spec("mpi4py") is None:
        return "needs mpi4py on the server (pip install 'gputrain[mpi]')"
    return None


def mpi_launch(argv: list[str], ranks: int) -> tuple[list[str], dict[str, str]]:
    """``argv`` as ``ranks`` MPI ranks on this node: the command and its extra environment."""
    env = MPI_ENV | (ROOT_MPI_ENV if os.geteuid() == 0 else {})
    return [shutil.which("mpiexec") or "mpiexec", "-n", str(ranks), *argv], env


def kill_session(sid: int) -> None:
    """SIGKILL every process of session ``sid`` (a trainer's: mpiexec puts each rank in a
    process group of its own, out of reach of :func:`signal_group`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 3 and fields[3] == str(sid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _die_with_parent(parent_pid: int):
    def setup():  # runs in the child between fork and exec: no locks, no imports
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, PARENT_DIED_SIGNAL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the server died before prctl took effect
            os._exit(1)

    return setup


def trainer_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    """Start a trainer: stdout and stderr to ``log_path``, its own process group."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )


def signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group led by ``pid``; False if it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def runs_trainer_of(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line mentions ``marker`` (the job dir)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline and b"gputrain" in cmdline


def stop_orphans(trainers: list[tuple[int, str]], grace_seconds: float) -> int:
    """Stop a previous server's trainers, given as (pid, marker): SIGTERM, then SIGKILL.

    Returns how many were still running. They get ``grace_seconds`` together to write
    their checkpoint (PR_SET_PDEATHSIG already asked them to when the server died; this
    SIGTERM is their first, so it only asks again).
    """
    alive = [(pid, m) for pid, m in trainers if runs_trainer_of(pid, m)]
    for pid, _ in alive:
        signal_group(pid, signal.SIGTERM)
    for sig, wait in ((signal.SIGKILL, grace_seconds), (None, 5.0)):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(runs_trainer_of(p, m) for p, m in alive):
            time.sleep(0.1)
        for pid, marker in alive:
            if sig is not None and runs_trainer_of(pid, marker):
                signal_group(pid, sig)
    return len(alive)


def error_message(log_path: Path, returncode: int) -> str:
    """One line for a failed job: the trainer's ``error: ...`` line, else its last line."""
    last = ""
    with contextlib.suppress(OSError):
        with open(log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", errors="replace")
        lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:")]
        if errors:
            return errors[-1][len("error:"):].strip()[:ERROR_MESSAGE_CHARS]
        last = lines[-1] if lines else ""
    if returncode < 0:
        what = f"trainer was killed by {_signal_name(-returncode)}"
    else:
        what = f"trainer exited with status {returncode}"
    return (f"{what}: {last}" if last else what)[:ERROR_MESSAGE_CHARS]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name in the enum
        return f"signal {number}"
