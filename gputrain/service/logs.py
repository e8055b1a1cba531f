"""The server's log: one format for our lines and uvicorn's, with timestamps, on stderr.

``--log-format text`` (default): ``2026-12-01T11:50:00.123Z INFO gputrain.service: ...``;
``--log-format json``: one JSON object a line (``time``, ``level``, ``logger``, ``message``,
and ``exc`` for a traceback) for log shippers. Requests to the endpoints that clients and
monitors poll (``/healthz``, ``/readyz``, ``/metrics``, ``GET /jobs/{id}``) are logged at
DEBUG, every other request at INFO.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

FORMATS = ("text", "json")
startup = logging.getLogger("gputrain.serve")  # "listening on URL": shown at every --log-level
# uvicorn.access messages: '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status)
_POLLED = re.compile(r"^/(healthz|readyz|metrics|jobs/[^/?]+)(\?.*)?$")


def _timestamp(record: logging.LogRecord) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{seconds}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _timestamp(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class PollingAtDebug(logging.Filter):
    """Turn access-log records of polled endpoints into DEBUG records (dropped above it)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.name == "uvicorn.access" and len(args) >= 3 and args[1] in ("GET", "HEAD") \
                and _POLLED.match(str(args[2])):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


def setup(level: str, fmt: str) -> None:
    """Send every logger (ours, uvicorn's) through one stderr handler in ``fmt``."""
    numeric = getattr(logging, level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(PollingAtDebug(numeric))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    startup.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
        logger.setLevel(logging.DEBUG if name == "uvicorn.access" else numeric)
