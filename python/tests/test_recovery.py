"""Connection state recovery and the client's retries, from Python: an oxsio
server and client, and the oxsio client against the official Node server,
through a proxy that resets TCP connections."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
from typing import Any, Iterator, List, Tuple

import pytest

import oxsio
from conftest import NODE_MODULES, Recorder, wait_for

INTEROP = os.path.dirname(NODE_MODULES)


class Proxy:
    """A loopback TCP proxy whose connections can be reset at once."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.pairs: List[Tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, s))
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut_all(self) -> int:
        """Resets every carried connection (RST on both sides)."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for x in pair:
                try:
                    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    x.close()
                except OSError:
                    pass
        return len(pairs)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        self.cut_all()


@pytest.fixture
def recovering() -> Iterator[oxsio.Server]:
    sio = oxsio.Server(ping_interval=1, ping_timeout=2, connection_state_recovery={"max_disconnection_duration": 30})
    sio.start("127.0.0.1", 0)
    yield sio
    sio.close()


def test_state_comes_back_after_a_reset(recovering: oxsio.Server, rec: Recorder) -> None:
    sio = recovering
    proxy = Proxy(("127.0.0.1", sio.port or 0))

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        rec.add("connect", sid, sio.recovered(sid))
        if not sio.recovered(sid):
            sio.enter_room(sid, "news")
            sio.save_session(sid, {"nick": "ada"})
            sio.set_socket_data(sid, {"score": 7, "blob": b"\x01\x02"})

    got = Recorder()
    client = oxsio.Client(reconnection_delay=0.1, reconnection_delay_max=0.1, randomization_factor=0)

    @client.on("n")
    def on_n(*args: Any) -> None:
        # The server's offset is the last argument, as with the JS client.
        got.add(args[0], type(args[-1]).__name__)

    try:
        client.connect(f"http://127.0.0.1:{proxy.port}", transports=["websocket"])
        sid = client.sid
        assert rec.wait(1) == [("connect", sid, False)]
        assert not client.recovered()
        sio.emit("n", 0)
        assert got.wait(1) == [(0, "str")]
        assert proxy.cut_all() > 0
        sio.emit("n", 1, room="news")
        sio.emit("n", 2)
        sio.emit("n", 3, to=sid)
        wait_for(lambda: len(rec) == 2, 10, "the reconnection")
        assert rec.items[1] == ("connect", sid, True)
        wait_for(lambda: client.connected and client.recovered(), 10, "recovered")
        assert client.sid == sid
        sio.emit("n", 4, room="news")
        assert [g[0] for g in got.wait(5)] == [0, 1, 2, 3, 4]
        assert sio.get_session(sid) == {"nick": "ada"}
        assert sio.get_socket_data(sid) == {"score": 7, "blob": b"\x01\x02"}
        assert "news" in sio.rooms(sid)
    finally:
        client.shutdown()
        proxy.close()


@pytest.fixture
def node_server() -> Iterator[Tuple[subprocess.Popen[str], int]]:
    p = subprocess.Popen(
        ["node", os.path.join(INTEROP, "recovery_server.js"), "0"],
        cwd=INTEROP,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.startswith("listening "), line
    yield p, int(line.split()[1])
    p.kill()
    p.wait()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_python_client_recovers_against_the_node_server(
    node_server: Tuple[subprocess.Popen[str], int], transport: str
) -> None:
    node, port = node_server
    assert node.stdin is not None and node.stdout is not None
    proxy = Proxy(("127.0.0.1", port))
    got = Recorder()
    # Node keeps the session once its heartbeat (300 + 200 ms) noticed the drop.
    client = oxsio.Client(reconnection_delay=1, reconnection_delay_max=1, randomization_factor=0)
    client.on("n", lambda *args: got.add(args[0]))
    try:
        client.connect(f"http://127.0.0.1:{proxy.port}", transports=[transport])
        sid = client.sid
        assert node.stdout.readline().strip() == f"connection {sid} false"
        node.stdin.write("all 0\n")
        node.stdin.flush()
        got.wait(1)
        # A polling client may be between two requests: cut until it notices.
        def dropped() -> bool:
            proxy.cut_all()
            threading.Event().wait(0.02)
            return not client.connected

        wait_for(dropped, 5, "the drop")
        threading.Event().wait(0.7)
        node.stdin.write("room 1\nall 2\nsid 3\n")
        node.stdin.flush()
        assert node.stdout.readline().strip() == f"connection {sid} true"
        wait_for(lambda: client.connected and client.recovered(), 10, "recovered")
        assert client.sid == sid
        assert got.wait(4) == [0, 1, 2, 3]
    finally:
        client.shutdown()
        proxy.close()


class _NoAck(Exception):
    pass


def test_retries_resend_until_acknowledged(server: oxsio.Server, url: str) -> None:
    seen = Recorder()

    @server.on("task")
    def task(sid: str, n: int) -> Any:
        seen.add(n)
        # Acknowledged only at the second delivery: a handler that raises
        # sends no acknowledgement (the error is logged).
        if len(seen) < 2:
            raise _NoAck("first delivery is not acknowledged")
        return f"done {n}"

    client = oxsio.Client(retries=3, ack_timeout=0.3)
    try:
        client.connect(url, transports=["websocket"])
        assert client.call("task", 7, timeout=5) == "done 7"
        assert seen.items == [7, 7]
    finally:
        client.shutdown()


@pytest.mark.parametrize(
    "value, error",
    [
        ("yes", TypeError),
        ({"bogus": 1}, TypeError),
        ({"max_disconnection_duration": -1}, ValueError),
        ({"max_disconnection_duration": "2"}, ValueError),
        ({"skip_middlewares": 1}, TypeError),
        ({"max_sessions": 0}, ValueError),
    ],
)
def test_bad_recovery_options_are_refused(value: Any, error: type) -> None:
    with pytest.raises(error):
        oxsio.Server(connection_state_recovery=value)


@pytest.mark.parametrize("value, error", [(-1, ValueError), ("3", TypeError), (True, TypeError)])
def test_bad_retries_are_refused(value: Any, error: type) -> None:
    with pytest.raises(error):
        oxsio.Client(retries=value)


def test_socket_data_of_unknown_clients_is_a_key_error(server: oxsio.Server) -> None:
    with pytest.raises(KeyError):
        server.get_socket_data("nope")
    with pytest.raises(KeyError):
        server.set_socket_data("nope", {})
