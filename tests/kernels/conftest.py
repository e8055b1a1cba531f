"""Fixtures that run one test body on CuPy (with a GPU) or on the CPU emulator (without)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from gputrain import backend
from gputrain import kernels as gpu_kernels

_HERE = Path(__file__).resolve().parent


def _load_emulator():
    name = "gputrain_tests_kernel_emulator"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / "emulator.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """tests/kernels/emulator.py, building into this session's temporary directory."""
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        pytest.skip("no g++ to build the CPU emulation of the kernels")
    if not os.environ.get("GPUTRAIN_EMU_CACHE"):
        os.environ["GPUTRAIN_EMU_CACHE"] = str(tmp_path_factory.mktemp("emu"))
    return _load_emulator()


@pytest.fixture(scope="session")
def raw_module(emulator):
    """``raw_module("losses.cu")``: a cupy.RawModule on a GPU, an EmulatedModule otherwise
    (built with $GPUTRAIN_EMU_SANITIZE, if set, when run under a sanitizer)."""
    cache = {}
    sanitize = os.environ.get("GPUTRAIN_EMU_SANITIZE") or None

    def load(filename: str):
        if filename not in cache:
            if _on_gpu():
                cupy = backend.cupy_module()
                cache[filename] = cupy.RawModule(code=gpu_kernels.kernel_source(filename),
                                                 options=gpu_kernels.NVRTC_OPTIONS)
            else:
                path = gpu_kernels.kernel_dir() / filename
                cache[filename] = emulator.EmulatedModule(path=path, sanitize=sanitize)
        return cache[filename]

    return load


def _on_gpu() -> bool:
    """Kernels run on the GPU when there is one, unless this is a sanitizer run."""
    return backend.gpu_available() and not os.environ.get("GPUTRAIN_EMU_SANITIZE")


@pytest.fixture
def xp():
    """The array module the kernels run on here: cupy with a GPU, numpy on the emulator."""
    return backend.cupy_module() if _on_gpu() else np


@pytest.fixture
def kernels(raw_module, monkeypatch):
    """gputrain.kernels, launching on the emulator when there is no GPU. There, blocks are
    smaller (fewer CPU threads) and grids at most 3 blocks, so each thread runs several
    turns of its grid-stride loop."""
    if not _on_gpu():
        launch = gpu_kernels.launch  # where the kernel families look these up
        monkeypatch.setattr(launch, "load_module", lambda name, like: raw_module(name))
        monkeypatch.setattr(launch, "MAX_GRID", 3)
        monkeypatch.setattr(launch, "BLOCK", 64)
    return gpu_kernels
