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
        ("https://a.example", "https://evil.example", None),
        ("*", "https://any.example", "*"),
        (None, "https://any.example", None),
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


def test_ping_options_path_and_transports() -> None:
    sio = oxsio.Server(ping_interval=7, ping_timeout=3, socketio_path="custom", max_http_buffer_size=1234)
    port = sio.start()
    try:
        _, body = handshake(port, "x", path="/custom/")
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
