"""Outputs are written under a temporary name and appear whole, with open()'s permissions."""

from __future__ import annotations

import os

import pytest

from gputrain.atomicfile import FILE_MODE, atomic_open, atomic_path


def test_file_appears_only_when_complete_and_failure_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_open(target, "w", encoding="utf-8") as f:
        f.write("half")
        assert not target.exists()  # readers never see a partial file
    assert target.read_text() == "half"
    with pytest.raises(RuntimeError), atomic_open(target, "w") as f:
        f.write("new")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "half"  # the old file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]  # no temp left


def test_new_files_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    with atomic_path(tmp_path / "atomic") as tmp:
        tmp.write_text("x")
    mode = os.stat(tmp_path / "atomic").st_mode & 0o777
    assert mode == os.stat(plain).st_mode & 0o777 == FILE_MODE


def test_atomic_open_refuses_read_modes(tmp_path):
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "r"):
            pass



def test_an_unwritable_directory_names_the_target_not_the_temporary_file(tmp_path,
                                                                           monkeypatch):
    import errno
    import tempfile

    def denied(prefix, suffix, dir):
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}x{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # as root, chmod would not stop us
    with pytest.raises(PermissionError) as info:
        with atomic_path(tmp_path / "out.bin"):
            pass
    assert info.value.filename == str(tmp_path / "out.bin")
