"""Requests refused before any route: a foreign Host (DNS rebinding), oversized bodies and
specs, names no file can have; and the listening socket's TCP_NODELAY."""

import socket

import httpx

from gputrain.service.server import bind


def test_without_a_token_only_loopback_host_names_are_answered(start_server):
    server = start_server(None, "--workers", "1")
    port = server.url.rsplit(":", 1)[1]
    with httpx.Client(base_url=server.url) as client:
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", "LOCALHOST"):
            assert client.get("/jobs", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", f"rebind.attacker.test:{port}", "127.0.0.1.nip.io", ""):
            r = client.get("/jobs", headers={"Host": host})
            assert r.status_code == 400, host
            assert "is not allowed" in r.json()["detail"] and "--allowed-hosts" in r.text
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400


def test_allowed_hosts_is_configurable(start_server):
    server = start_server(None, "--workers", "1", "--allowed-hosts", "gpu-node-1,127.0.0.1")
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/jobs", headers={"Host": "gpu-node-1:8000"}).status_code == 200
        assert client.get("/jobs", headers={"Host": "localhost"}).status_code == 400


def test_bodies_specs_and_names_over_the_limits_are_4xx_never_500(start_server):
    server = start_server(None, "--workers", "1")
    with server.client() as api:
        big = b'{"kind": "w2v", "input": "c.txt", "params": {"x": "' + b"y" * 100_000 + b'"}}'
        r = api.post("/jobs", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "larger than the limit" in r.json()["detail"]

        def chunks():  # no Content-Length: cut off while streaming
            yield b'{"kind": "w2v", "input": "c.txt", "params": {"x": "'
            for _ in range(100):
                yield b"y" * 1000
            yield b'"}}'

        r = api.post("/jobs", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert api.put("/inputs/c.txt", content=b"a b c\n").status_code == 201
        r = api.post("/jobs", json={"kind": "w2v", "input": "c.txt",
                                    "params": {"seed": 1, "x" * 20_000: 1}})
        assert r.status_code == 413 and "params are larger" in r.json()["detail"]
        assert api.get("/jobs").json() == []

        for name in ("a" * 201, "d/" * 600 + "x", "é" * 101):
            r = api.put(f"/inputs/{name}", content=b"x")
            assert r.status_code == 400 and "too long" in r.json()["detail"], (name[:9], r.text)
            r = api.post("/jobs", json={"kind": "w2v", "input": name})
            assert r.status_code == 400 and "too long" in r.json()["detail"]
        assert api.put(f"/inputs/{'a' * 200}", content=b"x").status_code == 201
        for r in (api.get("/jobs/" + "z" * 5000), api.get("/jobs/" + "z" * 5000 + "/artifacts")):
            assert r.status_code == 404
        assert "Traceback" not in server.log()


def test_the_listening_socket_has_tcp_nodelay_for_its_connections():
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only then
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()
