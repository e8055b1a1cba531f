"""Every kernels/*.cu compiles with NVRTC, the compiler CuPy uses for RawKernels, for the
GPU generations we support, with no errors and no warnings. NVRTC needs no driver or GPU.
NVRTC accepts less than g++ (no <cmath>, no INFINITY), so this keeps the host build honest.
NVRTC comes from the nvidia-cuda-nvrtc wheel through ctypes (tests/kernels/nvrtc.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gputrain import kernels

_spec = importlib.util.spec_from_file_location("gputrain_tests_nvrtc",
                                               Path(__file__).with_name("nvrtc.py"))
nvrtc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nvrtc)

ARCHES = ("compute_75", "compute_80", "compute_90")  # CUDA 13 dropped compute_70
SOURCES = sorted(p.name for p in kernels.kernel_dir().glob("*.cu"))


def compile_log(source: str, name: str, arch: str) -> tuple[bool, str]:
    try:
        program = nvrtc.createProgram(source, name, [], [])
    except OSError as e:  # the NVRTC library itself is missing
        pytest.skip(f"NVRTC unavailable: {e}")
    try:
        nvrtc.compileProgram(program, [f"--gpu-architecture={arch}", *kernels.NVRTC_OPTIONS])
        ok = True
    except nvrtc.NVRTCError:
        ok = False
    log = nvrtc.getProgramLog(program)
    nvrtc.destroyProgram(program)
    return ok, log.strip("\x00").strip()


def test_every_loaded_source_is_checked():
    assert set(kernels.SOURCES) == set(SOURCES)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", SOURCES)
def test_kernel_compiles_cleanly(name, arch):
    ok, log = compile_log(kernels.kernel_source(name), name, arch)
    assert ok and log == "", f"NVRTC on {name} for {arch}:\n{log}"


def test_a_broken_kernel_fails_the_check():
    ok, log = compile_log('extern "C" __global__ void k(float* x) { int unused; x[0] = y; }',
                          "broken.cu", ARCHES[0])
    assert not ok and "identifier \"y\" is undefined" in log
    ok, log = compile_log('extern "C" __global__ void k(float* x) { int unused; x[0] = 1; }',
                          "warns.cu", ARCHES[0])
    assert ok and "warning" in log
