"""Fixtures for the service tests: real `gputrain serve` processes on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 60.0


class ServerProcess:
    """A `gputrain serve --port 0` subprocess; its log goes to a file we can read."""

    def __init__(self, data_dir: Path, log_path: Path, *args: str, env: dict | None = None):
        self.data_dir, self.log_path = data_dir, log_path
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.start_offset = log_path.stat().st_size
        full_env = {k: v for k, v in os.environ.items() if k != "GPUTRAIN_TOKEN"}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gputrain", "serve", "--port", "0", "--data-dir",
             str(data_dir), "--log-level", "info", *args],
            stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
        )
        self.url = None

    def log(self) -> str:
        return self.log_path.read_bytes()[self.start_offset:].decode("utf-8", "replace")

    def wait_ready(self) -> ServerProcess:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://\S+)", self.log())
            if match:
                self.url = match.group(1)
                try:
                    if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"server not ready in {STARTUP_SECONDS} s:\n{self.log()}")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def terminate(self, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def start_server(tmp_path):
    """start_server(data_dir=None, *args, env=None) -> a ready ServerProcess (stopped after)."""
    servers: list[ServerProcess] = []

    def start(data_dir: Path | None = None, *args: str, env: dict | None = None,
              ready: bool = True) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", tmp_path / "server.log", *args,
                               env=env)
        servers.append(server)
        return server.wait_ready() if ready else server

    yield start
    for server in servers:
        server.kill()
    _reap_trainers(tmp_path)


def _reap_trainers(root: Path) -> None:
    """Kill any trainer a test left running (its command line names the test's tmp dir)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(root).encode() in cmdline and b"gputrain" in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def waiter():
    return wait_for


def table_csv(path: Path, rows: int = 60, seed: int = 0) -> Path:
    """A small, learnable classification table: label = x0 + x1 > 0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{t}" for (a, b, c), t in zip(x, y, strict=True)]
    lines = ["a,b,c,label", *rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_table():
    return table_csv


API_TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """One token-protected server (1 CPU worker, 1000-byte upload limit) per test module."""
    root = tmp_path_factory.mktemp("api")
    token_file = root / "token"
    token_file.write_text(API_TOKEN + "\n")
    server = ServerProcess(root / "data", root / "server.log", "--workers", "1",
                           "--token-file", str(token_file), "--max-upload-bytes", "1000")
    server.token = API_TOKEN
    yield server.wait_ready()
    server.kill()
    _reap_trainers(root)


# three topics of 40 words ("royal0".."royal39", ...): 120 words train well in a second
TOPICS = tuple(tuple(f"{name}{i}" for i in range(40)) for name in ("royal", "fruit", "motor"))


def topic_corpus(path: Path, words: int, seed: int = 0) -> Path:
    """Lines of 20 words, each line drawn from one topic: neighbours stay within a topic."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(words // 20):
        topic = TOPICS[rng.integers(len(TOPICS))]
        lines.append(" ".join(topic[i] for i in rng.integers(len(topic), size=20)))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_corpus():
    return topic_corpus
