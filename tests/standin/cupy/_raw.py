"""``RawModule`` / ``RawKernel`` on the CPU: the real CUDA source is built with g++ against
kernels/host_emulation.h (tests/kernels/emulator.py) and launched there.

A build is cached on disk by a hash of source, header and flags (``$GPUTRAIN_EMU_CACHE``,
else ``$TMPDIR/gputrain-emu``), so each module compiles once and every later process
(a CLI run in a subprocess, the next test session) loads the cached library; in one
process a library loads once. A launch checks what CuPy and CUDA would refuse: NumPy
arrays as arguments (CuPy passes only device arrays), arrays of another device than the
current one (an illegal address on a GPU), a buffer still in use on another stream with no
wait in between (``cupy._order``), then, as the emulator does, each argument
against the kernel's C signature (dtype, C-contiguity, exact NumPy scalar types).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from pathlib import Path

import numpy

from cupy import _order, _state
from cupy._ndarray import ndarray

EMULATOR = Path(__file__).resolve().parents[2] / "kernels" / "emulator.py"
_MODULE_NAME = "gputrain_tests_kernel_emulator"  # shared with tests/kernels/conftest.py
_lock = threading.Lock()
_loaded: dict[str, object] = {}  # source hash -> EmulatedModule


def emulator():
    """tests/kernels/emulator.py, imported once."""
    if _MODULE_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_MODULE_NAME, EMULATOR)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_MODULE_NAME]


def _emulated(code: str):
    key = hashlib.sha256(code.encode()).hexdigest()[:16]
    with _lock:
        module = _loaded.get(key)
        if module is None:
            module = emulator().EmulatedModule(code=code, name=f"rawmodule-{key}.cu")
            _loaded[key] = module
    return module


class RawModule:
    """``cupy.RawModule(code=..., options=...)``; ``path=`` reads a .cu file."""

    def __init__(self, code=None, path=None, options=(), backend="nvrtc", translate_cucomplex=False,
                 enable_cooperative_groups=False, name_expressions=None, jitify=False):
        if (code is None) == (path is None):
            raise TypeError("One of `code` and `path` must be given")
        self.code = Path(path).read_text() if path is not None else code
        self.options = tuple(options)
        self._module = _emulated(self.code)
        self.device_id = _state.current_device()

    def get_function(self, name: str) -> RawKernel:
        return RawKernel(None, name, _module=self._module)


class RawKernel:
    """``cupy.RawKernel(code, name)``, called as ``kernel(grid, block, args, shared_mem=0)``."""

    def __init__(self, code, name, options=(), backend="nvrtc", translate_cucomplex=False,
                 enable_cooperative_groups=False, jitify=False, *, _module=None):
        module = _module if _module is not None else _emulated(code)
        self.name = name
        self._function = module.get_function(name)

    @property
    def max_dynamic_shared_size_bytes(self) -> int:
        return self._function.max_dynamic_shared_size_bytes

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value: int) -> None:
        try:
            self._function.max_dynamic_shared_size_bytes = value
        except ValueError as e:
            from cupy.cuda.runtime import CUDARuntimeError

            raise CUDARuntimeError(1, f"cudaErrorInvalidValue: {e}") from None

    @property
    def attributes(self) -> dict:
        return {"max_dynamic_shared_size_bytes": self.max_dynamic_shared_size_bytes,
                "max_threads_per_block": 1024}

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None,
                 enable_cooperative_groups=False):
        dev = _state.current_device()
        _state.check_device(dev)
        data = []
        for i, arg in enumerate(args):
            if isinstance(arg, numpy.ndarray):
                raise TypeError(f"{self.name}: argument {i} is a numpy.ndarray; a RawKernel"
                                " takes device arrays (Unsupported type <class"
                                " 'numpy.ndarray'>)")
            if isinstance(arg, ndarray):
                if arg._dev != dev:
                    raise ValueError(
                        f"{self.name}: argument {i} lives on device {arg._dev} but the kernel"
                        f" launches on the current device {dev} (an illegal memory access on"
                        " a GPU without peer access)")
                data.append(arg._a)
            else:
                data.append(arg)
        if isinstance(grid, int):
            grid = (grid,)
        if isinstance(block, int):
            block = (block,)
        from cupy.cuda import get_current_stream

        on = get_current_stream() if stream is None else stream
        _order.access([a for a in data if isinstance(a, numpy.ndarray)], on.ptr, self.name)
        self._function(tuple(int(g) for g in grid), tuple(int(b) for b in block), tuple(data),
                       shared_mem=int(shared_mem))
        _state.count_raw(self.name)
