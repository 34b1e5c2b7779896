"""Interop with the other implementations:

- the official JS client (tests/interop/node_modules) and python-socketio's
  client run the shared scenarios of tests/interop against the APP.md app
  hosted by an oxsio Python server (interop_app.py), on every transport;
- the official JS client runs js_client.js against a Python server;
- the oxsio Python client talks to a python-socketio server on aiohttp.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from typing import Any, Iterator, List, Tuple

import pytest

import oxsio
from conftest import NODE_MODULES, Recorder, wait_for
from interop_app import build

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.dirname(NODE_MODULES)
MODES = ["websocket", "polling", "upgrade"]

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "socket.io-client")),
    reason="node or tests/interop/node_modules missing (bash tests/interop/setup.sh)",
)


@pytest.fixture
def app_url() -> Iterator[str]:
    sio = build()
    port = sio.start("127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    sio.close()


@pytest.fixture
def msgpack_app_url() -> Iterator[str]:
    sio = build(serializer="msgpack")
    port = sio.start("127.0.0.1", 0)
    yield f"http://127.0.0.1:{port}"
    sio.close()


def run_peer(cmd: List[str], timeout: float = 80, env: Any = None) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=INTEROP, env={**os.environ, **(env or {})}
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "FAIL" not in proc.stdout, out
    assert sum(1 for line in proc.stdout.splitlines() if line.startswith("ok ")) >= 7, out
    return out


@needs_node
@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", MODES)
def test_js_client_scenarios(app_url: str, mode: str) -> None:
    run_peer(["node", os.path.join(INTEROP, "client_scenarios.js"), app_url, mode])


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", MODES)
def test_python_socketio_client_scenarios(app_url: str, mode: str) -> None:
    run_peer([sys.executable, os.path.join(INTEROP, "python_client.py"), app_url, mode])


@needs_node
@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", MODES)
def test_js_msgpack_client_scenarios(msgpack_app_url: str, mode: str) -> None:
    """The JS client with socket.io-msgpack-parser, Server(serializer="msgpack")."""
    run_peer(["node", os.path.join(INTEROP, "client_scenarios.js"), msgpack_app_url, mode], env={"PARSER": "msgpack"})


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", MODES)
def test_python_socketio_msgpack_client_scenarios(msgpack_app_url: str, mode: str) -> None:
    """python-socketio's Client(serializer="msgpack") against Server(serializer="msgpack")."""
    run_peer(
        [sys.executable, os.path.join(INTEROP, "python_client.py"), msgpack_app_url, mode],
        env={"SERIALIZER": "msgpack"},
    )


@needs_node
@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
def test_js_client_against_python_server(mode: str) -> None:
    sio = oxsio.Server()
    seen = Recorder()

    @sio.event
    def connect(sid, environ, auth):
        seen.add("connect", auth)
        sio.emit("hello", {"sid": sid, "bin": b"\x01\x02"}, to=sid)

    @sio.event
    def add(sid, a, b):
        return a + b

    @sio.event
    def upload(sid, meta, blob):
        return {"name": meta["name"], "size": len(blob), "first": blob[:2]}

    @sio.event
    def ask(sid):
        sio.start_background_task(lambda: sio.emit("answer", sio.call("question", "q?", to=sid, timeout=5), to=sid))

    @sio.on("*")
    def any_event(event, sid, *args):
        sio.emit("caught", [event, list(args)], to=sid)

    @sio.event
    def disconnect(sid, reason):
        seen.add("disconnect", reason)

    port = sio.start()
    try:
        proc = subprocess.run(
            ["node", os.path.join(HERE, "js_client.js"), f"http://127.0.0.1:{port}", mode],
            capture_output=True,
            text=True,
            timeout=45,
            env={**os.environ, "NODE_PATH": NODE_MODULES},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ALL OK" in proc.stdout, proc.stdout
        got = seen.wait(2)
        assert ("connect", {"token": "js"}) in got
        assert ("disconnect", "client disconnect") in got
    finally:
        sio.close()


# ---- the oxsio client against python-socketio's AsyncServer on aiohttp ----


@pytest.fixture
def psio_server(request: Any) -> Iterator[Tuple[str, Recorder]]:
    import socketio

    serializer = getattr(request, "param", "default")
    from aiohttp import web

    rec = Recorder()
    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=1, ping_timeout=2, serializer=serializer)
        app = web.Application()
        sio.attach(app)

        @sio.event
        async def connect(sid, environ, auth):
            if auth and auth.get("token") == "bad":
                raise socketio.exceptions.ConnectionRefusedError("unauthorized", {"why": "bad"})
            rec.add("connect", auth)
            await sio.emit("hello", {"sid": sid, "bin": b"\x00\xff"}, to=sid)

        @sio.event
        async def echo(sid, *args):
            await sio.emit("echo", args, to=sid)

        @sio.event
        async def add(sid, a, b):
            return a + b

        @sio.event
        async def ask(sid):
            answer = await sio.call("question", "q?", to=sid, timeout=5)
            await sio.emit("answer", answer, to=sid)

        @sio.event
        async def kick(sid):
            await sio.disconnect(sid)

        @sio.event
        async def disconnect(sid, reason):
            rec.add("disconnect", reason)

        @sio.on("ping", namespace="/chat")
        async def chat_ping(sid):
            return "pong from /chat"

        async def start() -> None:
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            state["runner"] = runner
            ready.set()

        loop.run_until_complete(start())
        state["loop"] = loop
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{state['port']}", rec
    state["loop"].call_soon_threadsafe(state["loop"].stop)
    t.join(10)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], None])
def test_oxsio_client_against_python_socketio_server(psio_server: Tuple[str, Recorder], transports: Any) -> None:
    client_against_psio(psio_server, transports, "default")


@pytest.mark.parametrize("psio_server", ["msgpack"], indirect=True)
@pytest.mark.parametrize("transports", [["websocket"], ["polling"], None])
def test_oxsio_msgpack_client_against_python_socketio_msgpack_server(
    psio_server: Tuple[str, Recorder], transports: Any
) -> None:
    client_against_psio(psio_server, transports, "msgpack")


def client_against_psio(psio_server: Tuple[str, Recorder], transports: Any, serializer: str) -> None:
    url, rec = psio_server
    got = Recorder()
    c = oxsio.Client(serializer=serializer)
    c.on("hello", lambda data: got.add("hello", data))
    c.on("echo", lambda *args: got.add("echo", args))
    c.on("answer", lambda data: got.add("answer", data))
    c.on("question", lambda q: "reply to " + q)
    c.on("disconnect", lambda reason: got.add("disconnect", reason))
    try:
        c.connect(url, auth={"token": "ok"}, transports=transports, namespaces=["/", "/chat"])
        assert rec.wait(1)[0] == ("connect", {"token": "ok"})
        c.emit("echo", ({"nested": [b"\x01", {"b": b"\x02"}]}, 2, "three"))
        assert c.call("add", (2, 3)) == 5
        assert c.call("ping", namespace="/chat") == "pong from /chat"
        c.emit("ask")
        items = got.wait(3)
        assert ("hello", {"sid": c.sid, "bin": b"\x00\xff"}) in items
        assert ("echo", ({"nested": [b"\x01", {"b": b"\x02"}]}, 2, "three")) in items
        assert ("answer", "reply to q?") in items
        c.emit("kick")
        wait_for(lambda: ("disconnect", "server disconnect") in got.items)
        c.disconnect()
        c.wait()
    finally:
        c.shutdown()


def test_oxsio_client_refused_by_python_socketio_server(psio_server: Tuple[str, Recorder]) -> None:
    url, _ = psio_server
    errors = Recorder()
    c = oxsio.Client()
    c.on("connect_error", lambda data: errors.add(data))
    try:
        with pytest.raises(oxsio.ConnectionError):
            c.connect(url, auth={"token": "bad"})
        assert errors.wait(1)[0] == {"message": "unauthorized", "data": {"why": "bad"}}
    finally:
        c.shutdown()


async def test_async_oxsio_client_against_python_socketio_server(psio_server: Tuple[str, Recorder]) -> None:
    url, rec = psio_server
    c = oxsio.AsyncClient()
    got: List[Any] = []
    c.on("echo", lambda *args: got.append(args))
    try:
        await c.connect(url, auth=lambda: {"token": "callable"})
        assert await c.call("add", (40, 2)) == 42
        await c.emit("echo", b"bytes")
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [(b"bytes",)]
        assert ("connect", {"token": "callable"}) in rec.items
    finally:
        await c.shutdown()
