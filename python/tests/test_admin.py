"""The Socket.IO Admin UI protocol on the Python server (``sio.instrument``),
seen by a python-socketio client of the admin namespace: login with a
bcrypt-hashed password, ``config``, ``socket_connected``, ``server_stats``
with the server id; a wrong password refused; a read-only session's command
refused; bad options raise."""

from __future__ import annotations

import asyncio
import queue
from typing import Any, Iterator, List, Tuple

import pytest
import socketio

import oxsio

# bcrypt("changeit"), cost 4 (from bcryptjs).
HASH = "$2a$04$UXnWmZpPXvgpJSWHOPFRP.Kef5kthyOTCAS5iVTJ0EzgXAqiuo/VG"
LOGIN = {"username": "admin", "password": "changeit"}
EVENTS = ("session", "config", "server_stats", "all_sockets", "socket_connected", "room_joined")


@pytest.fixture
def instrumented() -> Iterator[Tuple[oxsio.Server, str]]:
    sio = oxsio.Server()
    sio.instrument(
        auth={"type": "basic", "username": "admin", "password": HASH},
        read_only=True,
        server_id="py-server",
        server_stats_interval=0.2,
    )

    @sio.event
    def join(sid: str, room: str) -> str:
        sio.enter_room(sid, room)
        return "joined"

    sio.start("127.0.0.1", 0)
    yield sio, f"http://127.0.0.1:{sio.port}"
    sio.close()


def admin_client(url: str, auth: Any) -> Tuple[socketio.Client, "queue.Queue[Tuple[str, List[Any]]]"]:
    got: "queue.Queue[Tuple[str, List[Any]]]" = queue.Queue()
    c = socketio.Client(reconnection=False)
    for name in EVENTS + ("connect_error",):
        c.on(name, lambda *args, _n=name: got.put((_n, list(args))), namespace="/admin")
    try:
        c.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=10)
    except socketio.exceptions.ConnectionError as e:
        # The server's refusal, as the connect_error handler got it.
        refusal = wait(got, "connect_error")
        raise socketio.exceptions.ConnectionError(f"{e}: {refusal}") from e
    return c, got


def wait(got: "queue.Queue[Tuple[str, List[Any]]]", name: str, pred: Any = lambda a: True) -> List[Any]:
    while True:
        n, args = got.get(timeout=10)
        if n == name and pred(args):
            return args


def test_login_config_sockets_and_stats(instrumented: Tuple[oxsio.Server, str]) -> None:
    _, url = instrumented
    admin, got = admin_client(url, LOGIN)
    try:
        session = wait(got, "session")
        assert isinstance(session[0], str) and len(session[0]) == 16
        config = wait(got, "config")
        assert config == [{"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}]
        app = socketio.Client(reconnection=False)
        app.connect(url, transports=["websocket"], wait_timeout=10)
        try:
            sid = app.get_sid("/")
            connected = wait(got, "socket_connected", lambda a: a[0]["id"] == sid)
            assert connected[0]["nsp"] == "/" and connected[0]["transport"] == "websocket"
            assert app.call("join", "lobby", timeout=10) == "joined"
            wait(got, "room_joined", lambda a: a[1] == "lobby" and a[2] == sid)
            counts = lambda a: {n["name"]: n["socketsCount"] for n in a[0]["namespaces"]}  # noqa: E731
            stats = wait(got, "server_stats", lambda a: counts(a) == {"/": 1, "/admin": 1})
            assert stats[0]["serverId"] == "py-server"
            assert stats[0]["clientsCount"] == 2
            # Read-only: the command is refused, the socket stays out of the room.
            reply = admin.call("join", ("/", "vip", sid), namespace="/admin", timeout=10)
            assert reply == {"error": "read-only"}
        finally:
            app.disconnect()
    finally:
        admin.disconnect()


def test_wrong_password_is_refused_and_the_server_keeps_serving(
    instrumented: Tuple[oxsio.Server, str],
) -> None:
    _, url = instrumented
    for auth in ({"username": "admin", "password": "nope"}, {"username": "admin"}, {}):
        with pytest.raises(socketio.exceptions.ConnectionError) as e:
            admin_client(url, auth)
        assert "invalid credentials" in str(e.value)
    admin, got = admin_client(url, LOGIN)
    wait(got, "config")
    admin.disconnect()


def test_bad_options_raise() -> None:
    sio = oxsio.Server()
    try:
        with pytest.raises(ValueError):
            sio.instrument()
        with pytest.raises(ValueError, match="bcrypt"):
            sio.instrument(auth=("admin", "changeit"))
        with pytest.raises(ValueError, match="mode"):
            sio.instrument(auth=False, mode="prod")
        with pytest.raises(ValueError):
            sio.instrument(auth=False, server_stats_interval=0)
        with pytest.raises(TypeError):
            sio.instrument(auth={"user": "admin", "password": HASH})
        with pytest.raises(ValueError):
            sio.instrument(auth={"type": "digest", "username": "a", "password": HASH})
        sio.instrument(auth=("admin", HASH), mode="production", namespace="/ops")
        with pytest.raises(RuntimeError):
            sio.instrument(auth=False)
    finally:
        sio.close()


async def test_async_server_instruments() -> None:
    sio = oxsio.AsyncServer()
    sio.instrument(auth=False, server_id="async")
    await sio.start("127.0.0.1", 0)
    try:
        c = socketio.AsyncClient(reconnection=False)
        done: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()

        @c.on("server_stats", namespace="/admin")  # type: ignore[misc]
        def stats(s: Any) -> None:
            if not done.done():
                done.set_result(s)

        await c.connect(f"http://127.0.0.1:{sio.port}", namespaces=["/admin"], transports=["websocket"])
        s = await asyncio.wait_for(done, 10)
        assert s["serverId"] == "async"
        await c.disconnect()
    finally:
        await sio.close()

