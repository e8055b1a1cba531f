"""Checks on the files a command will write, made before any work starts.

An output that is one of the command's inputs (``gputrain w2v c.txt -o c.txt``,
``mlp predict m data.csv -o data.csv``) would be overwritten: it is refused, comparing the
files themselves (``os.path.samefile``), not their spellings. An output that cannot be
created (read-only file system, no permission, a parent that is a file) fails now, not
after training.
"""

from __future__ import annotations

import os
from pathlib import Path

from gputrain.atomicfile import check_writable
from gputrain.errors import GputrainError


def same_file(a, b) -> bool:
    """The same file (hard and symbolic links too); for files not written yet, the same
    resolved path. Standard input (``-``) is no file."""
    if "-" in (str(a), str(b)):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path, option: str, inputs: dict[str, object], append: bool = False) -> None:
    """Refuse ``path`` (given as ``option``) when it is one of ``inputs`` (what -> path) or
    cannot be written. ``append``: the file is appended to (an events log), so an existing
    file is fine, but it must not be an input either."""
    if path is None:
        return
    given, path = path, Path(path)
    for what, other in inputs.items():
        if other is not None and same_file(path, other):
            raise GputrainError(f"{option} {given} is {what} {other}: it would be "
                                f"{'appended to' if append else 'overwritten'}; choose "
                                f"another {option}")
    if path.is_dir():
        raise GputrainError(f"{option} {path} is a directory")
    if append:
        if not path.parent.is_dir():
            raise GputrainError(f"{option} {path}: no such directory {path.parent}")
        if path.exists():
            if not os.access(path, os.W_OK):
                raise PermissionError(13, "Permission denied", str(path))
            return
    check_writable(path)

