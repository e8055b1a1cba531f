"""HTTP client of the training service (used by ``gputrain jobs``).

Every failure becomes a :class:`GputrainError` with one line: the server's own reason for a
4xx (``params.dim: ...`` for an invalid spec), or why the server could not be reached.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from gputrain.errors import GputrainError
from gputrain.service.constants import CLIENT_RECONNECT_SECONDS
from gputrain.service.states import JobState

FINISHED = tuple(s.value for s in JobState if s.finished)
PAGE_SIZE = 500  # jobs asked for per request when listing


class ServerUnreachable(GputrainError):
    """No HTTP answer at all (refused, timed out): the server may be restarting."""


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for item in detail:
            loc = [str(x) for x in item.get("loc", []) if x not in ("body", "query", "path")]
            parts.append(f"{'.'.join(loc) or 'request'}: {item.get('msg', '')}")
        return "; ".join(parts)
    return str(detail)


class ServiceClient:
    def __init__(self, server: str, token: str | None = None, timeout: float = 60.0):
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise ServerUnreachable(f"cannot reach the gputrain server at {self.server}: {e}") \
                from None
        if response.status_code >= 400:
            raise GputrainError(
                f"server said {response.status_code} for {method} {path}: {_reason(response)}"
            )
        return response

    def submit(self, kind: str, input: str, params: dict, devices: int = 1) -> dict:
        spec = {"kind": kind, "input": input, "params": params}
        if devices != 1:  # (a server older than the field refuses it)
            spec["devices"] = devices
        return self.request("POST", "/jobs", json=spec).json()

    def list(self, state: str | None = None, limit: int | None = 100,
             order: str = "newest") -> list[dict]:
        """Up to ``limit`` jobs (None: all of them, page by page) in ``order``."""
        found: list[dict] = []
        after = None
        while limit is None or len(found) < limit:
            page = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(found))
            query = {"limit": page, "order": order} | ({"state": state} if state else {}) \
                | ({"after": after} if after else {})
            response = self.request("GET", "/jobs", params=query)
            found += response.json()
            after = response.headers.get("X-Next-Cursor")
            if not after:
                break
        return found

    def retry(self, job_id: str) -> dict:
        return self.request("POST", f"/jobs/{job_id}/retry").json()

    def delete(self, job_id: str) -> None:
        self.request("DELETE", f"/jobs/{job_id}")

    def show(self, job_id: str) -> dict:
        return self.request("GET", f"/jobs/{job_id}").json()

    def cancel(self, job_id: str) -> dict:
        return self.request("POST", f"/jobs/{job_id}/cancel").json()

    def artifacts(self, job_id: str) -> list[dict]:
        return self.request("GET", f"/jobs/{job_id}/artifacts").json()

    def download(self, job_id: str, name: str, dest: Path) -> int:
        from gputrain.atomicfile import atomic_open

        try:
            with self._http.stream("GET", f"/jobs/{job_id}/artifacts/{name}") as response:
                if response.status_code >= 400:
                    response.read()
                    raise GputrainError(f"server said {response.status_code}: "
                                        f"{_reason(response)}")
                size = 0
                with atomic_open(dest, "wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
                        size += len(chunk)
                return size
        except httpx.HTTPError as e:
            raise GputrainError(f"cannot reach the gputrain server at {self.server}: {e}") from None

    def upload(self, path: Path, name: str) -> dict:
        def chunks():
            with open(path, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    yield chunk

        if not path.is_file():
            raise GputrainError(f"no such file: {path}")
        headers = {"Content-Length": str(path.stat().st_size)}
        return self.request("PUT", f"/inputs/{name}", content=chunks(), headers=headers).json()

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 1.0,
             on_update=None) -> dict:
        """Poll until the job is finished (or ``timeout`` seconds pass: GputrainError).

        A server that answered once and then stops answering (a restart: jobs survive it)
        is retried for :data:`CLIENT_RECONNECT_SECONDS` before giving up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        answered = False
        unreachable_since = None
        while True:
            try:
                job = self.show(job_id)
            except ServerUnreachable:
                now = time.monotonic()
                unreachable_since = unreachable_since or now
                if not answered or now - unreachable_since > CLIENT_RECONNECT_SECONDS or (
                        deadline is not None and now > deadline):
                    raise
                time.sleep(poll)
                continue
            answered, unreachable_since = True, None
            if on_update is not None:
                on_update(job)
            if job["state"] in FINISHED:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise GputrainError(f"job {job_id} still {job['state']} after {timeout:g} s")
            time.sleep(poll)
