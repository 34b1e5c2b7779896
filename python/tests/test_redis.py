"""Two Python-hosted oxsio servers on one Redis (redis_url): a broadcast,
a room emit and a disconnect on one node reach the clients of the other."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Iterator

import pytest

import oxsio
from conftest import Recorder, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url() -> Iterator[str]:
    exe = shutil.which("redis-server")
    assert exe, "redis-server is installed by tests/run-all.sh"
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=5)


def test_two_python_nodes_share_rooms_and_broadcasts(redis_url: str) -> None:
    nodes = [oxsio.Server(redis_url=redis_url, redis_prefix="pytest") for _ in range(2)]
    for sio in nodes:

        @sio.event
        def connect(sid: str, environ: dict, auth: dict, sio: oxsio.Server = sio) -> None:
            sio.enter_room(sid, "room1")

        sio.start("127.0.0.1", 0)
    clients = []
    got = Recorder()
    try:
        for i, sio in enumerate(nodes):
            c = oxsio.Client()
            c.on("news", lambda data, i=i: got.add((i, data)))
            c.connect(f"http://127.0.0.1:{sio.port}")
            clients.append(c)
        time.sleep(0.3)
        nodes[0].emit("news", {"n": 1})
        wait_for(lambda: sorted(got.items) == [(0, {"n": 1}), (1, {"n": 1})], what="broadcast on both nodes")
        nodes[1].emit("news", {"n": 2}, room="room1")
        wait_for(lambda: len(got.items) == 4, what="room emit on both nodes")
    finally:
        for c in clients:
            c.disconnect()
        for sio in nodes:
            sio.close()


def test_bad_redis_url_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        oxsio.Server(redis_url="not a url")


def test_client_manager_redis_manager_and_ignore_queue(redis_url: str) -> None:
    """python-socketio's `client_manager=RedisManager(url, channel=...)`
    joins the nodes; `ignore_queue=True` keeps an emit on its own node."""
    nodes = [oxsio.Server(client_manager=oxsio.RedisManager(redis_url, channel="pytest-cm")) for _ in range(2)]
    got = Recorder()
    clients = []
    try:
        for i, sio in enumerate(nodes):
            port = sio.start("127.0.0.1", 0)
            c = oxsio.Client()
            c.on("news", lambda data, i=i: got.add((i, data)))
            c.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            clients.append(c)
        wait_for(lambda: all(s._native.connection_count for s in nodes), what="both connected")
        time.sleep(0.3)  # both nodes subscribed
        nodes[0].emit("news", "everyone")
        wait_for(lambda: sorted(got.items) == [(0, "everyone"), (1, "everyone")], what="cluster broadcast")
        nodes[0].emit("news", "local", ignore_queue=True)
        wait_for(lambda: (0, "local") in got.items, what="local emit")
        time.sleep(0.5)
        assert (1, "local") not in got.items
    finally:
        for c in clients:
            c.disconnect()
        for s in nodes:
            s.close()
