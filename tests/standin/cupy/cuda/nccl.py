"""``cupy.cuda.nccl`` stand-in: NCCL communicators between rank processes, for tests.

A test double, not NCCL. It follows CuPy's API (``get_unique_id()``, a tuple of 128 ints;
``NcclCommunicator(ndev, commId, rank)``, one rank per process on its current device;
``allReduce(sendbuf, recvbuf, count, datatype, op, stream)`` with raw pointers;
``groupStart()`` / ``groupEnd()``; ``abort()``; the ``NCCL_*`` datatype and op constants
with NCCL's values), but the data moves over MPI (mpi4py, imported when a communicator is
made), so the processes must be the ranks of one ``mpiexec`` launch:

* making a communicator is collective over ``MPI_COMM_WORLD`` (every rank of the launch
  makes one, as in ``ncclCommInitRank``); ranks sharing ``commId`` form it, ordered by
  ``rank``. Two ranks on the same fake GPU of one host fail as NCCL does ("Duplicate GPU
  detected", ``NCCL_ERROR_INVALID_USAGE``).
* ``allReduce`` reads ``sendbuf`` (the host address behind a stand-in array's
  ``.data.ptr``), starts an MPI ``Iallreduce`` and returns at once, as NCCL queues work on
  a stream. The result lands in ``recvbuf`` when an event recorded after it is polled
  (``Event.done``) or synchronised, the stream or device is synchronised, or any device
  data is read (``_state.drain``): later work sees it, as on a stream.
* ``abort()`` drops this communicator's queued work (its buffers are then undefined).

Fault injection (tests of a rank that dies or hangs inside a device collective):
``GPUTRAIN_STANDIN_NCCL_FAULT=stop:R:K`` (or ``kill:R:K``) makes NCCL rank ``R`` send
itself SIGSTOP (SIGKILL) in its ``K``-th ``allReduce`` (counting from 1).

Not emulated: ``initAll`` (several devices in one process), the other collectives, and
anything about speed, NVLink or the network.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import zlib

import numpy as np

from cupy import _state

available = True
FAULT_ENV = "GPUTRAIN_STANDIN_NCCL_FAULT"

# ncclDataType_t and ncclRedOp_t, with NCCL's values
NCCL_INT8 = NCCL_CHAR = 0
NCCL_UINT8 = 1
NCCL_INT32 = NCCL_INT = 2
NCCL_UINT32 = 3
NCCL_INT64 = 4
NCCL_UINT64 = 5
NCCL_FLOAT16 = NCCL_HALF = 6
NCCL_FLOAT32 = NCCL_FLOAT = 7
NCCL_FLOAT64 = NCCL_DOUBLE = 8
NCCL_BFLOAT16 = 9
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4

_DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32,
           NCCL_UINT32: np.uint32, NCCL_INT64: np.int64, NCCL_UINT64: np.uint64,
           NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
_ERRORS = {1: "NCCL_ERROR_UNHANDLED_CUDA_ERROR", 2: "NCCL_ERROR_SYSTEM_ERROR",
           3: "NCCL_ERROR_INTERNAL_ERROR", 4: "NCCL_ERROR_INVALID_ARGUMENT",
           5: "NCCL_ERROR_INVALID_USAGE"}
_group = [0]  # groupStart() depth


class NcclError(RuntimeError):
    def __init__(self, status: int, detail: str = ""):
        self.status = status
        name = _ERRORS.get(status, f"NCCL_ERROR_{status}")
        super().__init__(f"{name}: {detail}" if detail else name)


def get_version() -> int:
    return 22304  # 2.23.4


def get_build_version() -> int:
    return 22304


def get_unique_id() -> tuple:
    return tuple(int(b) for b in np.frombuffer(os.urandom(128), np.int8))


def groupStart() -> None:  # noqa: N802 (CuPy's name)
    _group[0] += 1


def groupEnd() -> None:  # noqa: N802
    if _group[0] == 0:
        raise NcclError(5, "groupEnd without groupStart")
    _group[0] -= 1


class _Queued:
    """One allReduce in flight: its MPI request, its buffers (MPI reads and writes them
    until it completes) and where its result goes."""

    def __init__(self, comm, request, send: np.ndarray, out: np.ndarray, recvbuf: int,
                 average: bool):
        self.comm, self.request, self.send, self.out = comm, request, send, out
        self.recvbuf, self.average = recvbuf, average
        self.landed = False

    def _land(self) -> None:
        if self.average:
            self.out /= self.comm.size()
        ctypes.memmove(self.recvbuf, self.out.ctypes.data, self.out.nbytes)
        self.landed = True
        _state.queued.remove(self)

    def test(self) -> bool:
        if not self.landed and not self.comm.aborted and self.request.Test():
            self._land()
        return self.landed

    def wait(self) -> None:
        if not self.landed:
            self.request.Wait()
            self._land()


class NcclCommunicator:
    def __init__(self, ndev: int, commId: tuple, rank: int):  # noqa: N803 (CuPy's names)
        if not 0 <= rank < ndev:
            raise NcclError(4, f"rank {rank} of {ndev}")
        if len(commId) != 128:
            raise NcclError(4, "commId is not a unique id from get_unique_id()")
        from mpi4py import MPI

        color = zlib.crc32(bytes(np.array(commId, np.int8).view(np.uint8))) & 0x7FFFFFFF
        self._comm = MPI.COMM_WORLD.Split(color, rank)
        self._mpi = MPI
        self._rank, self._ndev = rank, ndev
        self._device = _state.current_device()
        self.aborted = False
        self._calls = 0
        where = (socket.gethostname(), _state.devices.visible[self._device])
        places = self._comm.allgather((rank, where))
        if self._comm.Get_size() != ndev or sorted(r for r, _ in places) != list(range(ndev)):
            raise NcclError(5, f"{self._comm.Get_size()} processes joined a communicator "
                               f"of {ndev} ranks")
        seen: dict = {}
        for other, place in sorted(places):
            if place in seen:
                raise NcclError(5, f"Duplicate GPU detected : rank {other} and rank "
                                   f"{seen[place]} both on CUDA device {place[1]}")
            seen[place] = other

    def device_id(self) -> int:
        return self._device

    def rank_id(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._ndev

    def allReduce(self, sendbuf: int, recvbuf: int, count: int, datatype: int,  # noqa: N802
                  op: int, stream: int) -> None:
        if self.aborted:
            raise NcclError(5, "the communicator was aborted")
        if datatype not in _DTYPES or op not in (NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN,
                                                 NCCL_AVG):
            raise NcclError(4, f"datatype {datatype} / op {op} (the stand-in has no halves)")
        self._calls += 1
        self._fault()
        _state.drain()  # the stream runs earlier work first
        send = np.empty(count, _DTYPES[datatype])
        ctypes.memmove(send.ctypes.data, sendbuf, send.nbytes)
        out = np.empty_like(send)
        mpi_op = {NCCL_SUM: self._mpi.SUM, NCCL_PROD: self._mpi.PROD, NCCL_MAX: self._mpi.MAX,
                  NCCL_MIN: self._mpi.MIN, NCCL_AVG: self._mpi.SUM}[op]
        request = self._comm.Iallreduce(send, out, mpi_op)
        _state.queued.append(_Queued(self, request, send, out, recvbuf, op == NCCL_AVG))
        _state.count_launch()

    def _fault(self) -> None:
        how, _, rest = os.environ.get(FAULT_ENV, "").partition(":")
        rank, _, call = rest.partition(":")
        if how and rank == str(self._rank) and call == str(self._calls):
            os.kill(os.getpid(), signal.SIGSTOP if how == "stop" else signal.SIGKILL)

    def check_async_error(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True
        _state.queued[:] = [w for w in _state.queued if w.comm is not self]

    def destroy(self) -> None:
        self.abort()
