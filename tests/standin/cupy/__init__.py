"""A CuPy stand-in for tests: the GPU code path of gputrain, run on the CPU.

Test code, not shipped in the wheel. Device arrays are :class:`ndarray` objects wrapping
NumPy arrays on one of several fake devices; ``RawModule`` / ``RawKernel`` build the real
``kernels/*.cu`` with g++ against ``kernels/host_emulation.h`` and launch them on the CPU
(``cupy/_raw.py``). It refuses what CuPy refuses (``np.asarray(device_array)``, NumPy arrays
in device ops or kernel arguments, arrays of another device than the current one, kernel
arguments of the wrong dtype or not C-contiguous) and counts what a GPU would pay for.

Activate it
-----------
* pytest: automatic. ``tests/conftest.py`` puts this directory first on ``sys.path`` when
  no usable GPU is present (or with ``GPUTRAIN_CUPY=standin``), gives gpu-marked tests 2
  fake devices and everything else none (``cupy.cuda.runtime.getDeviceCount()`` raises, as
  CUDA does without a GPU). Fixtures there: ``standin_counters`` (the counters, reset) and
  ``standin_env`` (the environment for a subprocess, below).
* in-process, elsewhere: ``sys.path.insert(0, "<repo>/tests/standin")`` before anything
  imports cupy, then ``import cupy; cupy.standin.set_devices(2)``.
* a subprocess (a CLI run): ``PYTHONPATH=<repo>/tests/standin[:...]`` and optionally
  ``GPUTRAIN_STANDIN_DEVICES=N`` (default 2). Counters live in each process.

Counters (``cupy.standin``)
---------------------------
``cupy.standin.counters``: ``launches`` (every op that launches device work: elementwise
ops, reductions, matmuls, fills, device copies, random draws, RawKernel launches),
``raw_launches`` and ``kernels`` (RawKernel launches, in all and by name), ``h2d_bytes``,
``d2h_bytes``, ``syncs`` (``asnumpy``, ``.get()``, ``float()/int()/bool()/.item()/.tolist()``
of a device value, boolean masks and other data-dependent shapes, stream / device / event
synchronize). ``counters.reset()``, ``counters.snapshot()`` (a dict), or
``with cupy.standin.counting() as c:``.

Not faithful (only a real GPU shows these): speed, asynchrony (work is done when a call
returns), concurrency between blocks of a kernel (they run one after another), memory
limits, driver and NVRTC behaviour (asynchrony, except NCCL collectives: queued until the
other ranks take part). Random streams differ from CuPy's (and, on purpose,
from NumPy's). ``cupy.cuda.nccl`` is a test double between the ranks of one ``mpiexec``
launch (one rank per fake device; the data moves over MPI): see ``cuda/nccl.py``.
"""

from __future__ import annotations

import numpy as _np
from numpy import (  # noqa: F401 (the dtypes and constants CuPy re-exports)
    bool_,
    complex64,
    complex128,
    dtype,
    e,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    inf,
    int8,
    int16,
    int32,
    int64,
    intp,
    nan,
    newaxis,
    pi,
    uint8,
    uint16,
    uint32,
    uint64,
)

from cupy import _state, _ufuncs, cuda, random, standin  # noqa: F401
from cupy._ndarray import ndarray
from cupy._raw import RawKernel, RawModule
from cupy._routines import (  # noqa: F401
    ROUTINES,
    allclose,
    arange,
    array,
    asarray,
    ascontiguousarray,
    asfortranarray,
    asnumpy,
    copy,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    get_array_module,
    identity,
    linalg,
    linspace,
    may_share_memory,
    ndim,
    ones,
    ones_like,
    shares_memory,
    where,
    zeros,
    zeros_like,
)
from cupy._ufuncs import ufunc  # noqa: F401
from cupy.cuda.memory import _default as _pool
from cupy.cuda.memory import _pinned as _pinned_pool

__version__ = "13.6.0+standin"
float_ = float64
int_ = int64
bool = bool_  # noqa: A001 (CuPy's name)

globals().update(ROUTINES)
for _name in _ufuncs.NAMES + ("abs", "conj"):
    globals()[_name] = getattr(_ufuncs, _name)


def get_default_memory_pool():
    return _pool


def get_default_pinned_memory_pool():
    return _pinned_pool


def is_available() -> bool:
    return cuda.is_available()


def result_type(*args):
    return _np.result_type(*[a.dtype if isinstance(a, ndarray) else a for a in args])


def can_cast(from_, to, casting="safe"):
    return _np.can_cast(from_.dtype if isinstance(from_, ndarray) else from_, to, casting)


__all__ = ["RawKernel", "RawModule", "ndarray"]
