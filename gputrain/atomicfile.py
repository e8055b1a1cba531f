"""Write a file under a temporary name and rename it into place when complete.

A crash, a full disk or Ctrl-C never leaves a half-written vectors file, model or
checkpoint behind under the real name: readers see the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp gives 0o600)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    Use it for writers that want a file name (``np.save``, ``pq.write_table``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:  # name the file the user asked for, not our temporary one
        raise type(e)(e.errno, e.strerror, str(target)) from None
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.filename is None or e.filename == tmp:  # a full disk: say which file, ours
            raise type(e)(e.errno, e.strerror, str(target)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs):
    """``open()`` for writing, to a temporary name that becomes ``path`` on success."""
    if not any(c in mode for c in "wx"):
        raise ValueError("atomic_open is for writing")
    with atomic_path(path) as tmp:
        with open(tmp, mode.replace("x", "w"), **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def check_writable(path: str | os.PathLike) -> None:
    """Fail now (an ``OSError`` naming ``path``) when a file could not be created at
    ``path``: a read-only file system, a directory without write permission, a parent that
    is a file. Called before hours of training, not after. Creates nothing that stays."""
    target = Path(path)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:  # atomic_path will create it
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(parent))
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
    except OSError as e:
        raise type(e)(e.errno, e.strerror, str(target)) from None
    os.close(fd)
    os.unlink(probe)
