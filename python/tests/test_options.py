"""Server constructor options as python-socketio names them."""

from __future__ import annotations

import urllib.request

import pytest

import oxsio


def handshake(port: int, origin: str, path: str = "/socket.io/") -> tuple:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}?EIO=4&transport=polling", headers={"Origin": origin}
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.headers.get("Access-Control-Allow-Origin"), r.read().decode()


@pytest.mark.parametrize(
    "origins, origin, allowed",
    [
        ("https://a.example", "https://a.example", "https://a.example"),
        (["https://a.example", "https://b.example"], "https://b.example", "https://b.example"),
        ("*", "https://any.example", "*"),
        ([], "https://any.example", None),
        (lambda o: o.endswith(".good.example"), "https://x.good.example", None),
        (lambda o, environ: environ["HTTP_HOST"].startswith("127.0.0.1"), "https://x.example", None),
    ],
)
def test_cors_allowed_origins(origins, origin, allowed) -> None:
    sio = oxsio.Server(cors_allowed_origins=origins)
    port = sio.start()
    try:
        header, body = handshake(port, origin)
        assert header == allowed
        assert '"pingInterval":25000' in body
    finally:
        sio.close()


def refused(port: int, origin: str, websocket: bool = False) -> tuple:
    """The status and body of a handshake from `origin`."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        transport = "websocket" if websocket else "polling"
        upgrade = (
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            if websocket
            else "Connection: close\r\n"
        )
        s.sendall(
            f"GET /socket.io/?EIO=4&transport={transport} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Origin: {origin}\r\n{upgrade}\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ")[1]), data


@pytest.mark.parametrize(
    "origins, origin",
    [
        ("https://a.example", "https://evil.example"),
        (["https://a.example"], "http://evil.example"),
        (None, "https://any.example"),  # default: the server's own origin only
        (lambda o: False, "https://x.example"),
        (lambda o: 1 / 0, "https://x.example"),  # an exception refuses
    ],
)
def test_refused_origins_get_400_on_polling_and_websocket(origins, origin) -> None:
    """As python-socketio: a cross-site page cannot open a session, over
    polling or WebSocket (where browsers apply no CORS)."""
    sio = oxsio.Server(cors_allowed_origins=origins)
    port = sio.start()
    try:
        for ws in (False, True):
            status, data = refused(port, origin, ws)
            assert status == 400, data
        # The server's own origin is fine by default; no Origin at all too.
        if origins is None:
            assert refused(port, f"http://127.0.0.1:{port}", True)[0] == 101
        c = oxsio.Client()
        c.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        assert c.connected
        c.disconnect()
    finally:
        sio.close()


def test_bad_cors_allowed_origins_raise() -> None:
    with pytest.raises(TypeError, match="cors_allowed_origins"):
        oxsio.Server(cors_allowed_origins=[1])


def test_ping_options_path_and_transports() -> None:
    sio = oxsio.Server(ping_interval=7, ping_timeout=3, socketio_path="custom", max_http_buffer_size=1234)
    port = sio.start()
    try:
        _, body = handshake(port, f"http://127.0.0.1:{port}", path="/custom/")
        assert '"pingInterval":7000' in body and '"pingTimeout":3000' in body and '"maxPayload":1234' in body
        c = oxsio.Client()
        c.connect(f"http://127.0.0.1:{port}", socketio_path="custom", transports=["websocket"])
        assert c.connected
        c.shutdown()
    finally:
        sio.close()


def test_websocket_only_server_refuses_polling_client() -> None:
    sio = oxsio.Server(transports=["websocket"])
    port = sio.start()
    c = oxsio.Client(reconnection=False)
    try:
        with pytest.raises(oxsio.ConnectionError):
            c.connect(f"http://127.0.0.1:{port}", transports=["polling"])
        c2 = oxsio.Client()
        c2.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        assert c2.connected
        c2.shutdown()
    finally:
        c.shutdown()
        sio.close()


def test_namespaces_option() -> None:
    sio = oxsio.Server(namespaces="*")
    port = sio.start()
    c = oxsio.Client()
    try:
        c.connect(f"http://127.0.0.1:{port}", namespaces=["/anything", "/else"])
        assert sorted(c.namespaces) == ["/anything", "/else"]
    finally:
        c.shutdown()
        sio.close()
    sio = oxsio.Server(namespaces=["/only"])
    port = sio.start()
    c = oxsio.Client()
    try:
        with pytest.raises(oxsio.ConnectionError):
            c.connect(f"http://127.0.0.1:{port}", namespaces=["/"])
        c.connect(f"http://127.0.0.1:{port}", namespaces=["/only"])
        assert c.connected
    finally:
        c.shutdown()
        sio.close()
