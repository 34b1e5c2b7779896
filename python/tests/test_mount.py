"""The server mounted in the user's web app: ``ASGIApp`` under uvicorn and
hypercorn (and inside FastAPI), ``AsyncServer.attach`` on aiohttp,
``WSGIApp`` under werkzeug and gunicorn. Each host runs mount_apps.py in its
own process; the official JS client (every transport mode) and the
python-socketio client run the shared interop scenarios through it, and the
host app's own route keeps working beside it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, Iterator, List, Optional

import pytest

from conftest import NODE_MODULES

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.dirname(NODE_MODULES)
PY = sys.executable

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "socket.io-client")),
    reason="node or tests/interop/node_modules missing (bash tests/interop/setup.sh)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HOSTS: Dict[str, List[str]] = {
    "uvicorn": [PY, "-m", "uvicorn", "mount_apps:asgi", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"],
    "hypercorn": [PY, "-m", "hypercorn", "mount_apps:asgi", "--bind", "127.0.0.1:{port}"],
    "fastapi": [PY, "-m", "uvicorn", "mount_apps:fastapi", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"],
    "aiohttp": [PY, "-m", "aiohttp.web", "-H", "127.0.0.1", "-P", "{port}", "mount_apps:aiohttp_app"],
    "werkzeug": [
        PY,
        "-c",
        "import mount_apps; from werkzeug.serving import run_simple; "
        "run_simple('127.0.0.1', {port}, mount_apps.wsgi, threaded=True)",
    ],
    "gunicorn": [PY, "-m", "gunicorn", "-k", "gthread", "--threads", "32", "-b", "127.0.0.1:{port}", "mount_apps:wsgi"],
}


class Host:
    def __init__(self, name: str, env: Optional[Dict[str, str]] = None) -> None:
        self.port = free_port()
        cmd = [a.replace("{port}", str(self.port)) for a in HOSTS[name]]
        self.log = open(os.path.join(HERE, f".host-{name}.log"), "w+")
        self.proc = subprocess.Popen(
            cmd, cwd=HERE, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/hello", timeout=2) as r:
                    assert r.read() == b"hello from the host app"
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not start:\n{self.output()}")
                time.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture(params=list(HOSTS))
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    h = Host(request.param)
    yield h
    h.stop()


def run_peer(cmd: List[str], host: Host) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=80, cwd=INTEROP)
    out = proc.stdout + proc.stderr
    detail = f"{out}\n--- host log ---\n{host.output()}"
    assert proc.returncode == 0, detail
    assert "FAIL" not in proc.stdout, detail
    assert sum(1 for line in proc.stdout.splitlines() if line.startswith("ok ")) >= 7, detail
    return out


@needs_node
@pytest.mark.timeout(300)
def test_js_client_through_the_host(host: Host) -> None:
    for mode in ["websocket", "polling", "upgrade"]:
        run_peer(["node", os.path.join(INTEROP, "client_scenarios.js"), host.url, mode], host)
    # The host app's own routes still work after all that.
    with urllib.request.urlopen(host.url + "/hello", timeout=5) as r:
        assert r.read() == b"hello from the host app"


@pytest.mark.timeout(120)
def test_python_socketio_client_through_the_host(host: Host) -> None:
    run_peer([PY, os.path.join(INTEROP, "python_client.py"), host.url, "upgrade"], host)


def _raw_http(port: int, request: bytes, head_only: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while not (head_only and b"\r\n\r\n" in data):  # else: to the end of the connection
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def _alive(url: str) -> None:
    import oxsio

    c = oxsio.Client(reconnection=False)
    c.connect(url, transports=["websocket"])
    assert c.call("echo-ack", "still here", timeout=5) == "still here"
    c.disconnect()


@pytest.fixture(params=["uvicorn", "aiohttp"])
def guarded(request: pytest.FixtureRequest) -> Iterator[Host]:
    h = Host(request.param, env={"ORIGINS": "http://ok.example"})
    yield h
    h.stop()


@pytest.mark.timeout(120)
def test_bad_input_through_a_host(guarded: Host) -> None:
    """A refused Origin, a malformed polling body, a WebSocket dropped
    mid-frame, the host app's own exception and a handler that raises:
    each gets a clean answer and other clients are unaffected."""
    port = guarded.port
    # A refused Origin: 400 on polling, no WebSocket.
    for transport, extra in (
        ("polling", b"Connection: close\r\n"),
        (
            "websocket",
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ),
    ):
        res = _raw_http(
            port,
            b"GET /socket.io/?EIO=4&transport=" + transport.encode() + b" HTTP/1.1\r\nHost: x\r\n"
            b"Origin: http://evil.example\r\n" + extra + b"\r\n",
            head_only=transport == "websocket",
        )
        status = int(res.split(b" ")[1])
        assert status != 101 and status >= 400, res[:200]
        if transport == "polling":
            assert status == 400 and b"Not an accepted origin." in res, res[:300]
    # The allowed origin is served.
    res = _raw_http(
        port,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://ok.example\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert res.startswith(b"HTTP/1.1 200"), res[:200]
    sid = res.split(b'"sid":"')[1].split(b'"')[0]
    # A malformed polling body: that session ends, no other.
    body = b"\xff\xfe not a packet"
    res = _raw_http(
        port,
        b"POST /socket.io/?EIO=4&transport=polling&sid=" + sid + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: text/plain\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body,
    )
    # As Node: the POST is answered and the session closes (parse error).
    assert int(res.split(b" ")[1]) in (200, 400), res[:200]
    deadline = time.monotonic() + 10
    while True:
        res = _raw_http(
            port,
            b"GET /socket.io/?EIO=4&transport=polling&sid=" + sid + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        if int(res.split(b" ")[1]) == 400:
            break
        assert time.monotonic() < deadline, res[:300]
    _alive(guarded.url)
    # A WebSocket dropped in the middle of a frame.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head[:200]
        s.sendall(b"\x81\xfe\x10\x00\x00\x00\x00\x00" + b"4" * 100)  # 4096 bytes announced, 100 sent
    _alive(guarded.url)
    # The host app's own bug: its 500, nothing else.
    if guarded.proc.args[-1].endswith("asgi") or "mount_apps:asgi" in " ".join(guarded.proc.args):
        try:
            urllib.request.urlopen(guarded.url + "/boom", timeout=5)
        except urllib.error.HTTPError as e:
            assert e.code == 500
    # A handler that raises: logged; the connection stays.
    import oxsio

    c = oxsio.Client(reconnection=False)
    c.connect(guarded.url, transports=["websocket"])
    c.emit("crash")
    assert c.call("echo-ack", 1, timeout=5) == 1
    assert c.connected
    c.disconnect()
    assert guarded.proc.poll() is None, guarded.output()
