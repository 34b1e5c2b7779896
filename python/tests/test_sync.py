"""Server and Client (threads) through the public API."""

from __future__ import annotations

import threading
import time

import pytest

import oxsio
from conftest import Recorder, wait_for


def test_connect_environ_auth_and_sid(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    @server.event
    def connect(sid, environ, auth):
        rec.add("connect", sid, environ["REMOTE_ADDR"], environ["QUERY_STRING"], auth)

    client.connect(url + "/?room=7", auth={"token": "t"}, headers={"X-Test": "yes"})
    assert client.connected
    (_, sid, addr, query, auth), = rec.wait(1)
    assert sid == client.sid == client.get_sid("/")
    assert addr == "127.0.0.1"
    assert "room=7" in query and "EIO=4" in query
    assert auth == {"token": "t"}
    assert server.get_environ(sid)["HTTP_X_TEST"] == "yes"
    assert server.is_connected(sid)
    assert client.namespaces == {"/": sid}


def test_legacy_connect_handler_without_auth(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    @server.on("connect")
    def on_connect(sid, environ):
        rec.add(sid)

    client.connect(url)
    assert rec.wait(1) == [client.sid]


def test_echo_binary_nested_and_multiple_args(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    @server.event
    def echo(sid, *args):
        server.emit("echo", args, to=sid)

    client.on("echo", lambda *args: rec.add(args))
    client.connect(url)
    payload = {"a": [1, 2.5, None, True], "bin": b"\x00\xff", "deep": [{"x": bytearray(b"yz")}]}
    client.emit("echo", (payload, "two", 3))
    client.emit("echo", "single")
    client.emit("echo")
    got = rec.wait(3)
    assert got[0] == ({"a": [1, 2.5, None, True], "bin": b"\x00\xff", "deep": [{"x": b"yz"}]}, "two", 3)
    assert got[1] == ("single",)
    assert got[2] == ()


def test_handler_return_value_answers_ack(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    server.on("one", lambda sid, x: x * 2)
    server.on("many", lambda sid: (1, "b", b"c"))
    server.on("none", lambda sid: None)
    client.connect(url)
    assert client.call("one", 21) == 42
    assert client.call("many") == (1, "b", b"c")
    assert client.call("none") is None
    client.emit("one", 5, callback=lambda *a: rec.add(a))
    assert rec.wait(1) == [(10,)]


def test_server_call_and_callback(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    client.on("question", lambda q: f"answer to {q}")
    client.on("pair", lambda: ("x", 2))
    client.connect(url)
    sid = client.sid
    assert server.call("question", "life", to=sid, timeout=5) == "answer to life"
    assert server.call("pair", sid=sid, timeout=5) == ("x", 2)
    server.emit("question", "cb", to=sid, callback=lambda *a: rec.add(a))
    assert rec.wait(1) == [("answer to cb",)]
    with pytest.raises(ValueError):
        server.call("question", "x")


def test_call_timeout_raises_timeout_error(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    server.on("slow", lambda sid: time.sleep(2) or "late")
    client.on("silent", lambda: time.sleep(2))
    client.connect(url)
    with pytest.raises(oxsio.TimeoutError) as e:
        client.call("slow", timeout=0.3)
    assert isinstance(e.value, TimeoutError) and isinstance(e.value, oxsio.SocketIOError)
    with pytest.raises(oxsio.TimeoutError):
        server.call("silent", to=client.sid, timeout=0.3)


def test_rooms_skip_sid_and_close_room(server: oxsio.Server, url: str, rec: Recorder) -> None:
    clients = []
    for i in range(3):
        c = oxsio.Client()
        c.on("news", lambda data, i=i: rec.add(i, data))
        c.connect(url)
        clients.append(c)
    try:
        a, b, c = (x.sid for x in clients)
        server.enter_room(a, "r")
        server.enter_room(b, "r")
        assert sorted(server.rooms(a)) == sorted([a, "r"])
        server.emit("news", "room", to="r")
        server.emit("news", "skip", room="r", skip_sid=a)
        server.emit("news", "all-but", skip_sid=[a, b])
        server.emit("news", "two-rooms", to=["r", c])
        wait_for(lambda: len(rec) >= 7)
        time.sleep(0.1)
        got = sorted(rec.items)
        assert got == sorted([(0, "room"), (1, "room"), (1, "skip"), (2, "all-but"),
                              (0, "two-rooms"), (1, "two-rooms"), (2, "two-rooms")])
        server.leave_room(b, "r")
        assert server.rooms(b) == [b]
        server.close_room("r")
        assert server.rooms(a) == [a]
    finally:
        for x in clients:
            x.shutdown()


def test_sessions(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    @server.event
    def connect(sid, environ, auth):
        server.save_session(sid, {"user": auth["user"]})

    @server.event
    def whoami(sid):
        with server.session(sid) as s:
            s["seen"] = s.get("seen", 0) + 1
        return server.get_session(sid)

    client.connect(url, auth={"user": "ada"})
    assert client.call("whoami") == {"user": "ada", "seen": 1}
    assert client.call("whoami") == {"user": "ada", "seen": 2}
    with pytest.raises(KeyError):
        server.get_session("nope")


def test_disconnect_reasons(server: oxsio.Server, url: str, rec: Recorder) -> None:
    server.on("disconnect", lambda sid, reason: rec.add("server", reason))
    c1 = oxsio.Client()
    c1.on("disconnect", lambda reason: rec.add("c1", reason))
    c1.connect(url)
    server.disconnect(c1.sid)
    got = rec.wait(2)
    assert ("server", "server disconnect") in got and ("c1", "server disconnect") in got
    wait_for(lambda: not c1.connected)
    c1.wait()  # no reconnection after a server disconnect
    rec.items.clear()
    c2 = oxsio.Client()
    c2.on("disconnect", lambda reason: rec.add("c2", reason))
    c2.connect(url)
    c2.disconnect()
    got = rec.wait(2)
    assert ("server", "client disconnect") in got and ("c2", "client disconnect") in got
    c1.shutdown()
    c2.shutdown()


def test_refuse_by_returning_false(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    server.on("connect", lambda sid, environ, auth: False)
    client.on("connect_error", lambda data: rec.add(data))
    with pytest.raises(oxsio.ConnectionError):
        client.connect(url)
    assert rec.wait(1) == [{"message": "Connection rejected by server"}]
    assert not client.connected


def test_refuse_with_connection_refused_error(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    @server.event
    def connect(sid, environ, auth):
        raise oxsio.ConnectionRefusedError("unauthorized", {"reason": "bad token"})

    client.on("connect_error", lambda data: rec.add(data))
    with pytest.raises(oxsio.ConnectionError) as e:
        client.connect(url)
    assert "unauthorized" in str(e.value)
    assert rec.wait(1) == [{"message": "unauthorized", "data": {"reason": "bad token"}}]


def test_catch_all_events_and_namespaces(server: oxsio.Server, url: str, rec: Recorder) -> None:
    server.on("*", lambda event, sid, *args: rec.add("ns/", event, args))
    server.on("*", lambda event, ns, sid, *args: rec.add("any", ns, event, args), namespace="*")
    server.on("known", lambda sid, x: rec.add("known", x))
    c = oxsio.Client()
    c.on("*", lambda event, *args: rec.add("client*", event, args))
    try:
        c.connect(url, namespaces=["/", "/other"])
        c.emit("whatever", 1)
        c.emit("known", 2)
        c.emit("thing", 3, namespace="/other")
        server.emit("surprise", "x", to=c.sid)
        got = rec.wait(4)
        assert ("ns/", "whatever", (1,)) in got
        assert ("known", 2) in got
        assert ("any", "/other", "thing", (3,)) in got
        assert ("client*", "surprise", ("x",)) in got
    finally:
        c.shutdown()


def test_unserved_namespace_is_refused(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    with pytest.raises(oxsio.ConnectionError):
        client.connect(url, namespaces=["/nope"])


def test_class_based_namespace(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    class Chat(oxsio.Namespace):
        def on_connect(self, sid, environ):
            rec.add("connect", sid)

        def on_say(self, sid, text):
            self.emit("said", text.upper(), to=sid)
            return "ok"

    class ChatClient(oxsio.ClientNamespace):
        def on_said(self, text):
            rec.add("said", text)

    server.register_namespace(Chat("/chat"))
    client.register_namespace(ChatClient("/chat"))
    client.connect(url, namespaces=["/chat"])
    assert client.call("say", "hi", namespace="/chat") == "ok"
    got = rec.wait(2)
    assert ("said", "HI") in got
    assert ("connect", client.get_sid("/chat")) in got


def test_emit_during_connect_handler_arrives_after_connect(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    @server.event
    def connect(sid, environ, auth):
        server.enter_room(sid, "early")
        server.emit("welcome", sid, to=sid)

    client.on("welcome", lambda sid: rec.add(sid))
    client.connect(url)
    assert rec.wait(1) == [client.sid]
    assert "early" in server.rooms(client.sid)


def test_emit_from_many_threads(server: oxsio.Server, url: str, client: oxsio.Client, rec: Recorder) -> None:
    client.on("n", lambda i: rec.add(i))
    client.connect(url)
    sid = client.sid

    def burst(base: int) -> None:
        for i in range(50):
            server.emit("n", base + i, to=sid)

    threads = [threading.Thread(target=burst, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = rec.wait(200)
    assert sorted(got) == sorted(k * 1000 + i for k in range(4) for i in range(50))
    for k in range(4):  # each thread's emits arrive in order
        mine = [x for x in got if x // 1000 == k]
        assert mine == sorted(mine)


def test_js_style_operators(server: oxsio.Server, url: str, rec: Recorder) -> None:
    cs = []
    for i in range(2):
        c = oxsio.Client()
        c.on("tick", lambda *a, i=i: rec.add(i, a))
        c.connect(url)
        cs.append(c)
    try:
        a, b = cs[0].sid, cs[1].sid
        server.of("/").to(a).emit("tick", 1, "x")
        server.of("/").except_(a).emit("tick", 2)
        server.of("/").sockets_join("grp")
        assert sorted(server.of("/").to("grp").fetch_sockets()) == sorted([a, b])
        server.of("/").to("grp").except_(b).volatile.emit("tick", 3)
        got = rec.wait(3)
        assert sorted(got) == [(0, (1, "x")), (0, (3,)), (1, (2,))]
        server.of("/").to(b).disconnect_sockets()
        wait_for(lambda: not cs[1].connected)
    finally:
        for c in cs:
            c.shutdown()


def test_always_connect(url: str, rec: Recorder) -> None:
    sio = oxsio.Server(always_connect=True)
    sio.on("connect", lambda sid, environ, auth: auth != "bad" and None)
    sio.on("ping", lambda sid: "pong")
    port = sio.start()
    try:
        ok = oxsio.Client()
        ok.connect(f"http://127.0.0.1:{port}", auth={"x": 1})
        assert ok.call("ping") == "pong"
        ok.shutdown()
    finally:
        sio.close()


def test_poll_mode_client_runs_handlers_on_caller_thread(server: oxsio.Server, url: str, rec: Recorder) -> None:
    server.on("hello", lambda sid: server.emit("reply", "hi", to=sid))
    c = oxsio.Client(threaded=False)
    me = threading.get_ident()
    c.on("connect", lambda: rec.add("connect", threading.get_ident() == me))
    c.on("reply", lambda x: rec.add(x, threading.get_ident() == me))
    try:
        c.connect(url)
        c.emit("hello")
        deadline = time.monotonic() + 5
        while len(rec) < 2 and time.monotonic() < deadline:
            c.poll(timeout=0.05)
        assert rec.items == [("connect", True), ("hi", True)]
        with pytest.raises(RuntimeError):
            oxsio.Client().poll()
    finally:
        c.shutdown()


def test_poll_mode_server(rec: Recorder) -> None:
    sio = oxsio.Server(threaded=False)
    sio.on("add", lambda sid, a, b: a + b)
    port = sio.start()
    c = oxsio.Client()
    result = []
    try:
        t = threading.Thread(target=lambda: (c.connect(f"http://127.0.0.1:{port}"), result.append(c.call("add", (2, 3)))))
        t.start()
        deadline = time.monotonic() + 5
        while not result and time.monotonic() < deadline:
            sio.poll(timeout=0.05)
        t.join(5)
        assert result == [5]
    finally:
        c.shutdown()
        sio.close()


def test_reconnect_calls_auth_callable_each_time(rec: Recorder) -> None:
    sio = oxsio.Server()
    sio.on("connect", lambda sid, environ, auth: rec.add(auth))
    port = sio.start()
    calls = []

    def auth():
        calls.append(1)
        return {"n": len(calls)}

    c = oxsio.Client(reconnection_delay=0.1, reconnection_delay_max=0.2, randomization_factor=0)
    try:
        c.connect(f"http://127.0.0.1:{port}", auth=auth)
        assert rec.wait(1) == [{"n": 1}]
        sio.close()  # the connection drops: the client retries
        sio2 = oxsio.Server()
        sio2.on("connect", lambda sid, environ, auth: rec.add(auth))
        wait_for(lambda: not c.connected)
        sio2.start("127.0.0.1", port)
        try:
            got = rec.wait(2, timeout=10)
            assert got[1]["n"] >= 2
            wait_for(lambda: c.connected)
        finally:
            c.shutdown()
            sio2.close()
    finally:
        c.shutdown()


def test_connect_twice_and_context_manager(server: oxsio.Server, url: str) -> None:
    with oxsio.Client() as c:
        c.connect(url)
        with pytest.raises(oxsio.ConnectionError):
            c.connect(url)
        c.disconnect()
        wait_for(lambda: not c.connected)
        c.connect(url)  # connecting again after a disconnect works
        assert c.connected


def test_connect_handlers_have_run_when_connect_returns(server: oxsio.Server, url: str) -> None:
    seen = []
    c = oxsio.Client()
    c.on("connect", lambda: (time.sleep(0.2), seen.append("connect")))
    c.on("connect_error", lambda data: (time.sleep(0.2), seen.append(data)))
    try:
        c.connect(url)
        assert seen == ["connect"]
        c.disconnect()
        server.on("connect", lambda sid, environ, auth: False)
        with pytest.raises(oxsio.ConnectionError):
            c.connect(url)
        assert seen == ["connect", {"message": "Connection rejected by server"}]
    finally:
        c.shutdown()


def test_retry_waits_for_a_server_that_starts_later(rec: Recorder) -> None:
    import socket as _socket

    s = _socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sio = oxsio.Server()
    c = oxsio.Client(reconnection_delay=0.1, reconnection_delay_max=0.2)
    result = []

    def connect() -> None:
        try:
            c.connect(f"http://127.0.0.1:{port}", retry=True)
            result.append("connected")
        except Exception as e:  # pragma: no cover - reported below
            result.append(e)

    t = threading.Thread(target=connect)
    t.start()
    try:
        time.sleep(0.5)
        assert result == []
        sio.start("127.0.0.1", port)
        t.join(10)
        assert result == ["connected"]
    finally:
        c.shutdown()
        sio.close()


def test_reconnection_attempts_limit_ends_wait() -> None:
    sio = oxsio.Server()
    port = sio.start()
    attempts = []
    c = oxsio.Client(reconnection_attempts=2, reconnection_delay=0.05, reconnection_delay_max=0.1)
    c.on("connect_error", lambda data: attempts.append(data))
    try:
        c.connect(f"http://127.0.0.1:{port}")
        sio.close()
        t = time.monotonic()
        c.wait()
        assert time.monotonic() - t < 10
        assert not c.connected
        wait_for(lambda: len(attempts) >= 2)
    finally:
        c.shutdown()


def test_simple_client(server: oxsio.Server, url: str) -> None:
    server.on("ping", lambda sid, x: ("pong", x))
    server.on("tell", lambda sid: server.emit("news", ("a", b"b"), to=sid))
    with oxsio.SimpleClient() as c:
        c.connect(url)
        assert c.sid and c.connected
        assert c.call("ping", 1) == ("pong", 1)
        c.emit("tell")
        assert c.receive(timeout=5) == ["news", "a", b"b"]
        with pytest.raises(oxsio.TimeoutError):
            c.receive(timeout=0.1)
        server.disconnect(c.sid)
        with pytest.raises(oxsio.DisconnectedError):
            c.receive(timeout=5)
        with pytest.raises(oxsio.DisconnectedError):
            c.emit("x")
