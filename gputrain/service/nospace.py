"""A full disk, recognised wherever the service writes: SQLite, uploads, job directories.

A full disk is an outage the operator fixes, not a bug: the job that hit it fails with a
message that says what could not be written, uploads and submissions get HTTP 507, and
the workers keep going, so that once space is back new jobs run without a restart.
"""

from __future__ import annotations

import errno
import sqlite3

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # the primary result code of "database or disk is full"


class NoSpace(Exception):
    """Nothing more fits on the data directory's file system (HTTP 507)."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(f"no space left on device: could not write {what}")


def is_full(exc: BaseException) -> bool:
    if isinstance(exc, NoSpace):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
        return (code & 0xFF) == SQLITE_FULL if code is not None \
            else "disk is full" in str(exc)  # Python 3.10 has only the message
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS
