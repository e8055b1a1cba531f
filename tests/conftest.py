"""Where gpu-marked tests run: on CuPy with a GPU, on the CuPy stand-in without one.

``GPUTRAIN_CUPY`` chooses: ``auto`` (default: CuPy when this machine has an NVIDIA GPU,
else the stand-in), ``cupy`` (CuPy; a GPU it cannot use is an error) or ``standin``
(tests/standin, also on a GPU machine). On a machine with a GPU, a CuPy that fails to
import or to see it stops the session with the reason: it never turns into skipped tests.

With the stand-in, gpu-marked tests see 2 fake devices (in this process, and in the
subprocesses they start: ``PYTHONPATH`` and ``GPUTRAIN_STANDIN_DEVICES`` are set for
them); every other test sees none, as on a machine without a GPU.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

STANDIN_DIR = Path(__file__).resolve().parent / "standin"
STANDIN_DEVICES = 2


def _gpu_hardware() -> bool:
    """An NVIDIA GPU is installed (driver loaded), whether or not CuPy can use it."""
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()


def _mode() -> str:
    mode = os.environ.get("GPUTRAIN_CUPY", "auto").strip().lower() or "auto"
    if mode not in ("auto", "cupy", "standin"):
        raise pytest.UsageError(f"GPUTRAIN_CUPY={mode!r}: use auto, cupy or standin")
    if mode == "auto":
        mode = "cupy" if _gpu_hardware() else "standin"
    return mode


MODE = _mode()
if MODE == "standin":
    sys.path.insert(0, str(STANDIN_DIR))
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    import cupy  # noqa: E402 (the stand-in, now first on sys.path)

    assert getattr(cupy, "standin", None) is not None, cupy.__file__
    cupy.standin.set_devices(0)


def pytest_report_header(config):
    if MODE == "standin":
        return f"gpu tests: CuPy stand-in ({STANDIN_DIR}), {STANDIN_DEVICES} fake devices"
    return "gpu tests: CuPy on the GPU"


def pytest_sessionstart(session):
    if MODE != "cupy":
        return
    from gputrain import backend

    cupy = backend.cupy_module()
    if cupy is None:
        raise pytest.UsageError(f"GPUTRAIN_CUPY=cupy / a GPU is present, but CuPy does not"
                                f" import: {backend._cupy_state['error']!r}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # wrong CUDA major for the driver, no permission...
        raise pytest.UsageError(f"a GPU is present, but CuPy cannot use it: {e!r}") from e
    if count < 1:
        raise pytest.UsageError("GPUTRAIN_CUPY=cupy but CuPy sees no CUDA device")


def standin_env(devices: int = STANDIN_DEVICES) -> dict[str, str]:
    """Environment variables that put a subprocess on the stand-in with ``devices``."""
    path = os.pathsep.join(p for p in (str(STANDIN_DIR), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path, "GPUTRAIN_STANDIN_DEVICES": str(devices)}


def _fake_nvml() -> Path | None:
    """tests/standin/nvml built into a cached libnvidia-ml.so.1; its folder (None: no cc)."""
    source = STANDIN_DIR / "nvml" / "libnvidia-ml.c"
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    key = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"gputrain-fake-nvml-{key}"
    lib = folder / "libnvidia-ml.so.1"
    if not lib.exists():
        folder.mkdir(exist_ok=True)
        tmp = folder / f"lib.{os.getpid()}.tmp"
        subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(tmp), str(source)],
                       check=True, timeout=120)
        os.replace(tmp, lib)
    return folder


@pytest.fixture(autouse=True)
def _gpu_devices(request, monkeypatch):
    """gpu-marked tests get the fake devices (here and in subprocesses, with the NVML
    stand-in for those); others none."""
    if MODE != "standin" or request.node.get_closest_marker("gpu") is None:
        yield
        return
    import cupy

    for key, value in standin_env().items():
        monkeypatch.setenv(key, value)
    nvml = _fake_nvml()
    if nvml is not None:
        ld_path = os.pathsep.join(p for p in (str(nvml), os.environ.get("LD_LIBRARY_PATH"))
                                  if p)
        monkeypatch.setenv("LD_LIBRARY_PATH", ld_path)
    cupy.standin.set_devices(STANDIN_DEVICES)
    cupy.standin.counters.reset()
    try:
        yield
    finally:
        cupy.standin.set_devices(0)


@pytest.fixture
def standin_counters():
    """The stand-in's counters, reset (launches, raw_launches, h2d_bytes, d2h_bytes,
    syncs, kernels); skips on a real GPU, where nothing counts."""
    if MODE != "standin":
        pytest.skip("counters exist only on the CuPy stand-in")
    import cupy

    cupy.standin.counters.reset()
    return cupy.standin.counters


class CliRunner:
    """Run ``gputrain`` in this process: ``run(*args)`` -> (exit code, stdout, stderr);
    ``fails(*args)`` asserts the one-line ``error: ...`` and exit 2 and returns the line."""

    def __init__(self, capsys):
        self.capsys = capsys

    def run(self, *args) -> tuple[int, str, str]:
        from gputrain.cli import main

        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code
        out, err = self.capsys.readouterr()
        return code, out, err

    def fails(self, *args) -> str:
        code, out, err = self.run(*args)
        assert code == 2, (code, out, err)
        assert "Traceback" not in err + out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        return lines[0]


@pytest.fixture
def cli(capsys) -> CliRunner:
    return CliRunner(capsys)
