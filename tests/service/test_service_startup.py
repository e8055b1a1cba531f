"""`gputrain serve` start-up rules: tokens, bind address, one server per data dir."""

import subprocess
import sys
import time

from gputrain.backend import gpu_count


def run_serve(*args, env=None, timeout=60):
    import os

    full_env = {k: v for k, v in os.environ.items() if k != "GPUTRAIN_TOKEN"} | (env or {})
    return subprocess.run([sys.executable, "-m", "gputrain", "serve", *args],
                          capture_output=True, text=True, timeout=timeout, env=full_env)


def test_refuses_a_public_address_without_a_token(tmp_path):
    r = run_serve("--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2
    assert r.stderr.startswith("error: refusing to listen on 0.0.0.0 without a token")
    assert "Traceback" not in r.stderr
    r = run_serve("--host", "::", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2 and "without a token" in r.stderr


def test_bad_token_file_and_device_options_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    r = run_serve("--port", "0", "--data-dir", str(tmp_path / "d"), "--token-file", str(empty))
    assert r.returncode == 2 and r.stderr == f"error: --token-file {empty} is empty\n"
    r = run_serve("--port", "0", "--data-dir", str(tmp_path / "d"), "--devices", "0",
                  "--workers", "2")
    assert r.returncode == 2 and "not both" in r.stderr
    if gpu_count() == 0:
        r = run_serve("--port", "0", "--data-dir", str(tmp_path / "d"), "--devices", "0")
        assert r.returncode == 2 and "has 0 CUDA device(s)" in r.stderr


def test_token_from_env_on_a_public_address(start_server, tmp_path):
    server = start_server(None, "--host", "0.0.0.0", env={"GPUTRAIN_TOKEN": "envtoken"})
    assert server.url.startswith("http://0.0.0.0:")
    server.url = server.url.replace("0.0.0.0", "127.0.0.1")
    with server.client() as anon, server.client("envtoken") as ok:
        assert anon.get("/jobs").status_code == 401
        assert ok.get("/jobs").status_code == 200


def test_one_server_per_data_dir_and_sigterm_exits_cleanly(start_server, tmp_path):
    first = start_server(tmp_path / "shared")
    r = run_serve("--port", "0", "--data-dir", str(tmp_path / "shared"))
    assert r.returncode == 2
    assert "another gputrain server is using the data directory" in r.stderr
    t0 = time.monotonic()
    assert first.terminate() == 0
    assert time.monotonic() - t0 < 10
    assert "stopped" in first.log()


def test_a_damaged_job_store_is_one_line_naming_the_file_and_what_to_do(tmp_path):
    import sqlite3

    from gputrain.service.store import JobStore

    garbage, damaged = tmp_path / "garbage", tmp_path / "damaged"
    garbage.mkdir()
    (garbage / "jobs.sqlite3").write_bytes(b"these are not the jobs you are looking for\n" * 200)
    damaged.mkdir()
    store = JobStore(damaged / "jobs.sqlite3")
    for i in range(200):
        store.create("w2v", f"corpus{i}.txt", {"padding": "x" * 200})
    store.close()
    db = sqlite3.connect(damaged / "jobs.sqlite3")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(damaged / "jobs.sqlite3", "r+b") as f:  # a torn page in the middle of the table
        f.seek(4096 * 3)
        f.write(b"\xff" * 100)
    for data in (garbage, damaged):
        r = run_serve("--port", "0", "--data-dir", str(data))
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith(f"error: the job store {data / 'jobs.sqlite3'} is damaged")
        assert "restore it from a backup" in r.stderr
