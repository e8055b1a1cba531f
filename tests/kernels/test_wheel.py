"""kernels/*.cu ship inside the wheel (as gputrain/_kernels) and a non-editable install
finds them: build the wheel from a copy of the tree, install it into a plain directory and
load every kernel source from there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gputrain import kernels

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_kernels_and_installed_package_loads_them(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "gputrain", src / "gputrain", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "kernels", src / "kernels", ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
                    str(src)], check=True, timeout=100, capture_output=True)
    (wheel,) = tmp_path.glob("gputrain-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for source in kernels.SOURCES:
        assert f"gputrain/_kernels/{source}" in shipped
    assert "gputrain/_kernels/host_emulation.h" in shipped

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, timeout=60, capture_output=True)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from gputrain import kernels;"
        "assert kernels.__file__.startswith(sys.argv[1]), kernels.__file__;"
        "print(kernels.kernel_dir());"
        "print(sum(len(kernels.kernel_source(s)) for s in kernels.SOURCES))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(site)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, check=True)
    where, size = done.stdout.split()
    assert Path(where) == site / "gputrain" / "_kernels" and not Path(where).is_symlink()
    assert int(size) == sum(len(kernels.kernel_source(s)) for s in kernels.SOURCES)
