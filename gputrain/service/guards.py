"""Checks every HTTP request passes before any route runs: its Host and its body size.

- **Host** (DNS rebinding): a web page can make a browser send requests to a name that
  resolves to 127.0.0.1; the browser then sends that name as ``Host``. Without a token
  the server answers only to loopback names (``localhost``, ``127.0.0.1``, ``::1`` and the
  address it listens on) unless ``--allowed-hosts`` says otherwise; with a token (which a
  rebinding page cannot know) any name is accepted unless ``--allowed-hosts`` is given.
  ``*`` accepts any name. A refused Host is HTTP 400.
- **Body size**: every request body but an upload (``PUT /inputs/...``, limited by
  ``--max-upload-bytes``) is at most :data:`MAX_REQUEST_BODY_BYTES`; over it is HTTP 413,
  refused on ``Content-Length`` or as soon as the streamed body passes the limit.
"""

from __future__ import annotations

import json

from gputrain.service.constants import LOOPBACK_HOSTS, MAX_REQUEST_BODY_BYTES


def host_name(header: str) -> str:
    """``"[::1]:8000"`` -> ``"::1"``, ``"Example.org:80"`` -> ``"example.org"``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_hosts(given: str | None, listen_host: str, has_token: bool) -> frozenset | None:
    """The Host names to answer to; None means any."""
    if given is not None:
        names = frozenset(host_name(h) for h in given.split(",") if h.strip())
        return None if "*" in names else names
    if has_token:
        return None
    return frozenset({*LOOPBACK_HOSTS, host_name(listen_host)})


class RequestGuard:
    """ASGI middleware: refuse a foreign ``Host`` (400) and an oversized body (413)."""

    def __init__(self, app, hosts: frozenset | None, max_body_bytes: int = MAX_REQUEST_BODY_BYTES):
        self.app, self.hosts, self.max_body_bytes = app, hosts, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return await _reply(send, 400, f"Host {host!r} is not allowed: this server answers "
                                           f"to {', '.join(sorted(self.hosts))} "
                                           "(see --allowed-hosts)")
        if scope["method"] == "PUT" and scope["path"].startswith("/inputs/"):
            return await self.app(scope, receive, send)  # uploads have their own limit
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return await self._too_large(send)
        # read the (small) body here, so a stream without Content-Length is cut at the limit
        # before any route sees it, then hand it on in one piece
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                return await self._too_large(send)
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # the disconnect, when it comes
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send):
        await _reply(send, 413, f"request body is larger than the limit of "
                                f"{self.max_body_bytes} bytes")


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
