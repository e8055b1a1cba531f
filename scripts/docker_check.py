#!/usr/bin/env python3
"""Build docker/Dockerfile on a local base and run it through a stop and start mid-job.

Run by scripts/docker_check.sh (which makes the base image and the daemon available):
health check healthy -> upload a corpus -> a word2vec job -> `docker stop` while it trains
(the trainer checkpoints, the job goes back to the queue) -> `docker start` -> the job
resumes from its checkpoint and succeeds; its input, vectors and events are intact in the
volume. Build and run use --network host with the server on 127.0.0.1: every request stays
on loopback. Exit status 0 when all of that held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NAME, VOLUME, TOKEN = "gputrain-check", "gputrain-check-data", "docker-check-token"
TAG = "gputrain:check"
WORDS = ["royal", "fruit", "motor"]


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise SystemExit(f"FAIL: docker {' '.join(args[:3])}: {r.stderr.strip()[-2000:]}")
    return r.stdout.strip()


def wait(what: str, predicate, timeout: float, poll: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    logs = docker("logs", "--tail", "30", NAME, check=False)
    raise SystemExit(f"FAIL: timed out after {timeout:.0f} s waiting for {what}\n{logs}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus(words: int = 400_000) -> bytes:
    import random

    rng = random.Random(0)
    topics = [[f"{w}{i}" for i in range(40)] for w in WORDS]
    lines = [" ".join(rng.choice(t) for _ in range(20))
             for t in (rng.choice(topics) for _ in range(words // 20))]
    return ("\n".join(lines) + "\n").encode()


def health() -> str:
    return docker("inspect", "-f", "{{.State.Health.Status}}", NAME, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="base image (a Debian with python3-venv)")
    args = parser.parse_args()
    t0 = time.monotonic()
    print(f"docker check: building {TAG} on {args.base} (no CuPy extra)", flush=True)
    docker("build", "--network", "host", "-f", "docker/Dockerfile", "--build-arg",
           f"BASE={args.base}", "--build-arg", "EXTRA=", "-t", TAG, str(ROOT), timeout=1200)
    print(f"docker check: built in {time.monotonic() - t0:.0f} s", flush=True)
    docker("rm", "-f", NAME, check=False)
    docker("volume", "rm", VOLUME, check=False)
    port = 8000
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            port = free_port()  # 8000 is taken: point the health check at ours
    health_args = ["--health-interval", "2s"]
    if port != 8000:
        health_args += ["--health-cmd", "python3 -c \"import sys, urllib.request; sys.exit("
                        f"urllib.request.urlopen('http://127.0.0.1:{port}/readyz', "
                        "timeout=4).status != 200)\""]
    docker("run", "-d", "--name", NAME, "--network", "host", "--init", "-v", f"{VOLUME}:/data",
           "-e", f"GPUTRAIN_TOKEN={TOKEN}", *health_args, TAG,
           "--host", "127.0.0.1", "--port", str(port), "--data-dir", "/data", "--workers", "1")
    try:
        return run_checks(f"http://127.0.0.1:{port}")
    finally:
        docker("rm", "-f", NAME, check=False)
        docker("volume", "rm", VOLUME, check=False)


def run_checks(url: str) -> int:
    wait("the health check to say healthy", lambda: health() == "healthy", 120)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    text = corpus()
    r = api.put("/inputs/corpus.txt", content=text)
    assert r.status_code == 201, r.text
    job = api.post("/jobs", json={"kind": "w2v", "input": "corpus.txt", "params": {
        "dim": 16, "epochs": 15, "min_count": 1, "threads": 1,
        "checkpoint_every": 20_000}}).json()
    job_id = job["id"]
    wait("the job to train a while", lambda: api.get(f"/jobs/{job_id}").json()["progress"] > 0.05,
         300, poll=0.5)
    before = api.get(f"/jobs/{job_id}").json()["progress"]
    print(f"docker check: docker stop at {before:.0%} of the job", flush=True)
    docker("stop", "-t", "40", NAME, timeout=60)
    code = docker("inspect", "-f", "{{.State.ExitCode}}", NAME)
    logs = docker("logs", NAME, check=False) + subprocess.run(
        ["docker", "logs", NAME], capture_output=True, text=True).stderr
    assert code == "0", f"exit {code}\n{logs[-3000:]}"
    assert "stopped for shutdown (exit 75); queued again" in logs, logs[-3000:]
    docker("start", NAME)
    wait("healthy again", lambda: health() == "healthy", 120)
    done = wait("the job to finish", lambda: (j := api.get(f"/jobs/{job_id}").json())["state"]
                in ("succeeded", "failed", "cancelled") and j, 600, poll=1.0)
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    events = [json.loads(line) for line in
              api.get(f"/jobs/{job_id}/artifacts/events.jsonl").text.splitlines() if line]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_words"] > 0, starts
    import hashlib

    assert done["input_sha256"] == hashlib.sha256(text).hexdigest()
    assert api.get("/inputs").json() == [{"name": "corpus.txt", "size_bytes": len(text)}]
    hits = api.get(f"/models/{job_id}/neighbors", params={"word": "royal1", "n": 5}).json()
    assert sum(h["word"].startswith("royal") for h in hits["neighbors"]) >= 4, hits
    print(f"docker check: passed (resumed from {int(starts[1]['resumed_words']):,} words; "
          f"neighbours of royal1: {[h['word'] for h in hits['neighbors']]})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
