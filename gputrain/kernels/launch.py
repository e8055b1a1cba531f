"""Compiling and launching ``kernels/*.cu``: the module cache, argument checks, grid sizes.

Each ``.cu`` file is compiled once per device (``cupy.RawModule``, memoized) and each kernel
looked up once. The kernel families (``losses``, ``sparse_rows``, ``w2v_device``, ``adam``,
``bias_act``) read ``BLOCK`` and ``MAX_GRID`` through this module (``launch.BLOCK``), and
``load_module`` is called through it, so tests/kernels/conftest.py can swap all three here
to run the kernels on the CPU emulator.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy

from gputrain import backend
from gputrain.errors import GputrainError

SOURCES = ("losses.cu", "sparse_rows.cu", "w2v_device.cu", "adam.cu", "bias_act.cu")
NVRTC_OPTIONS = ("--std=c++17",)
BLOCK = 256  # threads per block of the elementwise kernels
MAX_GRID = 65535  # their grid-stride loops cover any size with at most this many blocks
SHARED_DEFAULT = 48 * 1024  # dynamic shared memory a launch gets without opting in
_INT_MAX = 2**31 - 1

_modules: dict = {}
_functions: dict = {}
_lock = threading.Lock()


def kernel_dir() -> Path:
    """Directory holding the ``.cu`` files (inside the installed package or the checkout)."""
    package = Path(__file__).resolve().parent.parent  # gputrain/
    for candidate in (package / "_kernels", package.parent / "kernels"):
        if (candidate / SOURCES[0]).is_file():
            return candidate
    raise GputrainError(f"CUDA kernel sources not found next to {package} (broken installation)")


def kernel_source(filename: str) -> str:
    return (kernel_dir() / filename).read_text()


def load_module(filename: str, like):
    """The compiled module of ``filename`` for the device ``like`` lives on (memoized)."""
    cupy = backend.cupy_module()
    if cupy is None or not backend.is_gpu_array(like):
        raise GputrainError(
            f"gputrain.kernels needs CuPy arrays on a CUDA device, got {type(like).__name__}"
        )
    key = (int(like.device.id), filename)
    with _lock:
        module = _modules.get(key)
        if module is None:
            with cupy.cuda.Device(key[0]):
                module = cupy.RawModule(code=kernel_source(filename), options=NVRTC_OPTIONS)
            _modules[key] = module
    return module


def function(filename: str, name: str, like):
    """The kernel ``name`` of ``filename`` on ``like``'s device (memoized: cupy's
    ``get_function`` builds a new RawKernel object on every call)."""
    module = load_module(filename, like)
    key = (id(module), name)
    entry = _functions.get(key)
    if entry is None:
        entry = _functions[key] = (module, module.get_function(name))  # module kept alive
    return entry[1]


def check(op: str, what: str, a, dtype, ndim: int | None = None):
    if not hasattr(a, "dtype") or not hasattr(a, "flags"):
        raise GputrainError(f"kernels.{op}: {what} must be an array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise GputrainError(
            f"kernels.{op}: {what} must be {numpy.dtype(dtype).name}, got {a.dtype}"
        )
    if not a.flags.c_contiguous:
        raise GputrainError(
            f"kernels.{op}: {what} must be C-contiguous (kernels ignore strides);"
            " pass xp.ascontiguousarray(...)"
        )
    if ndim is not None and a.ndim != ndim:
        raise GputrainError(f"kernels.{op}: {what} must be {ndim}-D, got shape {a.shape}")
    if a.size > _INT_MAX:
        raise GputrainError(f"kernels.{op}: {what} has {a.size} elements, over 2**31 - 1")
    return a


def same_shape(op: str, what: str, a, shape) -> None:
    if tuple(a.shape) != tuple(shape):
        raise GputrainError(f"kernels.{op}: {what} must have shape {tuple(shape)}, got {a.shape}")


def grid_for(n: int) -> int:
    """Blocks of ``BLOCK`` threads for ``n`` elements of a grid-stride loop."""
    return max(1, min(MAX_GRID, math.ceil(n / BLOCK)))


def xp_of(a):
    return backend.get_array_module(a)
