"""Input files under DATA_DIR/inputs: safe name resolution and streamed uploads.

A job names its input (and any other file option, such as an MLP's ``--test``) relative to
DATA_DIR/inputs. Absolute names, ``..`` and symlinks that lead outside that directory are
refused with :class:`UnsafePath` (HTTP 400) before anything is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path, PurePosixPath

from gputrain.atomicfile import atomic_path
from gputrain.service.constants import MAX_NAME_CHARS, MAX_NAME_PART_BYTES, UPLOAD_CHUNK_BYTES


class UnsafePath(Exception):
    """A file name that would leave DATA_DIR/inputs, or that no file can have (HTTP 400)."""


class UploadTooLarge(Exception):
    """An upload over ``--max-upload-bytes`` (HTTP 413)."""


def resolve_input(inputs_dir: Path, name: str) -> Path:
    """The real path of ``name`` under ``inputs_dir``, or :class:`UnsafePath`."""
    if not isinstance(name, str) or not name.strip():
        raise UnsafePath("empty file name")
    if "\x00" in name or "\\" in name:
        raise UnsafePath(f"{name!r}: NUL and backslash are not allowed in file names")
    if len(name) > MAX_NAME_CHARS or any(
            len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_PART_BYTES
            for p in name.split("/")):
        raise UnsafePath(f"file name too long ({len(name)} characters; at most "
                         f"{MAX_NAME_CHARS}, and {MAX_NAME_PART_BYTES} bytes between slashes)")
    pure = PurePosixPath(name)
    if pure.is_absolute():
        raise UnsafePath(f"{name!r} is absolute; give a path relative to the inputs directory")
    if ".." in pure.parts:
        raise UnsafePath(f"{name!r} contains '..'; give a path inside the inputs directory")
    root = inputs_dir.resolve()
    real = (root / pure).resolve()  # follows symlinks, also in parent directories
    if real != root and root not in real.parents:
        raise UnsafePath(f"{name!r} leads outside the inputs directory (symlink)")
    if real == root:
        raise UnsafePath(f"{name!r} is the inputs directory itself, not a file")
    return real


def list_inputs(inputs_dir: Path) -> list[dict]:
    """Regular files under ``inputs_dir`` (relative names and sizes), hidden ones left out."""
    files = []
    root = inputs_dir.resolve()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        files.append({"name": rel.as_posix(), "size_bytes": path.stat().st_size})
    return files


def file_digest(path: Path) -> tuple[int, str]:
    """``(size in bytes, SHA-256 hex)`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(UPLOAD_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def input_changed(inputs_dir: Path, name: str, size: int | None,
                  sha256: str | None) -> str | None:
    """Why input ``name`` is no longer the file of that size and SHA-256; None if it is
    (or if nothing was recorded: jobs submitted before inputs were)."""
    if sha256 is None:
        return None
    try:
        now = file_digest(resolve_input(inputs_dir, name))
    except (OSError, UnsafePath):
        return f"input {name} is gone or unreadable since the job was submitted"
    if now != (size, sha256):
        return (f"input {name} changed since the job was submitted (SHA-256 {sha256[:12]}..., "
                f"now {now[1][:12]}...)")
    return None


class UploadWriter:
    """Write an upload in chunks to a temporary name; it becomes the input when complete.

    Over ``max_bytes`` the partial file is deleted and :class:`UploadTooLarge` raised; an
    aborted upload never leaves a half-written input under the real name.
    """

    def __init__(self, target: Path, max_bytes: int):
        self.target = target
        self.max_bytes = max_bytes
        self.size = 0
        self._stack = contextlib.ExitStack()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._stack.enter_context(atomic_path(target))
        self._file = self._stack.enter_context(open(tmp, "wb"))  # noqa: SIM115

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise UploadTooLarge(f"upload is larger than the limit of {self.max_bytes} bytes")
        self._file.write(chunk)

    def commit(self) -> int:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._stack.close()  # closes the file, then renames it into place
        return self.size

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.__exit__(UploadTooLarge, UploadTooLarge(), None)
