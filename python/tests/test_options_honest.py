"""Every python-socketio option either works as python-socketio documents
it or raises naming it: async_handlers, logger/engineio_logger, json,
serializer, max_attachments, transport(sid), oxsio.exceptions, and the
options oxsio refuses."""

from __future__ import annotations

import datetime
import json as std_json
import logging
import threading
import time
from typing import Any, Iterator, List

import pytest
import socketio as psio

import oxsio
from conftest import Recorder, wait_for


@pytest.fixture
def started() -> Iterator[Any]:
    servers: List[oxsio.Server] = []

    def start(**kw: Any) -> Any:
        s = oxsio.Server(**kw)
        port = s.start("127.0.0.1", 0)
        servers.append(s)
        return s, f"http://127.0.0.1:{port}"

    yield start
    for s in servers:
        s.close()


def test_async_handlers_run_clients_in_parallel_and_keep_each_clients_order(started: Any) -> None:
    sio, url = started()  # async_handlers=True is python-socketio's default
    barrier = threading.Barrier(2, timeout=10)
    seen: List[Any] = []
    lock = threading.Lock()

    @sio.on("block")
    def block(sid: str) -> str:
        # Both clients' handlers must be in here at once to pass.
        barrier.wait()
        return "ok"

    @sio.on("seq")
    def seq(sid: str, n: int) -> None:
        time.sleep(0.001 * (n % 3))
        with lock:
            seen.append((sid, n))

    clients = [oxsio.Client() for _ in range(2)]
    for c in clients:
        c.connect(url, transports=["websocket"])
    results: List[Any] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.call("block", timeout=15))) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == ["ok", "ok"]
    for c in clients:
        for n in range(30):
            c.emit("seq", n)
    wait_for(lambda: len(seen) == 60, 10, "60 events")
    for c in clients:
        mine = [n for sid, n in seen if sid == c.sid]
        assert mine == list(range(30))
    for c in clients:
        c.disconnect()


def test_async_handlers_false_serialises(started: Any) -> None:
    sio, url = started(async_handlers=False)
    active = [0]
    overlap = [False]

    @sio.on("work")
    def work(sid: str) -> None:
        active[0] += 1
        if active[0] > 1:
            overlap[0] = True
        time.sleep(0.05)
        active[0] -= 1

    got = Recorder()

    @sio.on("done")
    def done(sid: str) -> None:
        got.add(sid)

    clients = [oxsio.Client() for _ in range(3)]
    for c in clients:
        c.connect(url, transports=["websocket"])
        c.emit("work")
        c.emit("done")
    got.wait(3, 10)
    assert not overlap[0]
    for c in clients:
        c.disconnect()


def test_logger_receives_the_cores_records(started: Any) -> None:
    records: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("test.oxsio.engine")
    log.setLevel(logging.INFO)
    log.addHandler(Keep())
    sio, url = started(engineio_logger=log, logger=log, cors_allowed_origins=["http://ok.example"])
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400
    wait_for(lambda: any("not an accepted origin" in r.getMessage() for r in records), 5, "the core's record")
    rec = next(r for r in records if "not an accepted origin" in r.getMessage())
    assert rec.levelno == logging.INFO and "evil.example" in rec.getMessage()
    with pytest.raises(TypeError, match="logger"):
        oxsio.Server(logger="verbose")


class DateJson:
    """A json module as users pass one: datetimes out, a marker in."""

    @staticmethod
    def dumps(obj: Any, **kw: Any) -> str:
        return std_json.dumps(obj, default=lambda o: o.isoformat(), **kw)

    @staticmethod
    def loads(s: str, **kw: Any) -> Any:
        return std_json.loads(s, object_hook=lambda d: {**d, "_seen": True}, **kw)


def test_custom_json_module_on_server_and_client(started: Any) -> None:
    sio, url = started(json=DateJson)

    @sio.on("echo")
    def echo(sid: str, data: Any) -> Any:
        return data, datetime.datetime(2026, 12, 6, 12, 0, 0), b"\x00\x01"

    c = oxsio.Client(json=DateJson)
    c.connect(url, transports=["websocket"])
    data, when, blob = c.call("echo", {"a": 1}, timeout=5)
    # The server's loads saw it (marker), then the client's loads did too.
    assert data == {"a": 1, "_seen": True}
    assert when == "2026-12-06T12:00:00"
    assert blob == b"\x00\x01"
    c.disconnect()
    with pytest.raises(TypeError, match="json"):
        oxsio.Server(json=object())


def test_max_attachments_accepts_what_python_socketio_sends(started: Any) -> None:
    sio, url = started()
    got = Recorder()

    @sio.on("many")
    def many(sid: str, *parts: Any) -> int:
        got.add(len(parts))
        return len(parts)

    c = psio.Client()
    c.connect(url, transports=["websocket"])
    assert c.call("many", tuple(bytes([i]) for i in range(12)), timeout=5) == 12
    c.disconnect()

    small, url2 = started(max_attachments=2)
    gone = Recorder()
    c2 = psio.Client(reconnection=False)
    c2.on("disconnect", lambda *a: gone.add("gone"))
    c2.connect(url2, transports=["websocket"])
    c2.emit("many", (b"a", b"b", b"c"))
    gone.wait(1, 10)


def test_transport_of_a_client(started: Any) -> None:
    sio, url = started()
    sids: List[str] = []
    sio.on("connect", lambda sid, environ, auth=None: sids.append(sid))
    for transports, want in ((["websocket"], "websocket"), (["polling"], "polling")):
        c = oxsio.Client()
        c.connect(url, transports=transports)
        wait_for(lambda: len(sids) > 0, 5, "connect")
        assert sio.transport(sids.pop()) == want
        c.disconnect()
    with pytest.raises(KeyError):
        sio.transport("nope")


@pytest.mark.parametrize(
    "kw, exc, name",
    [
        ({"serializer": "cbor"}, NotImplementedError, "serializer"),
        ({"serializer": "nonsense"}, TypeError, "serializer"),
        ({"serializer": "MsgPack"}, TypeError, "serializer"),
        ({"serializer": "msgpack", "json": object()}, ValueError, "json"),
        ({"monitor_clients": False}, NotImplementedError, "monitor_clients"),
        ({"async_mode": "eventlet"}, ValueError, "async_mode"),
        ({"client_manager": object()}, TypeError, "client_manager"),
        ({"max_attachments": -1}, ValueError, "max_attachments"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
    ],
)
def test_server_options_oxsio_cannot_honour_raise(kw: Any, exc: Any, name: str) -> None:
    with pytest.raises(exc, match=name):
        oxsio.Server(**kw)


@pytest.mark.parametrize(
    "kw, exc, name",
    [
        ({"http_session": object()}, NotImplementedError, "http_session"),
        ({"websocket_extra_options": {"ping_interval": 1}}, NotImplementedError, "websocket_extra_options"),
        ({"timestamp_requests": False}, NotImplementedError, "timestamp_requests"),
        ({"serializer": "pickle"}, NotImplementedError, "serializer"),
        ({"serializer": object()}, TypeError, "serializer"),
        ({"serializer": "msgpack", "json": object()}, ValueError, "json"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
    ],
)
def test_client_options_oxsio_cannot_honour_raise(kw: Any, exc: Any, name: str) -> None:
    with pytest.raises(exc, match=name):
        oxsio.Client(**kw)


def test_redis_manager_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="redis://"):
        oxsio.RedisManager("http://x")
    # write_only is an emitter: it cannot be a server's client_manager,
    # takes no acknowledgement, and its options are checked.
    emitter = oxsio.AsyncRedisManager("redis://127.0.0.1:1", write_only=True)
    with pytest.raises(ValueError, match="write_only"):
        oxsio.Server(client_manager=emitter)
    with pytest.raises(NotImplementedError, match="callback"):
        oxsio.RedisManager("redis://127.0.0.1:1", write_only=True).emit("x", callback=print)
    with pytest.raises(RuntimeError, match="write_only"):
        oxsio.RedisManager("redis://127.0.0.1:1").emit("x")
    with pytest.raises(ValueError, match="requests_timeout"):
        oxsio.RedisManager("redis://127.0.0.1:1", requests_timeout=0)
    with pytest.raises(ValueError, match="subscription_mode"):
        oxsio.ShardedRedisManager(["redis://127.0.0.1:1"], subscription_mode="Dynamic")
    with pytest.raises(ValueError, match="redis://"):
        oxsio.ShardedRedisManager([])
    with pytest.raises(ValueError, match="redis_prefix"):
        oxsio.Server(redis_prefix="x")
    with pytest.raises(ValueError, match="payload_threshold"):
        oxsio.PostgresManager("postgres://u@127.0.0.1:1/db", payload_threshold=-1)
    with pytest.raises(ValueError, match="table name"):
        oxsio.Server(client_manager=oxsio.PostgresManager("postgres://u@127.0.0.1:1/db", table_name="t; drop"))


def test_exception_names_match_python_socketio() -> None:
    from oxsio import exceptions

    for name in ("ConnectionError", "ConnectionRefusedError", "TimeoutError", "BadNamespaceError", "DisconnectedError", "SocketIOError"):
        assert hasattr(exceptions, name) and hasattr(psio.exceptions, name)
    assert issubclass(exceptions.ConnectionRefusedError, exceptions.ConnectionError)
    assert oxsio.Server.reason.PING_TIMEOUT == psio.Server.reason.PING_TIMEOUT


def test_max_json_depth_on_server_and_client(started: Any) -> None:
    deep: Any = 1
    for _ in range(199):
        deep = [deep]
    sio, url = started(max_json_depth=250)
    sio.on("echo", lambda sid, data: data)
    c = oxsio.Client(max_json_depth=250)
    c.connect(url, transports=["websocket"])
    assert c.call("echo", deep, timeout=5) == deep
    c.disconnect()
    # With the default (128) the server closes the connection.
    plain, url2 = started()
    gone = Recorder()
    c2 = oxsio.Client(reconnection=False)
    c2.on("disconnect", lambda *a: gone.add("gone"))
    c2.connect(url2, transports=["websocket"])
    c2.emit("echo", deep)
    gone.wait(1, 10)
    with pytest.raises(ValueError, match="max_json_depth"):
        oxsio.Server(max_json_depth=-1)


def _upgrade_answer(url: str) -> str:
    import socket as _socket

    host, port = url.rsplit(":", 1)
    s = _socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    s.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
    answer = s.recv(4096).decode("latin-1").lower()
    s.close()
    return answer


def test_per_message_deflate_is_agreed_only_when_on(started: Any) -> None:
    _, on = started(per_message_deflate=True)
    assert "sec-websocket-extensions: permessage-deflate" in _upgrade_answer(on)
    _, threshold = started(per_message_deflate=0)
    assert "sec-websocket-extensions: permessage-deflate" in _upgrade_answer(threshold)
    _, off = started()
    assert "sec-websocket-extensions" not in _upgrade_answer(off)
    for bad in ("yes", -1, 1.5):
        with pytest.raises(ValueError, match="per_message_deflate"):
            oxsio.Server(per_message_deflate=bad)


def test_client_per_message_deflate_and_max_payload(started: Any) -> None:
    sio, url = started(per_message_deflate=True)
    sio.on("echo", lambda sid, data: data)
    sio.on("big", lambda sid: sio.emit("big", "z" * 5000, to=sid))
    big = "oxsio " * 40_000
    c = oxsio.Client(per_message_deflate=True)
    c.connect(url, transports=["websocket"])
    assert c.call("echo", big, timeout=5) == big
    c.disconnect()
    # A message over the client's max_payload ends its connection.
    small = oxsio.Client(max_payload=1000, reconnection=False)
    gone: List[str] = []
    small.on("disconnect", lambda *a: gone.append("x"))
    small.connect(url, transports=["websocket"])
    small.emit("big")
    wait_for(lambda: len(gone) > 0, 5, "disconnect on an oversized message")
    for bad in ("on", -5):
        with pytest.raises(ValueError, match="per_message_deflate"):
            oxsio.Client(per_message_deflate=bad)
    with pytest.raises(ValueError, match="max_payload"):
        oxsio.Client(max_payload=-1)


def _eio3_handshake(url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/socket.io/?EIO=3&transport=polling", timeout=5) as r:
            return f"{r.status} {r.read().decode()}"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.read().decode()}"


def test_allow_eio3_serves_socketio_2_clients(started: Any) -> None:
    _, on = started(allow_eio3=True, cors_allowed_origins="*")
    answer = _eio3_handshake(on)
    assert answer.startswith("200 ") and ':0{"sid":' in answer, answer
    _, off = started(cors_allowed_origins="*")
    assert _eio3_handshake(off).startswith("400 "), _eio3_handshake(off)


def test_eio3_client_against_an_eio3_server(started: Any) -> None:
    sio, url = started(allow_eio3=True)
    sio.on("echo", lambda sid, data: data)
    sids: List[str] = []
    sio.on("connect", lambda sid, environ, auth=None: sids.append(sid))
    for transports in (["polling"], ["websocket"]):
        c = oxsio.Client(eio3=True)
        c.connect(url, transports=transports)
        assert c.call("echo", {"v": "2.x", "b": b"\x01\x02"}, timeout=5) == {"v": "2.x", "b": b"\x01\x02"}
        # A 2.x client's id in "/" is its Engine.IO id, the same on both ends.
        assert c.sid in sids
        c.disconnect()
