"""Hold a directory for one run: an exclusive ``flock`` on a ``.lock`` file inside it.

Two runs writing into one directory (two ``gputrain w2v`` with the same ``-o``, two
``gputrain mlp train -o same_dir``) would overwrite each other's files and one result
would be silently lost; the second run is refused with a one-line error instead. The lock
belongs to the open file, so a run that dies (even by SIGKILL) releases it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gputrain.errors import GputrainError

LOCK_FILE = ".lock"


@contextmanager
def hold_directory(path, what: str, busy: str) -> Iterator[bool]:
    """Create ``path`` if needed and hold it; yields True when this call created it.

    ``what`` names the directory in errors ("checkpoint directory"); ``busy`` is the
    message when another run holds it."""
    path = Path(path)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        f = open(path / LOCK_FILE, "a")  # noqa: SIM115 (held until the run ends)
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise GputrainError(f"cannot use {what} {path}: {reason}: {e.filename or path}") \
            from None
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GputrainError(busy) from None
        yield created
    finally:
        f.close()


def release_if_empty(path) -> None:
    """Remove the lock file and, if nothing else is left, the directory (a run that failed
    before writing anything leaves nothing behind)."""
    path = Path(path)
    (path / LOCK_FILE).unlink(missing_ok=True)
    try:
        path.rmdir()
    except OSError:  # not empty (or already gone): leave it
        pass
