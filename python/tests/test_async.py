"""AsyncServer and AsyncClient on the test's event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, List

import pytest

import oxsio


async def until(pred: Any, timeout: float = 5.0) -> None:
    async def loop() -> None:
        while not pred():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def aserver() -> AsyncIterator[oxsio.AsyncServer]:
    sio = oxsio.AsyncServer()
    await sio.start("127.0.0.1", 0)
    yield sio
    await sio.close()


@pytest.fixture
async def aclient() -> AsyncIterator[oxsio.AsyncClient]:
    c = oxsio.AsyncClient()
    yield c
    await c.shutdown()


async def test_async_handlers_run_on_the_loop(aserver: oxsio.AsyncServer, aclient: oxsio.AsyncClient) -> None:
    seen: List[Any] = []
    loop_thread = threading.get_ident()

    @aserver.event
    async def connect(sid, environ, auth):
        seen.append(("connect", auth, threading.get_ident() == loop_thread))
        await aserver.save_session(sid, {"n": 0})

    @aserver.event
    async def echo(sid, data):
        async with aserver.session(sid) as s:
            s["n"] += 1
        await asyncio.sleep(0.01)
        await aserver.emit("echo", data, to=sid)
        return "ack", (await aserver.get_session(sid))["n"]

    @aserver.on("plain")
    def plain(sid, x):
        return x + 1

    @aclient.on("echo")
    async def on_echo(data):
        seen.append(("echo", data, threading.get_ident() == loop_thread))

    await aclient.connect(f"http://127.0.0.1:{aserver.port}", auth={"k": "v"})
    assert aclient.connected
    assert await aclient.call("echo", {"b": b"\x01"}) == ("ack", 1)
    assert await aclient.call("plain", 41) == 42
    await until(lambda: len(seen) >= 2)
    assert seen == [("connect", {"k": "v"}, True), ("echo", {"b": b"\x01"}, True)]


async def test_async_server_call_and_callbacks(aserver: oxsio.AsyncServer, aclient: oxsio.AsyncClient) -> None:
    @aclient.event
    async def question(q):
        await asyncio.sleep(0.01)
        return q * 2

    got: List[Any] = []
    await aclient.connect(f"http://127.0.0.1:{aserver.port}")
    sid = aclient.sid
    assert await aserver.call("question", 21, to=sid, timeout=5) == 42

    async def cb(*args: Any) -> None:
        got.append(args)

    await aserver.emit("question", 1, to=sid, callback=cb)
    await aclient.emit("nothing-here", callback=lambda *a: got.append(("client-cb", a)))
    await until(lambda: len(got) >= 1)
    assert (2,) in got
    with pytest.raises(oxsio.TimeoutError):
        await aclient.call("no-handler-server-never-answers", timeout=0.3)


async def test_async_rooms_disconnect_and_operators(aserver: oxsio.AsyncServer) -> None:
    got: List[Any] = []
    reasons: List[Any] = []
    aserver.on("disconnect", lambda sid, reason: reasons.append(reason))
    clients = [oxsio.AsyncClient() for _ in range(2)]
    try:
        for i, c in enumerate(clients):
            c.on("msg", lambda data, i=i: got.append((i, data)))
            c.on("disconnect", lambda reason, i=i: reasons.append((i, reason)))
            await c.connect(f"http://127.0.0.1:{aserver.port}")
        a, b = (c.sid for c in clients)
        await aserver.enter_room(a, "r")
        await aserver.emit("msg", "to-r", room="r")
        await aserver.of("/").except_("r").emit("msg", "not-r")
        await aserver.send("hi", to=b)
        await until(lambda: len(got) >= 2)
        assert sorted(got) == [(0, "to-r"), (1, "not-r")]
        assert aserver.rooms(a) == [a, "r"] or sorted(aserver.rooms(a)) == sorted([a, "r"])
        await aserver.leave_room(a, "r")
        await aserver.close_room("r")
        await aserver.disconnect(b)
        await until(lambda: (1, "server disconnect") in reasons and "server disconnect" in reasons)
        await clients[0].disconnect()
        await until(lambda: "client disconnect" in reasons)
        await clients[1].wait()
    finally:
        for c in clients:
            await c.shutdown()


async def test_async_refusal_and_auth_coroutine(aserver: oxsio.AsyncServer) -> None:
    @aserver.event
    async def connect(sid, environ, auth):
        if auth != {"token": "good"}:
            raise oxsio.ConnectionRefusedError("nope", 1, 2)

    errors: List[Any] = []
    bad = oxsio.AsyncClient()
    bad.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(oxsio.ConnectionError):
        await bad.connect(f"http://127.0.0.1:{aserver.port}", auth={"token": "bad"})
    await until(lambda: errors)
    assert errors == [{"message": "nope", "data": [1, 2]}]
    await bad.shutdown()

    async def token() -> Any:
        await asyncio.sleep(0.01)
        return {"token": "good"}

    good = oxsio.AsyncClient()
    await good.connect(f"http://127.0.0.1:{aserver.port}", auth=token)
    assert good.connected
    await good.shutdown()


async def test_async_handler_exception_is_logged_and_connection_survives(
    aserver: oxsio.AsyncServer, aclient: oxsio.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @aserver.event
    async def boom(sid):
        raise RuntimeError("kaboom")

    aserver.on("ok", lambda sid: "fine")
    await aclient.connect(f"http://127.0.0.1:{aserver.port}")
    await aclient.emit("boom")
    assert await aclient.call("ok") == "fine"
    await until(lambda: "kaboom" in caplog.text)


async def test_async_connect_handler_has_run_when_connect_returns(aserver: oxsio.AsyncServer) -> None:
    seen: List[Any] = []
    c = oxsio.AsyncClient()

    @c.event
    async def connect():
        await asyncio.sleep(0.1)
        seen.append("connect")

    try:
        await c.connect(f"http://127.0.0.1:{aserver.port}")
        assert seen == ["connect"]
    finally:
        await c.shutdown()


async def test_async_simple_client(aserver: oxsio.AsyncServer) -> None:
    aserver.on("ping", lambda sid, x: x + 1)

    @aserver.event
    async def tell(sid):
        await aserver.emit("news", {"n": 1}, to=sid)

    async with oxsio.AsyncSimpleClient() as c:
        await c.connect(f"http://127.0.0.1:{aserver.port}")
        assert await c.call("ping", 1) == 2
        await c.emit("tell")
        assert await c.receive(timeout=5) == ["news", {"n": 1}]
        with pytest.raises(oxsio.TimeoutError):
            await c.receive(timeout=0.1)


async def test_async_msgpack_server_and_client() -> None:
    """serializer="msgpack" on AsyncServer and AsyncClient: events with
    binary, acks both ways, rooms; a default-serializer client cannot join."""
    sio = oxsio.AsyncServer(serializer="msgpack")
    await sio.start("127.0.0.1", 0)
    c = oxsio.AsyncClient(serializer="msgpack")
    plain = oxsio.AsyncClient(reconnection=False, request_timeout=2)
    got: List[Any] = []
    try:

        @sio.event
        async def connect(sid, environ, auth):
            await sio.enter_room(sid, "r")

        @sio.event
        async def echo(sid, *args):
            await sio.emit("echo", args, room="r")
            return {"n": len(args)}

        @c.on("echo")
        async def on_echo(*args):
            got.append(args)

        @c.event
        async def question(q):
            return [q, b"\x00\xff"]

        await c.connect(f"http://127.0.0.1:{sio.port}")
        reply = await c.call("echo", (b"\x01\x02", {"k": [1.5, None]}, "s"))
        assert reply == {"n": 3}
        await until(lambda: got)
        assert got == [(b"\x01\x02", {"k": [1.5, None]}, "s")]
        assert await sio.call("question", "q", to=c.sid, timeout=5) == ["q", b"\x00\xff"]
        with pytest.raises(oxsio.ConnectionError):
            await plain.connect(f"http://127.0.0.1:{sio.port}", transports=["websocket"])
    finally:
        await plain.shutdown()
        await c.shutdown()
        await sio.close()
