"""The emitter (``RedisManager(write_only=True)``) observed by a Python
oxsio server and a Node.js node on the classic Redis adapter, and a Python
server on the sharded adapter (``ShardedRedisManager``) in one cluster with
a Node.js node on ``createShardedAdapter``, over a 3-master Redis Cluster
the test starts (free loopback ports, stopped by PID)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import oxsio
from conftest import Recorder, wait_for

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT / "tests" / "interop"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)


def _redis_server(port: int, cwd: str, *extra: str) -> "subprocess.Popen[bytes]":
    exe = shutil.which("redis-server")
    assert exe, "redis-server is installed by tests/run-all.sh"
    return subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *extra],
        stdout=subprocess.DEVNULL,
        cwd=cwd,
    )


@pytest.fixture
def redis_port() -> Iterator[int]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        proc = _redis_server(port, d)
        try:
            _wait_port(port)
            yield port
        finally:
            proc.kill()
            proc.wait(timeout=5)


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (10 000 above) is free and valid:
    redis-server refuses cluster mode on a port above 55 535."""
    for _ in range(1000):
        port = _free_port()
        if port > 55535:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port pair for a Redis Cluster node")


@pytest.fixture
def cluster_ports() -> Iterator[List[int]]:
    ports = [_free_cluster_port() for _ in range(3)]
    procs = []
    with tempfile.TemporaryDirectory() as d:
        try:
            for p in ports:
                os.makedirs(f"{d}/{p}")
                procs.append(_redis_server(p, f"{d}/{p}", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
            for p in ports:
                _wait_port(p)
            subprocess.run(
                ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdout=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            for p in ports:
                wait_for(
                    lambda p=p: "cluster_state:ok" in subprocess.run(
                        ["redis-cli", "-p", str(p), "cluster", "info"], capture_output=True, text=True
                    ).stdout,
                    timeout=10,
                    what=f"cluster node {p}",
                )
            yield ports
        finally:
            for proc in procs:
                proc.kill()
                proc.wait(timeout=5)


def _node_js(redis_port: int, env: Optional[Dict[str, str]] = None) -> "tuple[subprocess.Popen[str], str]":
    proc = subprocess.Popen(
        ["node", str(INTEROP / "redis_node.js"), str(redis_port)],
        cwd=str(INTEROP),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening "), line
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def _client(
    url: str, rooms: List[str], got: Recorder, tag: str, namespace: str = "/", transport: str = "websocket"
) -> oxsio.Client:
    c = oxsio.Client()
    c.on("*", lambda event, *args: got.add((tag, event, list(args))), namespace=namespace)
    c.on("disconnect", lambda *a: got.add((tag, "(disconnected)", [])), namespace=namespace)
    c.connect(url, auth={"rooms": rooms}, namespaces=[namespace], transports=[transport])
    wait_for(lambda: (tag, "ready") in [(t, e) for t, e, _ in got.items], what=f"{tag} ready")
    return c


def _python_node(**kw: Any) -> oxsio.Server:
    sio = oxsio.Server(**kw)

    def connect(sid: str, environ: dict, auth: Any, namespace: str = "/") -> None:
        for r in (auth or {}).get("rooms", []):
            sio.enter_room(sid, r, namespace=namespace)
        sio.emit("ready", sid, to=sid, namespace=namespace)

    sio.on("connect", lambda sid, environ, auth: connect(sid, environ, auth))
    sio.on("connect", lambda sid, environ, auth: connect(sid, environ, auth, "/news"), namespace="/news")
    return sio


def _events(got: Recorder, tag: str) -> List[Any]:
    return [(e, a) for t, e, a in got.items if t == tag and e != "ready"]


def _teardown(clients: List[Any], sio: oxsio.Server, js: "subprocess.Popen[str]") -> None:
    """Disconnects the test's clients, closes the Python node, stops the Node one."""
    for c in clients:
        c.disconnect()
    sio.close()
    js.kill()
    js.wait(timeout=5)


def _pair(
    port: int, js_url: str, got: Recorder, clients: List[Any], transport: str = "websocket", timeout: float = 10
) -> "tuple[oxsio.Client, oxsio.Client, oxsio.Client]":
    """Client A on the Python node (room1), client B on the Node.js node
    (room1, room2) and a control client of the Node.js node, once both
    nodes count each other; all three are added to ``clients``."""
    a = _client(f"http://127.0.0.1:{port}", ["room1"], got, "A", transport=transport)
    b = _client(js_url, ["room1", "room2"], got, "B", transport=transport)
    control = oxsio.Client()
    control.connect(js_url, namespaces=["/control"], transports=[transport])
    clients += [a, b, control]
    wait_for(
        lambda: control.call("op", {"kind": "count"}, namespace="/control")["count"] == 2,
        timeout=timeout,
        what="two nodes",
    )
    return a, b, control


def test_write_only_manager_is_an_emitter(redis_port: int) -> None:
    url = f"redis://127.0.0.1:{redis_port}"
    sio = _python_node(client_manager=oxsio.RedisManager(url))
    port = sio.start("127.0.0.1", 0)
    js, js_url = _node_js(redis_port)
    got = Recorder()
    clients = []
    try:
        clients.append(_client(f"http://127.0.0.1:{port}", ["room1"], got, "A"))
        clients.append(_client(js_url, ["room1", "room2"], got, "B"))
        clients.append(_client(f"http://127.0.0.1:{port}", [], got, "C", "/news"))
        clients.append(_client(js_url, [], got, "D", "/news"))
        time.sleep(0.3)
        em = oxsio.RedisManager(url, write_only=True)

        em.emit("chat", ("hi", 1), room="room1")
        wait_for(lambda: ("chat", ["hi", 1]) in _events(got, "A") and ("chat", ["hi", 1]) in _events(got, "B"), what="room1")
        em.emit("bin", b"\x01\x02", to="room2")
        wait_for(lambda: ("bin", [b"\x01\x02"]) in _events(got, "B"), what="binary to room2")
        em.emit("ex", to="room1", skip_sid="room2")
        wait_for(lambda: ("ex", []) in _events(got, "A"), what="except")
        em.emit("headline", "h", namespace="/news")
        wait_for(lambda: ("headline", ["h"]) in _events(got, "D") and ("headline", ["h"]) in _events(got, "C"), what="namespace")
        # The Node node relays a server-side "relay" to its clients.
        em.server_side_emit("relay", "x")
        wait_for(lambda: ("relayed", ["x"]) in _events(got, "B"), what="serverSideEmit")
        em.sockets_join("room7", to="room1")
        time.sleep(0.2)
        em.emit("r7", to="room7")
        wait_for(lambda: ("r7", []) in _events(got, "A") and ("r7", []) in _events(got, "B"), what="socketsJoin")
        em.close_room("room7")
        time.sleep(0.2)
        em.emit("r7-again", to="room7")
        time.sleep(0.3)
        assert ("r7-again", []) not in _events(got, "A") + _events(got, "B")
        em.disconnect_sockets(to="room2", close=True)
        wait_for(lambda: ("(disconnected)", []) in _events(got, "B"), what="disconnectSockets")
        # Only B and the clients of other rooms stay as they were.
        assert ("ex", []) not in _events(got, "B")
        assert ("bin", [b"\x01\x02"]) not in _events(got, "A")
        assert ("chat", ["hi", 1]) not in _events(got, "C")
        with pytest.raises(ValueError, match="reserved"):
            em.emit("disconnect")
    finally:
        _teardown(clients, sio, js)


def test_an_unreachable_redis_raises() -> None:
    em = oxsio.RedisManager(f"redis://127.0.0.1:{_free_port()}", write_only=True, requests_timeout=1)
    started = time.monotonic()
    with pytest.raises(oxsio.ConnectionError):
        em.emit("x")
    assert time.monotonic() - started < 4


def test_sharded_manager_with_a_node_js_node(cluster_ports: List[int]) -> None:
    nodes = [f"redis://127.0.0.1:{p}" for p in cluster_ports]
    sio = _python_node(client_manager=oxsio.ShardedRedisManager(nodes, subscription_mode="dynamic", requests_timeout=2))
    port = sio.start("127.0.0.1", 0)
    js, js_url = _node_js(
        cluster_ports[0],
        {"ADAPTER": "sharded", "REDIS_CLUSTER": ",".join(map(str, cluster_ports)), "SUBSCRIPTION_MODE": "dynamic"},
    )
    got = Recorder()
    clients = []
    try:
        for transport in ("websocket", "polling"):
            got.items.clear()
            a, b, control = _pair(port, js_url, got, clients, transport)
            # Python -> Node, a room on its dynamic channel.
            sio.emit("chat", "from python", room="room1")
            wait_for(lambda: ("chat", ["from python"]) in _events(got, "B"), what="python -> node")
            # Node -> Python.
            control.call("op", {"kind": "emit", "rooms": ["room1"], "event": "chat", "args": ["from node"]}, namespace="/control")
            wait_for(lambda: ("chat", ["from node"]) in _events(got, "A"), what="node -> python")
            # fetchSockets from Node sees the Python node's socket.
            r = control.call("op", {"kind": "fetch", "rooms": ["room1"]}, namespace="/control")
            assert sorted(s["id"] for s in r["sockets"]) == sorted([a.get_sid(), b.get_sid()])
            a.disconnect()
            b.disconnect()
            control.disconnect()
    finally:
        _teardown(clients, sio, js)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    import glob

    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert hits, f"{name}: apt-get install postgresql (tests/run-all.sh does)"
    return hits[-1]


def _as_pg_user(cmd: List[str]) -> List[str]:
    # PostgreSQL refuses to run as root; setpriv execs, so the PID is its own.
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *cmd]
    return cmd


@pytest.fixture
def postgres_url() -> Iterator[str]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as d:
        if os.geteuid() == 0:
            shutil.chown(d, "postgres", "postgres")
        data = f"{d}/data"
        subprocess.run(
            _as_pg_user([_pg_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        proc = subprocess.Popen(
            _as_pg_user(
                [_pg_bin("postgres"), "-D", data, "-p", str(port), "-k", d, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        try:
            wait_for(
                lambda: subprocess.run(["psql", url, "-c", "SELECT 1"], capture_output=True).returncode == 0,
                timeout=20,
                what="postgres",
            )
            yield url
        finally:
            proc.send_signal(2)  # fast shutdown
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_postgres_manager_with_a_node_js_node(postgres_url: str) -> None:
    sio = _python_node(client_manager=oxsio.PostgresManager(postgres_url, requests_timeout=2, payload_threshold=100))
    port = sio.start("127.0.0.1", 0)
    js, js_url = _node_js(0, {"ADAPTER": "postgres", "PG_URL": postgres_url})
    got = Recorder()
    clients = []
    try:
        # Heartbeats make the nodes known to each other (at most 5 s apart).
        a, b, control = _pair(port, js_url, got, clients, timeout=15)
        sio.emit("chat", "from python", room="room1")
        wait_for(lambda: ("chat", ["from python"]) in _events(got, "B"), what="python -> node")
        # Over payload_threshold: through the attachments table.
        big = "y" * 500
        sio.emit("big", big, room="room1")
        wait_for(lambda: ("big", [big]) in _events(got, "B"), what="attachment python -> node")
        control.call("op", {"kind": "emit", "rooms": ["room1"], "event": "chat", "args": ["from node"]}, namespace="/control")
        wait_for(lambda: ("chat", ["from node"]) in _events(got, "A"), what="node -> python")
    finally:
        _teardown(clients, sio, js)


def test_streams_manager_with_a_node_js_node(redis_port: int) -> None:
    """A Python server on ``RedisStreamsManager`` (connection state recovery
    on) and a Node.js node on ``@socket.io/redis-streams-adapter``: events
    both ways (each with its stream offset last), binary, fetchSockets."""
    url = f"redis://127.0.0.1:{redis_port}"
    _streams_with_node_js(oxsio.RedisStreamsManager(url, requests_timeout=2, block_time=1), redis_port, {"ADAPTER": "streams"})


def test_streams_manager_on_a_redis_cluster(cluster_ports: List[int]) -> None:
    """The same on a 3-master Redis Cluster, three streams, requests over
    sharded Pub/Sub (``useShardedPubSub`` on the Node.js node)."""
    nodes = [f"redis://127.0.0.1:{p}" for p in cluster_ports]
    manager = oxsio.RedisStreamsManager(nodes, stream_count=3, use_sharded_pub_sub=True, requests_timeout=2, block_time=1)
    env = {
        "ADAPTER": "streams",
        "REDIS_CLUSTER": ",".join(map(str, cluster_ports)),
        "STREAM_COUNT": "3",
        "USE_SHARDED_PUBSUB": "1",
    }
    _streams_with_node_js(manager, cluster_ports[0], env)


def _streams_with_node_js(manager: oxsio.RedisStreamsManager, redis_port: int, env: Dict[str, str]) -> None:
    sio = _python_node(client_manager=manager, connection_state_recovery=True)
    port = sio.start("127.0.0.1", 0)
    js, js_url = _node_js(redis_port, env)
    got = Recorder()
    clients = []

    def first_args(tag: str, event: str) -> List[Any]:
        return [a[:-1] for e, a in _events(got, tag) if e == event and a and isinstance(a[-1], str) and "-" in a[-1]]

    try:
        for transport in ("websocket", "polling"):
            got.items.clear()
            a, b, control = _pair(port, js_url, got, clients, transport)
            sio.emit("chat", "from python", room="room1")
            wait_for(lambda: ["from python"] in first_args("B", "chat"), what="python -> node")
            wait_for(lambda: ["from python"] in first_args("A", "chat"), what="python -> python, with its offset")
            sio.emit("bin", b"\x01\x02", room="room2")
            wait_for(lambda: [b"\x01\x02"] in first_args("B", "bin"), what="binary python -> node")
            control.call("op", {"kind": "emit", "rooms": ["room1"], "event": "chat", "args": ["from node"]}, namespace="/control")
            wait_for(lambda: ["from node"] in first_args("A", "chat"), what="node -> python")
            r = control.call("op", {"kind": "fetch", "rooms": ["room1"]}, namespace="/control")
            assert sorted(s["id"] for s in r["sockets"]) == sorted([a.get_sid(), b.get_sid()])
            a.disconnect()
            b.disconnect()
            control.disconnect()
    finally:
        _teardown(clients, sio, js)


def test_streams_manager_arguments() -> None:
    m = oxsio.AsyncRedisStreamsManager("redis://127.0.0.1:1", stream_count=3, max_len=5, block_time=0.5)
    assert isinstance(m, oxsio.RedisStreamsManager)
    for bad in (
        {"url": "http://x"},
        {"url": "redis://x", "stream_count": 0},
        {"url": "redis://x", "read_count": 0},
        {"url": "redis://x", "block_time": 0},
        {"url": "redis://x", "stream_name": ""},
        {"url": "redis://x", "only_plaintext": "yes"},
        {"url": "redis://x", "requests_timeout": -1},
        {"url": [], "stream_count": 1},
        {"url": ["redis://x", 5]},
        {"url": "redis://x", "use_sharded_pub_sub": True},
        {"url": ["redis://x"], "use_sharded_pub_sub": "yes"},
    ):
        with pytest.raises(ValueError):
            oxsio.RedisStreamsManager(**bad)
    sio = oxsio.Server(client_manager=oxsio.RedisStreamsManager("redis://127.0.0.1:1", stream_count=2))
    sio.close()
    sio = oxsio.Server(client_manager=oxsio.RedisStreamsManager(["redis://127.0.0.1:1"], use_sharded_pub_sub=True))
    sio.close()


def _stored_sessions(redis_port: int) -> int:
    """Number of ``sio:session:*`` keys (raw RESP, no client library)."""
    with socket.create_connection(("127.0.0.1", redis_port)) as s:
        s.sendall(b"*2\r\n$4\r\nKEYS\r\n$13\r\nsio:session:*\r\n")
        head = s.recv(4096).split(b"\r\n", 1)[0]
    return int(head[1:]) if head.startswith(b"*") else 0


def test_streams_recovery_from_python_to_node_js(redis_port: int) -> None:
    """A client of a Python server on ``RedisStreamsManager``, cut off by a
    proxy, comes back through it to a Node.js streams node: recovered there
    with the same sid, rooms and socket data, and gets the events sent
    meanwhile by both nodes."""
    from test_recovery import Proxy

    url = f"redis://127.0.0.1:{redis_port}"
    # The server notices the cut by its heartbeat, as in test_recovery.py.
    sio = oxsio.Server(
        ping_interval=1,
        ping_timeout=2,
        client_manager=oxsio.RedisStreamsManager(url, requests_timeout=2, block_time=1),
        connection_state_recovery=True,
    )

    @sio.event
    def connect(sid: str, environ: Any, auth: Any) -> None:
        if not sio.recovered(sid):
            sio.enter_room(sid, "room1")
            sio.set_socket_data(sid, {"score": 7})

    port = sio.start("127.0.0.1", 0)
    js, js_url = _node_js(redis_port, {"ADAPTER": "streams"})
    proxy = Proxy(("127.0.0.1", port))
    got = Recorder()
    client = oxsio.Client(reconnection_delay=0.3, reconnection_delay_max=0.3, randomization_factor=0)
    client.on("n", lambda *args: got.add((args[0], type(args[-1]).__name__)))
    control = oxsio.Client()
    try:
        control.connect(js_url, namespaces=["/control"], transports=["websocket"])
        wait_for(lambda: control.call("op", {"kind": "count"}, namespace="/control")["count"] == 2, what="two nodes")
        client.connect(f"http://127.0.0.1:{proxy.port}", transports=["websocket"])
        sid = client.sid
        sio.emit("n", 0, room="room1")
        wait_for(lambda: got.items == [(0, "str")], what="n=0 with its offset")
        with socket.socket() as dead:
            dead.bind(("127.0.0.1", 0))
            proxy.target = ("127.0.0.1", dead.getsockname()[1])
        assert proxy.cut_all() > 0
        wait_for(lambda: _stored_sessions(redis_port) == 1, 15, "the session in Redis")
        control.call("op", {"kind": "emit", "rooms": ["room1"], "event": "n", "args": [1]}, namespace="/control")
        time.sleep(0.1)
        sio.emit("n", 2)
        time.sleep(0.3)
        proxy.target = ("127.0.0.1", int(js_url.rsplit(":", 1)[1]))
        wait_for(lambda: client.connected and client.recovered(), what="recovered on the Node node")
        assert client.sid == sid
        control.call("op", {"kind": "emit", "rooms": ["room1"], "event": "n", "args": [3]}, namespace="/control")
        wait_for(lambda: len(got.items) >= 4, what="missed and new events")
        time.sleep(0.2)
        assert got.items == [(0, "str"), (1, "str"), (2, "str"), (3, "str")]
        r = control.call("op", {"kind": "fetch", "rooms": [sid]}, namespace="/control")
        # The Node app adds its own keys on connection; the score came with the session.
        assert [s["data"]["score"] for s in r["sockets"]] == [7]
    finally:
        client.shutdown()
        control.disconnect()
        proxy.close()
        sio.close()
        js.kill()
        js.wait(timeout=5)
