"""NVRTC through ctypes, straight from the ``nvidia-cuda-nvrtc`` wheel's library (no CuPy:
the test extra must not install a second CuPy next to the ``gpu`` extra's). The four calls
the compile tests need, named as ``cupy_backends.cuda.libs.nvrtc`` names them."""

from __future__ import annotations

import ctypes
import glob
import os
from pathlib import Path


class NVRTCError(RuntimeError):
    pass


def _candidates() -> list[str]:
    found = []
    try:
        import nvidia  # namespace package of the NVIDIA wheels
    except ImportError:
        nvidia = None
    for root in getattr(nvidia, "__path__", []):
        # cu13 wheels: nvidia/cu13/lib; cu12 wheels: nvidia/cuda_nvrtc/lib
        found += sorted(glob.glob(os.path.join(root, "*", "lib", "libnvrtc.so*")), reverse=True)
    return [p for p in found if "builtins" not in Path(p).name] + ["libnvrtc.so"]


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise OSError("no libnvrtc found (pip install nvidia-cuda-nvrtc): " + "; ".join(errors))


_lib = None


def _nvrtc():
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def _check(status: int, what: str) -> None:
    if status != 0:
        lib = _nvrtc()
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        raise NVRTCError(f"{what}: {lib.nvrtcGetErrorString(status).decode()} ({status})")


def createProgram(source: str, name: str, headers=(), include_names=()):  # noqa: N802
    program = ctypes.c_void_p()
    _check(_nvrtc().nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(),
                                       0, None, None), "nvrtcCreateProgram")
    return program


def compileProgram(program, options) -> None:  # noqa: N802
    opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    _check(_nvrtc().nvrtcCompileProgram(program, len(options), opts), "nvrtcCompileProgram")


def getProgramLog(program) -> str:  # noqa: N802
    size = ctypes.c_size_t()
    _check(_nvrtc().nvrtcGetProgramLogSize(program, ctypes.byref(size)), "log size")
    buf = ctypes.create_string_buffer(size.value)
    _check(_nvrtc().nvrtcGetProgramLog(program, buf), "nvrtcGetProgramLog")
    return buf.value.decode(errors="replace")


def destroyProgram(program) -> None:  # noqa: N802
    _check(_nvrtc().nvrtcDestroyProgram(ctypes.byref(program)), "nvrtcDestroyProgram")
