"""Bad input: wrong types, closed server, unknown sids, raising handlers."""

from __future__ import annotations

import logging
import math
import socket
import time

import pytest

import oxsio
from conftest import Recorder, wait_for


class Unsendable:
    pass


@pytest.mark.parametrize(
    "data, exc",
    [
        (Unsendable(), TypeError),
        ({1: "int key"}, TypeError),
        ({"a": {1, 2}}, TypeError),
        ([object()], TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (2**64, ValueError),
        (-(2**63) - 1, ValueError),
    ],
)
def test_wrong_payload_types(server: oxsio.Server, url: str, client: oxsio.Client, data, exc) -> None:
    client.connect(url)
    with pytest.raises(exc):
        client.emit("x", data)
    with pytest.raises(exc):
        server.emit("x", data)
    with pytest.raises(exc):
        client.call("x", data, timeout=1)
    # The connection is still fine afterwards.
    server.on("ping", lambda sid: "pong")
    assert client.call("ping") == "pong"


def test_self_referencing_payload(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    client.connect(url)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        client.emit("x", loop)


def test_large_ints_and_unicode_round_trip(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    server.on("echo", lambda sid, x: x)
    client.connect(url)
    for v in [2**63 - 1, -(2**63), 2**64 - 1, "ünï😀\u0000\n", 1e300, -0.5, "", [], {}]:
        assert client.call("echo", v) == v


def test_wrong_argument_types(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    client.connect(url)
    with pytest.raises(TypeError):
        client.emit(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.emit(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        server.emit("x", to=[1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        server.on("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        server.emit("x", callback=lambda: None)  # a callback needs one sid
    with pytest.raises(TypeError):
        oxsio.Server(not_an_option=1)
    with pytest.raises(TypeError):
        oxsio.Client(not_an_option=1)
    with pytest.raises(ValueError):
        oxsio.Server(transports=["carrier-pigeon"])
    with pytest.raises(ValueError):
        oxsio.Server(ping_interval=-1)
    with pytest.raises(ValueError):
        oxsio.Client(randomization_factor=2)


def test_reserved_event_names(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    client.connect(url)
    for name in ["connect", "disconnect", "connect_error"]:
        with pytest.raises(ValueError):
            client.emit(name)
        with pytest.raises(ValueError):
            server.emit(name)


def test_emit_to_unknown_sid_is_a_no_op(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    client.connect(url)
    server.emit("x", 1, to="not-a-sid")
    server.emit("x", 1, to="AAAAAAAAAAAAAAAAAAAA")
    server.emit("x", 1, to="x", namespace="/not-served")
    server.enter_room("unknown", "room")
    server.leave_room("unknown", "room")
    server.disconnect("unknown")
    assert server.rooms("unknown") == []
    with pytest.raises(oxsio.DisconnectedError):
        server.call("x", to="unknown", timeout=1)
    rec = []
    server.emit("x", to="unknown", callback=lambda *a: rec.append(a))
    assert rec == []


def test_handler_that_raises_is_logged_and_connection_survives(
    server: oxsio.Server, url: str, client: oxsio.Client, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(sid):
        raise RuntimeError("kaboom")

    server.on("boom", boom)
    server.on("ping", lambda sid: "pong")
    client.on("bad", lambda: 1 / 0)
    client.connect(url)
    with caplog.at_level(logging.ERROR, logger="oxsio"):
        client.emit("boom")
        server.emit("bad", to=client.sid)
        assert client.call("ping") == "pong"
        wait_for(lambda: "kaboom" in caplog.text and "ZeroDivisionError" in caplog.text)
    assert client.connected
    assert client.call("ping") == "pong"


def test_connect_handler_that_raises_refuses(server: oxsio.Server, url: str, client: oxsio.Client, caplog) -> None:
    def connect(sid, environ, auth):
        raise KeyError("oops")

    server.on("connect", connect)
    with pytest.raises(oxsio.ConnectionError):
        client.connect(url)
    wait_for(lambda: "oops" in caplog.text)


def test_closed_server(url: str, server: oxsio.Server) -> None:
    port = server.port
    c = oxsio.Client(reconnection=False)
    c.connect(url)
    server.close()
    wait_for(lambda: not c.connected)
    server.emit("x", 1)  # no clients: nothing happens
    server.close()  # closing twice is fine
    with pytest.raises(oxsio.BadNamespaceError):
        c.emit("x", 1)
    with pytest.raises(oxsio.BadNamespaceError):
        c.call("x", 1)
    c2 = oxsio.Client(reconnection=False)
    with pytest.raises(oxsio.ConnectionError):
        c2.connect(f"http://127.0.0.1:{port}")
    c.shutdown()
    c2.shutdown()


def test_client_errors() -> None:
    c = oxsio.Client()
    with pytest.raises(oxsio.BadNamespaceError):
        c.emit("x")
    with pytest.raises(ValueError):
        c.connect("not a url")
    with pytest.raises(ValueError):
        c.connect("ftp://127.0.0.1:1")
    # A port nobody listens on.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = time.monotonic()
    with pytest.raises(oxsio.ConnectionError):
        c.connect(f"http://127.0.0.1:{port}")
    assert time.monotonic() - t < 5
    with pytest.raises(ValueError):
        c.connect(f"http://127.0.0.1:{port}", transports=["smoke-signals"])
    c.shutdown()


def test_listen_errors() -> None:
    a = oxsio.Server()
    port = a.start()
    b = oxsio.Server()
    try:
        with pytest.raises(OSError):
            b.start("127.0.0.1", port)
        with pytest.raises(RuntimeError):
            a.start()  # already listening
    finally:
        a.close()
        b.close()


def test_oversized_payload_is_refused_by_the_client(rec: Recorder) -> None:
    sio = oxsio.Server(max_http_buffer_size=1000)
    sio.on("big", lambda sid, data: rec.add(len(data)))
    port = sio.start()
    c = oxsio.Client()
    try:
        c.connect(f"http://127.0.0.1:{port}")
        with pytest.raises(ValueError):
            c.emit("big", "x" * 5000)
        c.emit("big", "x" * 100)
        assert rec.wait(1) == [100]
    finally:
        c.shutdown()
        sio.close()


def test_flood_beyond_max_pending_events_disconnects_the_sender() -> None:
    import threading

    sio = oxsio.Server(max_pending_events=20)
    release = threading.Event()
    seen = []

    def on_e(sid, i):
        release.wait(10)  # the handlers fall behind: events pile up
        seen.append(i)

    sio.on("e", on_e)
    sio.on("disconnect", lambda sid, reason: seen.append(reason))
    port = sio.start()
    c = oxsio.Client(reconnection=False)
    try:
        c.connect(f"http://127.0.0.1:{port}")
        for i in range(200):
            try:
                c.emit("e", i)
            except oxsio.SocketIOError:
                break
        wait_for(lambda: not c.connected, what="the flooding client to be disconnected")
        release.set()
        wait_for(lambda: "server disconnect" in seen)
        events = [x for x in seen if isinstance(x, int)]
        # at most the batch being handled + max_pending_events queued
        assert 0 < len(events) < 200
        assert events == list(range(len(events)))
    finally:
        release.set()
        c.shutdown()
        sio.close()
