"""Data-parallel runs: the ranks of ``mpiexec -n N gputrain ...`` and their collectives.

:func:`world` is the communicator of this process. Without ``mpiexec`` (or with ``-n 1``)
it is :class:`Solo`: rank 0 of 1, every collective returns its input, and mpi4py is never
imported. Under ``mpiexec`` (OpenMPI's ``OMPI_COMM_WORLD_SIZE`` or the PMI's ``PMI_SIZE``
in the environment, more than one rank) it is :class:`MPIComm` over mpi4py.

Every collective has a deadline (``GPUTRAIN_MPI_TIMEOUT`` seconds, default 300): a rank
that died or hangs makes the others raise :class:`CollectiveTimeout` (a GputrainError
naming the collective) instead of waiting forever; the CLI then prints that one line and
ends every rank with :func:`abort` (MPI_Abort). Host buffers (NumPy) travel over MPI;
device buffers (CuPy) over NCCL, whose unique id rank 0 broadcasts over MPI, on the
stream of the current device; :meth:`MPIComm.settle` waits for them under the deadline
(tests run this path on the CuPy stand-in's ``cupy.cuda.nccl``, which moves the data over
MPI).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time

import numpy as np

from gputrain.backend import (
    Device,
    current_stream_ptr,
    gpu_count,
    is_gpu_array,
    nccl_module,
    stream_event,
)
from gputrain.errors import GputrainError

TIMEOUT_ENV = "GPUTRAIN_MPI_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")
_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")

_world: list = []  # the communicator, once made


class CollectiveTimeout(GputrainError):
    """A collective did not complete in time: another rank died or hangs."""


def _env_int(names, default: int) -> int:
    """The first of the variables ``names`` that holds a number (``default``: none)."""
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default


def launched_size() -> int:
    """How many ranks ``mpiexec`` started (1 when not launched by it)."""
    return _env_int(_SIZE_VARS, 1)


def launched_rank() -> int:
    """This process's rank in the ``mpiexec`` launch (0 when not launched by it)."""
    return _env_int(("OMPI_COMM_WORLD_RANK", "PMI_RANK"), 0)


def timeout_seconds() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise GputrainError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {raw!r}")
    return value


class Solo:
    """One process: the collectives of a world of one."""

    rank, size, local_rank = 0, 1, 0

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def allreduce_sum(self, buf):
        """Sum ``buf`` (a 1-D float array, host or device) over the ranks, in place."""
        return buf

    def allreduce_max(self, value: float) -> float:
        return float(value)

    def bcast(self, obj, what: str = "data"):
        """Rank 0's ``obj`` on every rank (picklable)."""
        return obj

    def barrier(self, what: str = "barrier") -> None:
        pass

    def settle(self) -> None:
        """Wait for queued device collectives (with the deadline); a no-op on the host."""

    def device(self, device: Device) -> Device:
        """The GPU this rank uses when ``device`` is a GPU (ranks on a node never share one)."""
        return device


class MPIComm(Solo):
    """The ranks of an ``mpiexec`` launch (mpi4py), with NCCL for device buffers."""

    def __init__(self, comm, timeout: float):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.local_rank = _env_int(_LOCAL_RANK_VARS, 0)  # on this node
        self.local_size = _env_int(_LOCAL_SIZE_VARS, 1)
        self.timeout = timeout
        self._nccl = None
        self._pending = []  # (cupy event, what) of queued NCCL collectives

    # -- host collectives (MPI) -------------------------------------------------------
    def _timeout(self, what: str) -> CollectiveTimeout:
        return CollectiveTimeout(f"{what} did not complete in {self.timeout:g} s: another "
                                 f"rank died or hangs ({TIMEOUT_ENV} sets the limit)")

    def _wait(self, request, what: str) -> None:
        """Poll ``request`` until done or the deadline (non-blocking collectives move only
        inside MPI calls: polled without sleeping, yielding the core between polls)."""
        deadline = time.monotonic() + self.timeout
        while not request.Test():
            if time.monotonic() > deadline:
                raise self._timeout(what)
            os.sched_yield()

    def allreduce_sum(self, buf):
        """In place. On the host a blocking ``MPI_Allreduce`` runs in a helper thread
        while this one waits with the deadline: MPI's blocking algorithms for shared
        memory beat a polled ``MPI_Iallreduce`` (a 3.3 MB sum of 2 ranks took 0.25-0.4 s
        polled under load, 0.02-0.05 s blocking). On a timeout the helper stays blocked
        until :func:`abort` ends the process."""
        if is_gpu_array(buf):
            return self._nccl_allreduce(buf)
        from mpi4py import MPI

        done = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self.comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)
            except BaseException as e:  # noqa: BLE001 (handed to the waiting thread)
                failed.append(e)
            done.set()

        threading.Thread(target=run, name="gputrain-allreduce", daemon=True).start()
        if not done.wait(self.timeout):
            raise self._timeout("an allreduce")
        if failed:
            raise failed[0]
        return buf

    def allreduce_max(self, value: float) -> float:
        from mpi4py import MPI

        send, out = np.array([value], np.float64), np.empty(1, np.float64)
        self._wait(self.comm.Iallreduce(send, out, MPI.MAX), "an allreduce")
        return float(out[0])

    def bcast(self, obj, what: str = "data"):
        data = pickle.dumps(obj) if self.is_root else b""
        n = np.array([len(data)], np.int64)
        self._wait(self.comm.Ibcast(n, root=0), f"the broadcast of {what}")
        buf = np.frombuffer(data, np.uint8).copy() if self.is_root else np.empty(n[0], np.uint8)
        self._wait(self.comm.Ibcast(buf, root=0), f"the broadcast of {what}")
        return obj if self.is_root else pickle.loads(buf.tobytes())

    def barrier(self, what: str = "barrier") -> None:
        self._wait(self.comm.Ibarrier(), what)

    # -- device collectives (NCCL) ----------------------------------------------------
    def device(self, device: Device) -> Device:
        if not device.is_gpu:
            return device
        count = gpu_count()
        if self.local_size > count:  # NCCL refuses two ranks on one GPU
            raise GputrainError(f"{self.local_size} ranks on this node but {count} GPU"
                                f"{'' if count == 1 else 's'}: each rank needs its own "
                                "(start at most as many ranks per node as it has GPUs)")
        return Device("gpu", (device.id + self.local_rank) % count)

    def _nccl_comm(self):
        if self._nccl is None:
            nccl = nccl_module()
            if nccl is None:
                raise GputrainError("a device allreduce needs NCCL (cupy.cuda.nccl), which "
                                    "this CuPy lacks")
            uid = self.bcast(nccl.get_unique_id() if self.is_root else None, "the NCCL id")
            self._nccl = nccl.NcclCommunicator(self.size, uid, self.rank)
        return self._nccl

    def _nccl_allreduce(self, buf):
        nccl = nccl_module()
        dtype = {np.dtype(np.float32): nccl.NCCL_FLOAT32,
                 np.dtype(np.float64): nccl.NCCL_FLOAT64}[np.dtype(buf.dtype)]
        self._nccl_comm().allReduce(buf.data.ptr, buf.data.ptr, buf.size, dtype,
                                    nccl.NCCL_SUM, current_stream_ptr())
        self._pending.append(stream_event())
        return buf

    def settle(self) -> None:
        deadline = time.monotonic() + self.timeout
        while self._pending:
            if self._pending[0].done:
                self._pending.pop(0)
                continue
            if time.monotonic() > deadline:
                self._nccl.abort()
                raise self._timeout("an NCCL allreduce")
            time.sleep(0.001)


def world() -> Solo:
    """This process's communicator (made once; mpi4py is imported only under mpiexec)."""
    if not _world:
        size = launched_size()
        if size <= 1:
            _world.append(Solo())
        else:
            timeout = timeout_seconds()
            try:
                from mpi4py import MPI
            except ImportError:
                raise GputrainError(
                    f"launched by mpiexec with {size} ranks, but mpi4py is not installed: "
                    "pip install 'gputrain[mpi]'") from None
            _world.append(MPIComm(MPI.COMM_WORLD, timeout))
    return _world[0]


def active_size() -> int:
    """Ranks of the communicator made so far (1 when none was made)."""
    return _world[0].size if _world else 1


def abort(code: int) -> None:
    """End every rank now (after a failure on this one): a rank that only exited would
    leave the others waiting in MPI_Finalize or in a collective."""
    sys.stdout.flush()
    sys.stderr.flush()
    if active_size() > 1:
        _world[0].comm.Abort(code)
    sys.exit(code)
