"""The client over TLS (https/wss) against python-socketio on aiohttp with
a test CA made by openssl: verification on, off, and with a CA bundle."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import threading
from typing import Iterator, Tuple

import pytest

import oxsio

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")


def make_certs(d: str) -> Tuple[str, str, str]:
    """A test CA and a leaf for 127.0.0.1 signed by it."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=oxsio test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")
    return (os.path.join(d, "ca.pem"), os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, str]]:
    import socketio
    from aiohttp import web

    ca, cert, key = make_certs(str(tmp_path_factory.mktemp("certs")))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        sio = socketio.AsyncServer(async_mode="aiohttp")
        app = web.Application()
        sio.attach(app)

        @sio.event
        async def add(sid, a, b):
            return a + b

        async def start() -> None:
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
            await site.start()
            state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            state["runner"] = runner
            ready.set()

        loop.run_until_complete(start())
        state["loop"] = loop
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)
    yield f"https://127.0.0.1:{state['port']}", ca
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    t.join(10)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_tls_with_the_ca_bundle(tls_server: Tuple[str, str], transports) -> None:
    url, ca = tls_server
    c = oxsio.Client(ssl_verify=ca)
    try:
        c.connect(url, transports=transports)
        assert c.call("add", (1, 2)) == 3
    finally:
        c.shutdown()


def test_tls_unverified(tls_server: Tuple[str, str]) -> None:
    url, _ = tls_server
    c = oxsio.Client(ssl_verify=False)
    try:
        c.connect(url)
        assert c.call("add", (2, 2)) == 4
    finally:
        c.shutdown()


def test_tls_untrusted_certificate_is_refused(tls_server: Tuple[str, str]) -> None:
    url, _ = tls_server
    c = oxsio.Client(reconnection=False)
    try:
        with pytest.raises(oxsio.ConnectionError):
            c.connect(url)
    finally:
        c.shutdown()
