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
