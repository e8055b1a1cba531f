"""A full disk: the job fails saying so, uploads get 507, the worker carries on, and once
space is back new jobs run without a restart.

The disk is a real small file system: a tmpfs mounted as the data directory (needs root;
the test is skipped, saying why, where mount is not allowed).
"""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest

TMPFS_BYTES = 8 * 1024**2
RESERVE_BYTES = 512 * 1024  # left free for the submission; the trainer's cache needs more


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700",
                           "tmpfs", str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path) -> None:
    """Write zeros to ``path`` until the file system is full."""
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())


def test_full_disk_fails_the_job_with_507_uploads_and_recovers_without_restart(
        small_disk, start_server, tmp_path, make_corpus, waiter):
    server = start_server(small_disk, "--workers", "1")
    corpus = make_corpus(tmp_path / "c.txt", 300_000).read_bytes()
    with server.client() as api:
        assert api.put("/inputs/c.txt", content=corpus).status_code == 201
        reserve, filler = small_disk / "reserve", small_disk / "filler"
        reserve.write_bytes(b"\0" * RESERVE_BYTES)
        fill(filler)
        r = api.put("/inputs/more.txt", content=b"a b c\n" * 100_000)
        assert r.status_code == 507, r.text
        assert r.json()["detail"] == "no space left on device: could not write inputs/more.txt"
        assert not (small_disk / "inputs" / "more.txt").exists()
        ready = api.get("/readyz")
        assert ready.status_code == 503 and not ready.json()["checks"]["store"]["ok"], ready.text
        assert api.get("/healthz").status_code == 200  # alive, only not ready

        reserve.unlink()  # room for the submission, not for the trainer's encoded corpus
        r = api.post("/jobs", json={"kind": "w2v", "input": "c.txt",
                                    "params": {"min_count": 1, "dim": 8, "epochs": 1}})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        waiter(lambda: api.get(f"/jobs/{job_id}").json()["state"] == "failed"
               or "retrying every" in server.log(), 120, "the trainer to hit the full disk")
        filler.unlink()  # space is back: no restart follows
        job = waiter(lambda: (j := api.get(f"/jobs/{job_id}").json())["state"] == "failed"
                     and j, 30, "the job to be recorded failed")
        assert job["error"].startswith(
            f"no space left on device: could not write the job directory jobs/{job_id}/"), job
        assert str(small_disk) not in job["error"]

        assert api.get("/readyz").status_code == 200
        assert api.put("/inputs/small.txt", content=corpus[:20_000]).status_code == 201
        ok = api.post("/jobs", json={"kind": "w2v", "input": "small.txt",
                                     "params": {"min_count": 1, "dim": 8, "epochs": 1}}).json()
        waiter(lambda: api.get(f"/jobs/{ok['id']}").json()["state"] in ("succeeded", "failed"),
               60, "a new job after the disk was freed")
        assert api.get(f"/jobs/{ok['id']}").json()["state"] == "succeeded"
    assert server.proc.poll() is None and "Traceback" not in server.log()
