"""Run kernels/*.cu on the CPU: g++ builds the unchanged source against
kernels/host_emulation.h into a shared library, loaded with ctypes.

:class:`EmulatedModule` has the call shape of ``cupy.RawModule``:
``EmulatedModule(source).get_function(name)(grid, block, args, shared_mem=0)``, so a test
body runs on CuPy with a GPU and here without one. Arguments are checked against the
kernel's C signature: an array must be a C-contiguous NumPy array of the pointee's dtype,
a scalar must be the NumPy scalar type of the parameter (a Python ``int`` or an
``int64`` for an ``int`` parameter is refused: CuPy would pass 8 bytes and the kernel
would read garbage).

Libraries are cached by a hash of the source, header and flags in ``$GPUTRAIN_EMU_CACHE``
(the test session points it at a temporary directory). ``sanitize="thread"`` or
``"address"`` builds with gcc's sanitizers and real threads per block (the plain build runs
a block's threads as fibers, see kernels/host_emulation.h); such a library only loads into
a process that has the sanitizer runtime preloaded (see ``sanitizer_env``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
KERNEL_DIR = REPO / "kernels"
HEADER = KERNEL_DIR / "host_emulation.h"
CXX = os.environ.get("CXX", "g++")

_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_SCALARS = {
    "float": np.float32,
    "double": np.float64,
    "int": np.int32,
    "unsigned": np.uint32,
    "unsigned int": np.uint32,
    "long long": np.int64,
    "unsigned long long": np.uint64,
}
_SANITIZE_FLAGS = {  # sanitizer builds run a block's threads as real threads
    None: ["-O2"],
    "thread": ["-O1", "-DGPUTRAIN_EMU_THREADS", "-fsanitize=thread"],
    "address": ["-O1", "-DGPUTRAIN_EMU_THREADS", "-fsanitize=address",
                "-fno-omit-frame-pointer"],
}


@dataclass(frozen=True)
class Param:
    name: str
    dtype: type  # numpy scalar type of the value or of the pointee
    pointer: bool
    const: bool


def parse_kernels(source: str) -> dict[str, list[Param]]:
    """``{kernel name: parameters}`` for every ``extern "C" __global__`` function."""
    kernels = {}
    for name, params in _SIGNATURE.findall(source):
        parsed = []
        for raw in params.split(","):
            words = raw.replace("*", " * ").replace("__restrict__", " ").split()
            const = "const" in words
            pointer = "*" in words
            base = " ".join(w for w in words[:-1] if w not in ("const", "*"))
            if base not in _SCALARS or words[-1] == "*":
                raise ValueError(f"{name}: unsupported parameter {raw.strip()!r}")
            parsed.append(Param(words[-1], _SCALARS[base], pointer, const))
        kernels[name] = parsed
    return kernels


def cache_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "gputrain-emu"
    path = Path(os.environ.get("GPUTRAIN_EMU_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _compile(argv: list[str], what: str) -> None:
    done = subprocess.run([CXX, *argv], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"g++ failed on {what}:\n{done.stderr}")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _precompiled_header(flags: list[str]) -> Path:
    """A copy of host_emulation.h with its precompiled .gch beside it (parsing the C++
    standard headers is most of a build); g++ falls back to the text if the .gch is stale."""
    text = HEADER.read_text()
    key = hashlib.sha256("\0".join([text, *flags]).encode()).hexdigest()[:16]
    folder = cache_dir() / f"pch-{key}"
    header, gch = folder / HEADER.name, folder / (HEADER.name + ".gch")
    if not gch.exists():
        folder.mkdir(exist_ok=True)
        _atomic_write(header, text)
        tmp = gch.with_name(f"{gch.name}.{os.getpid()}.tmp")
        _compile([*flags, "-x", "c++-header", str(header), "-o", str(tmp)], HEADER.name)
        os.replace(tmp, gch)
    return header


def build(source: str, filename: str, sanitize: str | None = None) -> tuple[Path, dict]:
    """Compile ``source`` (the text of a .cu file) into a cached shared library."""
    kernels = parse_kernels(source)
    if not kernels:
        raise ValueError(f"{filename}: no extern \"C\" __global__ kernels found")
    launchers = "".join(f"GPUTRAIN_EMU_LAUNCHER({name})\n" for name in kernels)
    unit = f'#line 1 "{filename}"\n{source}\n#line 1 "<launchers>"\n{launchers}'
    flags = ["-std=c++20", "-pthread", "-fPIC", "-g", "-Wall", "-Wextra", "-Werror"]
    flags += _SANITIZE_FLAGS[sanitize]
    key = hashlib.sha256("\0".join([unit, HEADER.read_text(), *flags]).encode()).hexdigest()
    lib = cache_dir() / f"{Path(filename).stem}-{sanitize or 'plain'}-{key[:16]}.so"
    if not lib.exists():
        header = _precompiled_header(flags)
        cpp = lib.with_name(f"{lib.stem}.{os.getpid()}.cpp")
        cpp.write_text(unit)
        tmp = lib.with_name(f"{lib.name}.{os.getpid()}.tmp")
        try:
            _compile([*flags, "-shared", "-include", str(header), "-o", str(tmp), str(cpp)],
                     filename)
        finally:
            cpp.unlink()
        os.replace(tmp, lib)  # atomic: a parallel session never loads half a library
    return lib, kernels


class EmulatedModule:
    """``cupy.RawModule`` look-alike for one .cu file, run on the CPU."""

    def __init__(self, code: str | None = None, path: str | Path | None = None,
                 sanitize: str | None = None, name: str = "<code>.cu"):
        if (code is None) == (path is None):
            raise ValueError("give code or path")
        filename = str(path) if path is not None else name
        code = Path(path).read_text() if path is not None else code
        lib_path, self.kernels = build(code, filename, sanitize)
        self._lib = ctypes.CDLL(str(lib_path))

    def get_function(self, name: str) -> EmulatedFunction:
        if name not in self.kernels:
            raise AttributeError(f"no kernel {name!r} in module (has {sorted(self.kernels)})")
        entry = getattr(self._lib, f"emu_launch_{name}")
        entry.restype = ctypes.c_int
        entry.argtypes = [ctypes.POINTER(ctypes.c_uint), ctypes.c_size_t, ctypes.c_void_p]
        return EmulatedFunction(name, self.kernels[name], entry)


def _dims(value) -> tuple[int, int, int]:
    dims = (value,) if isinstance(value, int) else tuple(value)
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and d >= 0 for d in dims):
        raise ValueError(f"grid/block must be 1 to 3 non-negative ints, got {value!r}")
    return dims + (1,) * (3 - len(dims))


SHARED_DEFAULT = 48 * 1024  # dynamic shared memory a launch may use without opting in
SHARED_OPTIN_MAX = 227 * 1024  # an H100's per-block maximum (kMaxDynamicShared)


class EmulatedFunction:
    """A kernel: ``f(grid, block, args, shared_mem=0)``, arguments checked first. As on a
    GPU, more than 48 KiB of dynamic shared memory needs ``max_dynamic_shared_size_bytes``
    raised first, and not above the device's maximum."""

    def __init__(self, name: str, params: list[Param], entry):
        self.name, self.params, self._entry = name, params, entry
        self._max_shared = SHARED_DEFAULT

    @property
    def max_dynamic_shared_size_bytes(self) -> int:
        return self._max_shared

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, value: int) -> None:
        if not 0 <= value <= SHARED_OPTIN_MAX:
            raise ValueError(f"{self.name}: {value} bytes of shared memory is over the"
                             f" device maximum of {SHARED_OPTIN_MAX}")
        self._max_shared = int(value)

    def _marshal(self, args) -> tuple[list, list]:
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: takes {len(self.params)} arguments, got {len(args)}")
        holders, keep = [], []
        for param, arg in zip(self.params, args, strict=True):
            where = f"{self.name}: argument {param.name!r}"
            if param.pointer:
                if not isinstance(arg, np.ndarray):
                    raise TypeError(f"{where} must be an array, got {type(arg).__name__}")
                if arg.dtype != param.dtype:
                    raise TypeError(f"{where} must be {np.dtype(param.dtype)}, got {arg.dtype}")
                if not arg.flags.c_contiguous:
                    raise ValueError(f"{where} must be C-contiguous (kernels ignore strides)")
                if not param.const and not arg.flags.writeable:
                    raise ValueError(f"{where} is written by the kernel but read-only")
                holders.append(ctypes.c_void_p(arg.ctypes.data))
                keep.append(arg)
            else:
                if type(arg) is not param.dtype:
                    raise TypeError(f"{where} must be a numpy.{np.dtype(param.dtype).name} scalar,"
                                    f" got {type(arg).__module__}.{type(arg).__name__}")
                holders.append(np.ctypeslib.as_ctypes_type(param.dtype)(arg))
        return holders, keep

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        holders, _keep = self._marshal(args)
        if shared_mem > self._max_shared:
            raise ValueError(f"{self.name}: shared_mem={shared_mem} is over the {self._max_shared}"
                             " bytes allowed (raise max_dynamic_shared_size_bytes first)")
        config = (ctypes.c_uint * 6)(*_dims(grid), *_dims(block))
        argv = (ctypes.c_void_p * max(1, len(holders)))(*[ctypes.addressof(h) for h in holders])
        code = self._entry(config, int(shared_mem), argv)
        if code == 4:
            raise RuntimeError(f"{self.name}: threads of a block wait at a barrier that others"
                               " never reach (a divergent __syncthreads/__syncwarp)")
        if code:
            raise ValueError(f"{self.name}: bad launch configuration grid={grid} block={block}"
                             f" shared_mem={shared_mem} (code {code})")


def sanitizer_runtime(sanitize: str) -> str | None:
    """Path of gcc's runtime library for ``sanitize`` ("thread"/"address"), None if absent."""
    runtime = {"thread": "libtsan.so", "address": "libasan.so"}[sanitize]
    done = subprocess.run([CXX, f"-print-file-name={runtime}"], capture_output=True, text=True)
    path = done.stdout.strip()
    return path if done.returncode == 0 and os.path.isabs(path) else None


def sanitizer_env(sanitize: str) -> dict[str, str]:
    """Environment for a subprocess python that loads libraries built with ``sanitize``:
    the runtime preloaded, reports fatal with exit code 66, libraries built sanitized."""
    env = dict(os.environ, LD_PRELOAD=sanitizer_runtime(sanitize), GPUTRAIN_EMU_SANITIZE=sanitize)
    env["TSAN_OPTIONS"] = "halt_on_error=1 exitcode=66 report_signal_unsafe=0"
    env["ASAN_OPTIONS"] = "detect_leaks=0 halt_on_error=1 exitcode=66"
    return env
