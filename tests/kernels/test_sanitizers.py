"""The emulated kernel tests once more under gcc's ThreadSanitizer and AddressSanitizer,
and proof that they bite: a kernel with its __syncthreads() removed fails under TSan, a row
id one past the end of the table fails under ASan. Each run is a subprocess python with the
sanitizer runtime preloaded, under a timeout (a divergent barrier would hang the emulator).
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

HERE = Path(__file__).resolve().parent
REPORTS = {"thread": "WARNING: ThreadSanitizer", "address": "ERROR: AddressSanitizer"}


def run_sanitized(emulator, sanitize: str, argv: list[str], timeout: int):
    if emulator.sanitizer_runtime(sanitize) is None:
        pytest.skip(f"gcc's {sanitize} sanitizer runtime is not installed")
    env = emulator.sanitizer_env(sanitize)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=HERE.parents[1])
    if "unexpected memory mapping" in done.stderr:  # TSan vs high-entropy ASLR: retry without
        argv = ["setarch", platform.machine(), "-R", *argv]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=HERE.parents[1])
    return done


@pytest.mark.parametrize("tests", ["test_kernels_vs_twins.py", "test_w2v_device.py"])
@pytest.mark.parametrize("sanitize", ["thread", "address"])
def test_emulated_kernel_tests_pass_under_sanitizer(emulator, sanitize, tests):
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
            str(HERE / tests)]
    done = run_sanitized(emulator, sanitize, argv, timeout=200)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and REPORTS[sanitize] not in output, output[-4000:]


@pytest.mark.parametrize(
    "mode,sanitize,report",
    [
        ("race", "thread", "ThreadSanitizer: data race"),
        ("overflow", "address", "AddressSanitizer: heap-buffer-overflow"),
    ],
)
def test_broken_kernel_fails_under_sanitizer(emulator, mode, sanitize, report):
    """The same launches done right pass in the runs above (same kernels, same checks)."""
    argv = [sys.executable, str(HERE / "sanitizer_probe.py"), mode, sanitize]
    done = run_sanitized(emulator, sanitize, argv, timeout=120)
    assert done.returncode == 66 and report in done.stderr, (done.returncode, done.stderr[-4000:])
    assert ("softmax_xent_forward" if mode == "race" else "sgd_rows") in done.stderr
