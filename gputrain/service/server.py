"""Run the service: lock the data dir, listen, start the workers, serve, shut down in order.

Signals (our handlers replace uvicorn's): the first SIGTERM/SIGINT stops taking jobs, tells
the running trainers to checkpoint (they exit 75 and their jobs are queued again) and stops
the HTTP server; the process exits within :data:`SHUTDOWN_SECONDS`. A second signal kills the
trainers and exits at once (their jobs are re-queued at the next start).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import time

import uvicorn

from gputrain.errors import GputrainError
from gputrain.service import logs
from gputrain.service.api import create_app
from gputrain.service.constants import HTTP_GRACEFUL_SHUTDOWN_SECONDS, SHUTDOWN_SECONDS
from gputrain.service.datadir import DataDir
from gputrain.service.guards import allowed_hosts
from gputrain.service.supervisor import Supervisor
from gputrain.service.worker import Slot

log = logging.getLogger("gputrain.service")


class ServiceServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, supervisor: Supervisor):
        super().__init__(config)
        self.supervisor = supervisor
        self.first_signal_at: float | None = None

    @contextlib.contextmanager
    def capture_signals(self):
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame) -> None:
        if self.first_signal_at is not None:
            log.warning("second %s: killing trainers and exiting now", signal.Signals(sig).name)
            self.supervisor.kill_now()
            os._exit(128 + sig)
        self.first_signal_at = time.monotonic()
        self.supervisor.begin_shutdown()
        self.should_exit = True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says IPPROTO_TCP (with proto 0, Nagle + delayed ACKs cost ~40 ms a request on a
    # reused connection); Linux also copies the listening socket's TCP_NODELAY to each one
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise GputrainError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(False)
    return sock


def serve(host: str, port: int, data_dir: str, token: str | None, slots: list[Slot],
          max_upload_bytes: int, log_level: str = "info", hosts: str | None = None,
          log_format: str = "text", retain_days: float | None = None) -> None:
    if token is None and not is_loopback(host):
        raise GputrainError(
            f"refusing to listen on {host} without a token: set GPUTRAIN_TOKEN or "
            "--token-file (without one the server only binds loopback, e.g. 127.0.0.1)"
        )
    logs.setup(log_level, log_format)
    data = DataDir(data_dir).create()
    data.lock()
    sock = bind(host, port)
    supervisor = Supervisor(data, slots, retain_days)
    supervisor.start()
    app = create_app(supervisor, token, max_upload_bytes,
                     allowed_hosts(hosts, host, has_token=token is not None))
    config = uvicorn.Config(app, log_config=None, lifespan="off",  # logs.setup() did it
                            timeout_graceful_shutdown=HTTP_GRACEFUL_SHUTDOWN_SECONDS)
    server = ServiceServer(config, supervisor)
    bound = sock.getsockname()
    url_host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    logs.startup.info("listening on http://%s:%d (workers: %s; data: %s)", url_host, bound[1],
             ", ".join(supervisor.device_names), data.root)
    try:
        server.run(sockets=[sock])
    finally:
        # uvicorn has put back the previous handlers; while the trainers checkpoint, a
        # second signal must still mean "kill them and exit now", not a KeyboardInterrupt
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, server.handle_exit)
        if server.first_signal_at is None:
            server.first_signal_at = time.monotonic()
        started = server.first_signal_at
        supervisor.begin_shutdown()
        left = SHUTDOWN_SECONDS - (time.monotonic() - started) - 3.0
        if not supervisor.wait(max(0.0, left)):
            log.warning("trainers did not stop in time; killing them")
            supervisor.kill_now()
            supervisor.wait(2.0)
        supervisor.store.close()
        log.info("stopped")
