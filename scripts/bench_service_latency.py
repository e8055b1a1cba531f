#!/usr/bin/env python3
"""Per-request latency of `gputrain serve` on one reused (keep-alive) connection.

Starts a server on loopback in a temporary data directory, sends N requests of each kind
over one connection, prints the median and 90th percentile in milliseconds, and exits 1 when
a median is over --max-ms (a regression check to run by hand or in a benchmark job, not a
timed test: on a loaded machine it can be noisy).

    .venv/bin/python scripts/bench_service_latency.py --requests 200
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "gputrain", "serve", "--port", "0",
                             "--data-dir", str(data_dir), "--workers", "1",
                             "--log-level", "warning"],
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"server did not start (exit {proc.wait()})")


def measure(client: httpx.Client, method: str, path: str, n: int, **kw) -> list[float]:
    client.request(method, path, **kw)  # warm up (connection, imports, caches)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.request(method, path, **kw)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--max-ms", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data")
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                cases = [("GET", "/healthz", {}), ("GET", "/jobs", {}),
                         ("POST", "/jobs", {"json": {"kind": "w2v", "input": "missing.txt"}})]
                worst = 0.0
                for method, path, kw in cases:
                    times = measure(client, method, path, args.requests, **kw)
                    median = statistics.median(times)
                    p90 = statistics.quantiles(times, n=10)[-1]
                    worst = max(worst, median)
                    print(f"{method:4} {path:9} median {median:6.2f} ms   p90 {p90:6.2f} ms "
                          f"({args.requests} requests, one connection)")
        finally:
            proc.terminate()
            proc.wait(30)
    if worst > args.max_ms:
        print(f"FAIL: a median is over {args.max_ms} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
