"""The server's own TLS listener (``start(..., ssl_certfile=, ssl_keyfile=,
ssl_ca_certs=)``): python-socketio's client and oxsio's over https/wss with a
test CA made by openssl, client certificates, plain HTTP on the TLS port,
and bad files."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from typing import Iterator, Tuple

import pytest

import oxsio

from test_tls import make_certs

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")

Certs = Tuple[str, str, str, str, str]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """CA, server leaf and key for 127.0.0.1, client leaf and key."""
    d = str(tmp_path_factory.mktemp("server-certs"))
    ca, cert, key = make_certs(d)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
        "-subj", "/CN=oxsio test client")
    with open(os.path.join(d, "client.cnf"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "client.pem", "-days", "2", "-extfile", "client.cnf")
    return ca, cert, key, os.path.join(d, "client.pem"), os.path.join(d, "client.key")


def echo_server() -> oxsio.Server:
    sio = oxsio.Server()

    @sio.event
    def add(sid: str, a: int, b: int) -> int:
        return a + b

    return sio


@pytest.fixture
def tls_server(certs: Certs) -> Iterator[Tuple[oxsio.Server, str]]:
    ca, cert, key, _, _ = certs
    sio = echo_server()
    port = sio.start("127.0.0.1", 0, ssl_certfile=cert, ssl_keyfile=key)
    yield sio, f"https://127.0.0.1:{port}"
    sio.close()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_oxsio_client_over_tls(tls_server: Tuple[oxsio.Server, str], certs: Certs, transports) -> None:
    _, url = tls_server
    c = oxsio.Client(ssl_verify=certs[0], reconnection=False)
    try:
        c.connect(url, transports=transports)
        assert c.call("add", (1, 2)) == 3
    finally:
        c.shutdown()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_python_socketio_client_over_tls(
    tls_server: Tuple[oxsio.Server, str], certs: Certs, transports, monkeypatch
) -> None:
    import requests
    import socketio

    _, url = tls_server
    # python-socketio trusts a CA bundle through its HTTP session: the
    # WebSocket transport reads `session.verify`, polling (which passes
    # verify=True per request) the REQUESTS_CA_BUNDLE variable.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certs[0])
    session = requests.Session()
    session.verify = certs[0]
    c = socketio.Client(http_session=session, reconnection=False)
    try:
        c.connect(url, transports=transports, wait_timeout=5)
        assert c.call("add", (2, 3), timeout=5) == 5
    finally:
        c.disconnect()


def test_plain_http_on_the_tls_port_gets_400(tls_server: Tuple[oxsio.Server, str]) -> None:
    sio, url = tls_server
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 "), data
    assert b"https://" in data


def _handshake(port: int, ca: str, client: Tuple[str, str] | None) -> bytes:
    ctx = ssl.create_default_context(cafile=ca)
    if client:
        ctx.load_cert_chain(*client)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk


def test_client_certificates(certs: Certs) -> None:
    ca, cert, key, ccert, ckey = certs
    sio = echo_server()
    port = sio.start("127.0.0.1", 0, ssl_certfile=cert, ssl_keyfile=key, ssl_ca_certs=ca)
    try:
        assert _handshake(port, ca, (ccert, ckey)).startswith(b"HTTP/1.1 200 OK")
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _handshake(port, ca, None)
        # oxsio's client sends no certificate: refused.
        c = oxsio.Client(ssl_verify=ca, reconnection=False)
        try:
            with pytest.raises(oxsio.ConnectionError):
                c.connect(f"https://127.0.0.1:{port}", transports=["websocket"])
        finally:
            c.shutdown()
    finally:
        sio.close()
    sio = echo_server()
    port = sio.start("127.0.0.1", 0, ssl_certfile=cert, ssl_keyfile=key, ssl_ca_certs=ca,
                     ssl_client_cert_optional=True)
    try:
        assert _handshake(port, ca, None).startswith(b"HTTP/1.1 200 OK")
        assert _handshake(port, ca, (ccert, ckey)).startswith(b"HTTP/1.1 200 OK")
    finally:
        sio.close()


def test_bad_tls_options_raise(certs: Certs, tmp_path) -> None:
    ca, cert, key, _, _ = certs
    sio = echo_server()
    try:
        with pytest.raises(ValueError, match="missing.pem"):
            sio.start("127.0.0.1", 0, ssl_certfile=str(tmp_path / "missing.pem"), ssl_keyfile=key)
        with pytest.raises(ValueError, match="private key"):
            sio.start("127.0.0.1", 0, ssl_certfile=cert, ssl_keyfile=cert)
        with pytest.raises(ValueError, match="certfile and keyfile"):
            sio.start("127.0.0.1", 0, ssl_certfile=cert)
        with pytest.raises(ValueError, match="need certfile"):
            sio.start("127.0.0.1", 0, ssl_ca_certs=ca)
        assert sio.port is None
    finally:
        sio.close()
