"""The server's log: one timestamped format (or JSON lines), polled endpoints at DEBUG, an
abandoned upload as one WARNING line; the data directory private (0700, DB 0600)."""

import json
import re
import socket
import stat
import time

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+: ")


def test_json_lines_with_polled_endpoints_at_debug(start_server, tmp_path):
    server = start_server(tmp_path / "data", "--workers", "1", "--log-format", "json")
    with server.client() as api:
        for path in ("/healthz", "/readyz", "/metrics", "/jobs/abc"):
            api.get(path)
        api.get("/jobs", params={"limit": 7})
    server.terminate()
    entries = [json.loads(line) for line in server.log().splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    access = [e["message"] for e in entries if e["logger"] == "uvicorn.access"]
    assert any('"GET /jobs?limit=7 HTTP/1.1" 200' in m for m in access), access
    assert not any(p in m for m in access for p in ("/healthz", "/readyz", "/metrics",
                                                    "/jobs/abc")), access


def test_text_lines_are_timestamped_and_debug_shows_the_polling(start_server, tmp_path):
    server = start_server(tmp_path / "data", "--workers", "1", "--log-level", "debug")
    with server.client() as api:
        api.get("/readyz")
    server.terminate()
    lines = [ln for ln in server.log().splitlines() if ln.strip()]
    assert lines and all(TEXT_LINE.match(ln) for ln in lines), lines
    assert any("DEBUG uvicorn.access" in ln and "/readyz" in ln for ln in lines)


def test_a_client_gone_mid_upload_is_one_warning_and_no_file(start_server, tmp_path, waiter):
    data = tmp_path / "data"
    server = start_server(data, "--workers", "1")
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"PUT /inputs/big.txt HTTP/1.1\r\nHost: {host}\r\n"
                     "Content-Length: 1000000\r\n\r\n".encode() + b"x" * 50_000)
        time.sleep(0.5)  # let the server start writing, then vanish
    waiter(lambda: "abandoned" in server.log(), 30, "the warning")
    warnings = [ln for ln in server.log().splitlines() if "WARNING" in ln]
    assert len(warnings) == 1 and "upload of big.txt abandoned: the client disconnected" \
        in warnings[0], warnings
    assert "Traceback" not in server.log()
    assert not any(p.name.startswith(("big.txt", ".big.txt")) for p in (data / "inputs").iterdir())
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "inputs").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "jobs.sqlite3").stat().st_mode) == 0o600
