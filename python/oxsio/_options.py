"""python-socketio options that need a Python side: client managers, a
custom ``json`` module, ``async_handlers`` for the threaded server, and the
checks that refuse what oxsio cannot honour (by name, never silently)."""

from __future__ import annotations

import json as _stdjson
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Deque, Dict, Hashable, List, Optional, Tuple, Union

from ._base import logger


_MODES = ("static", "dynamic", "dynamic-private")


def _check_timeout(requests_timeout: float) -> float:
    if isinstance(requests_timeout, bool) or not isinstance(requests_timeout, (int, float)) or requests_timeout <= 0:
        raise ValueError("requests_timeout must be a positive number of seconds")
    return float(requests_timeout)


def _rooms(v: Any, what: str) -> List[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    out = list(v)
    for r in out:
        if not isinstance(r, str):
            raise TypeError(f"{what} must be a str or a list of str")
    return out


class RedisManager:
    """python-socketio's ``RedisManager(url, channel)``, as oxsio runs it.

    As a server's ``client_manager``: the server joins a Redis cluster with
    the Node.js-compatible Redis adapter (``@socket.io/redis-adapter``
    ``createAdapter``), `channel` being its key prefix. oxsio nodes talk to
    Node.js nodes and to each other, not to python-socketio nodes (whose
    pub/sub format is its own). `requests_timeout` (oxsio option, seconds)
    bounds how long cluster-wide requests (``fetch_sockets``, acks across
    nodes) wait for the other nodes.

    With ``write_only=True`` it is an emitter for a process that is not a
    server (a worker, a cron job), speaking the ``@socket.io/redis-emitter``
    protocol: ``emit``, ``enter_room``, ``leave_room``, ``close_room``,
    ``disconnect`` as python-socketio names them, plus ``server_side_emit``,
    ``sockets_join``, ``sockets_leave`` and ``disconnect_sockets``. Each
    call returns once Redis took the message (`requests_timeout` bounds it)
    and raises ``oxsio.ConnectionError`` otherwise. Acknowledgements
    (``callback=``) cannot travel through an emitter and are refused."""

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: Any = None,
        redis_options: Optional[Dict[str, Any]] = None,
        requests_timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"RedisManager url must be a redis:// URL, not {url!r}")
        if not isinstance(channel, str) or not channel:
            raise ValueError("RedisManager channel must be a non-empty str")
        if redis_options:
            raise NotImplementedError(
                "RedisManager(redis_options=...) is not supported: put the options in the URL"
            )
        del logger  # the core logs through the server's logger
        self.url = url
        self.channel = channel
        self.write_only = bool(write_only)
        self.requests_timeout = _check_timeout(requests_timeout)
        self._emitter: Any = None
        if self.write_only:
            from . import _native

            self._emitter = _native.Emitter(url=url, prefix=channel, timeout=self.requests_timeout)

    def _adapter(self) -> Dict[str, Any]:
        return {"redis_url": self.url, "redis_prefix": self.channel, "requests_timeout": self.requests_timeout}

    def _need_emitter(self) -> Any:
        if self._emitter is None:
            raise RuntimeError("only a write_only manager can emit on its own; a server emits through itself")
        return self._emitter

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Any = None,
        room: Any = None,
        skip_sid: Any = None,
        namespace: Optional[str] = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emits `event` to every server's clients in `to`/`room` (all when
        None), except those in `skip_sid`. A tuple `data` is several
        arguments, as in python-socketio."""
        if callback is not None:
            raise NotImplementedError("acknowledgements cannot travel through an emitter (callback=)")
        if kwargs:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(kwargs))}")
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        self._need_emitter().emit(
            namespace or "/", event, args, _rooms(to if to is not None else room, "to"), _rooms(skip_sid, "skip_sid")
        )

    def server_side_emit(self, event: str, *args: Any, namespace: Optional[str] = None) -> None:
        """Calls `event`'s server-side handlers on every server (Node's
        ``serverSideEmit``; no acknowledgement)."""
        self._need_emitter().server_side_emit(namespace or "/", event, list(args))

    def sockets_join(self, rooms: Any, to: Any = None, skip_sid: Any = None, namespace: Optional[str] = None) -> None:
        """Makes the selected sockets of every server join `rooms`."""
        self._need_emitter().sockets_join(
            namespace or "/", _rooms(to, "to"), _rooms(skip_sid, "skip_sid"), _rooms(rooms, "rooms")
        )

    def sockets_leave(self, rooms: Any, to: Any = None, skip_sid: Any = None, namespace: Optional[str] = None) -> None:
        """Makes the selected sockets of every server leave `rooms`."""
        self._need_emitter().sockets_leave(
            namespace or "/", _rooms(to, "to"), _rooms(skip_sid, "skip_sid"), _rooms(rooms, "rooms")
        )

    def disconnect_sockets(
        self, to: Any = None, skip_sid: Any = None, namespace: Optional[str] = None, close: bool = False
    ) -> None:
        """Disconnects the selected sockets of every server."""
        self._need_emitter().disconnect_sockets(
            namespace or "/", _rooms(to, "to"), _rooms(skip_sid, "skip_sid"), bool(close)
        )

    def enter_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """python-socketio's manager ``enter_room``: socket `sid` joins `room`."""
        self.sockets_join(room, to=sid, namespace=namespace)

    def leave_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """python-socketio's manager ``leave_room``."""
        self.sockets_leave(room, to=sid, namespace=namespace)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Every socket in `room`, on every server, leaves it."""
        self.sockets_leave(room, to=room, namespace=namespace)

    def disconnect(self, sid: str, namespace: Optional[str] = None, **kwargs: Any) -> None:
        """Disconnects socket `sid` from `namespace`, wherever it is."""
        if kwargs:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(kwargs))}")
        self.disconnect_sockets(to=sid, namespace=namespace)


class AsyncRedisManager(RedisManager):
    """``AsyncRedisManager``: the same as `RedisManager` for a server (the
    adapter runs in Rust whatever the server's flavour); write-only, its
    methods are coroutines (the publish runs in a worker thread)."""

    async def emit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().emit, *args, **kwargs)

    async def server_side_emit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().server_side_emit, *args, **kwargs)

    async def sockets_join(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().sockets_join, *args, **kwargs)

    async def sockets_leave(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().sockets_leave, *args, **kwargs)

    async def disconnect_sockets(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().disconnect_sockets, *args, **kwargs)

    async def enter_room(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().enter_room, *args, **kwargs)

    async def leave_room(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().leave_room, *args, **kwargs)

    async def close_room(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().close_room, *args, **kwargs)

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await _in_thread(super().disconnect, *args, **kwargs)


async def _in_thread(fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    import asyncio
    import functools

    await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


class ShardedRedisManager:
    """The sharded Redis adapter (``createShardedAdapter`` of
    ``@socket.io/redis-adapter``: Redis >= 7 sharded Pub/Sub on a Redis
    Cluster), as a server's ``client_manager``. `nodes` are the cluster's
    seed URLs; `channel` is the channel prefix; `subscription_mode` is
    ``"static"``, ``"dynamic"`` (default, as Node) or ``"dynamic-private"``
    and must be the same on every node, Node.js ones included;
    `requests_timeout` (seconds) bounds cluster-wide requests. ``rooms()``
    across nodes is not part of this protocol (each node knows its own)."""

    def __init__(
        self,
        nodes: Any,
        channel: str = "socket.io",
        subscription_mode: str = "dynamic",
        requests_timeout: float = 5.0,
    ) -> None:
        nodes = [nodes] if isinstance(nodes, str) else list(nodes)
        if not nodes or not all(isinstance(n, str) and n.startswith(("redis://", "rediss://")) for n in nodes):
            raise ValueError("ShardedRedisManager nodes must be redis:// URLs of the cluster")
        if not isinstance(channel, str) or not channel:
            raise ValueError("ShardedRedisManager channel must be a non-empty str")
        if subscription_mode not in _MODES:
            raise ValueError(f"subscription_mode must be one of {_MODES}, not {subscription_mode!r}")
        self.nodes = nodes
        self.channel = channel
        self.subscription_mode = subscription_mode
        self.requests_timeout = _check_timeout(requests_timeout)

    def _adapter(self) -> Dict[str, Any]:
        return {
            "sharded_nodes": self.nodes,
            "redis_prefix": self.channel,
            "subscription_mode": self.subscription_mode,
            "requests_timeout": self.requests_timeout,
        }


class AsyncShardedRedisManager(ShardedRedisManager):
    """``ShardedRedisManager`` for ``AsyncServer`` (the same adapter)."""


class PostgresManager:
    """The Postgres adapter (``@socket.io/postgres-adapter``: ``LISTEN`` /
    ``NOTIFY`` plus an attachments table for binary or big payloads), as a
    server's ``client_manager``. `url` is a PostgreSQL connection string;
    `channel` the channel prefix; `table_name` the attachments table
    (created if missing); JSON over `payload_threshold` bytes goes through
    it; attachments older than `cleanup_interval` seconds are deleted;
    `requests_timeout` (seconds) bounds cluster-wide requests. Nodes find
    each other by heartbeats (every 5 s)."""

    def __init__(
        self,
        url: str,
        channel: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
        cleanup_interval: float = 30.0,
        requests_timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ValueError("PostgresManager url must be a PostgreSQL connection string")
        if not isinstance(channel, str) or not channel:
            raise ValueError("PostgresManager channel must be a non-empty str")
        if isinstance(payload_threshold, bool) or not isinstance(payload_threshold, int) or payload_threshold < 0:
            raise ValueError("payload_threshold must be an int >= 0")
        self.url = url
        self.channel = channel
        self.table_name = table_name
        self.payload_threshold = payload_threshold
        self.cleanup_interval = _check_timeout(cleanup_interval)
        self.requests_timeout = _check_timeout(requests_timeout)

    def _adapter(self) -> Dict[str, Any]:
        return {
            "postgres_url": self.url,
            "redis_prefix": self.channel,
            "postgres_options": (self.table_name, self.payload_threshold, self.cleanup_interval),
            "requests_timeout": self.requests_timeout,
        }


class AsyncPostgresManager(PostgresManager):
    """``PostgresManager`` for ``AsyncServer`` (the same adapter)."""


class RedisStreamsManager:
    """The Redis streams adapter (``@socket.io/redis-streams-adapter`` 0.3:
    durable messages in a Redis stream, requests and responses over
    Pub/Sub), as a server's ``client_manager``. With
    ``connection_state_recovery`` on the server, a client that drops from
    one node is recovered by any other node of the cluster (Node.js ones
    included): sessions are stored in Redis and missed events replayed from
    the stream, each event carrying its stream offset as its last argument.

    Options have Node's meaning and defaults: `url` (one Redis, or a list
    of seed URLs of a Redis Cluster, as Node's adapter on a
    ``createCluster`` client), `use_sharded_pub_sub` (``useShardedPubSub``:
    requests over sharded Pub/Sub; Redis Cluster only), `channel`
    (``channelPrefix``), `stream_name`, `stream_count`, `max_len` (``MAXLEN
    ~``), `read_count` (entries per ``XREAD``), `block_time` (seconds one
    ``XREAD`` blocks), `session_key_prefix`, `only_plaintext` (every entry
    as JSON), `requests_timeout` (seconds, cluster-wide requests). Every
    node must use the same stream name, stream count and channel.
    ``rooms()`` across nodes is not part of this protocol."""

    def __init__(
        self,
        url: Union[str, List[str]] = "redis://localhost:6379/0",
        channel: str = "socket.io",
        stream_name: str = "socket.io",
        stream_count: int = 1,
        max_len: int = 10000,
        read_count: int = 100,
        block_time: float = 5.0,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        requests_timeout: float = 5.0,
        use_sharded_pub_sub: bool = False,
    ) -> None:
        urls = url if isinstance(url, list) else [url]
        if not urls or not all(isinstance(u, str) and u.startswith(("redis://", "rediss://", "unix://")) for u in urls):
            raise ValueError("RedisStreamsManager url must be a redis:// URL, or a non-empty list of them (a Redis Cluster)")
        if not isinstance(use_sharded_pub_sub, bool):
            raise ValueError("RedisStreamsManager use_sharded_pub_sub must be a bool")
        if use_sharded_pub_sub and not isinstance(url, list):
            raise ValueError("RedisStreamsManager use_sharded_pub_sub needs a Redis Cluster (url as a list of seed URLs)")
        for name, value in (("channel", channel), ("stream_name", stream_name)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"RedisStreamsManager {name} must be a non-empty str")
        if not isinstance(session_key_prefix, str):
            raise ValueError("RedisStreamsManager session_key_prefix must be a str")
        counts: List[Tuple[str, Any, int]] = [("stream_count", stream_count, 1), ("max_len", max_len, 0), ("read_count", read_count, 1)]
        for what, n, low in counts:
            if isinstance(n, bool) or not isinstance(n, int) or n < low:
                raise ValueError(f"RedisStreamsManager {what} must be an int >= {low}")
        if not isinstance(only_plaintext, bool):
            raise ValueError("RedisStreamsManager only_plaintext must be a bool")
        self.url = list(url) if isinstance(url, list) else url
        self.use_sharded_pub_sub = use_sharded_pub_sub
        self.channel = channel
        self.stream_name = stream_name
        self.stream_count = stream_count
        self.max_len = max_len
        self.read_count = read_count
        if isinstance(block_time, bool) or not isinstance(block_time, (int, float)) or block_time <= 0:
            raise ValueError("RedisStreamsManager block_time must be a positive number of seconds")
        self.block_time = float(block_time)
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        self.requests_timeout = _check_timeout(requests_timeout)

    def _adapter(self) -> Dict[str, Any]:
        return {
            ("streams_nodes" if isinstance(self.url, list) else "streams_url"): self.url,
            "redis_prefix": self.channel,
            "streams_options": (
                self.stream_name,
                self.stream_count,
                self.max_len,
                self.read_count,
                self.block_time,
                self.session_key_prefix,
                self.only_plaintext,
                self.use_sharded_pub_sub,
            ),
            "requests_timeout": self.requests_timeout,
        }


class AsyncRedisStreamsManager(RedisStreamsManager):
    """``RedisStreamsManager`` for ``AsyncServer`` (the same adapter)."""


def adapter_options(client_manager: Any) -> Dict[str, Any]:
    if client_manager is None:
        return {}
    if isinstance(client_manager, RedisManager) and client_manager.write_only:
        raise ValueError("a write_only manager is an emitter, not a server's client_manager")
    if isinstance(client_manager, (RedisManager, ShardedRedisManager, RedisStreamsManager, PostgresManager)):
        return client_manager._adapter()
    raise TypeError(
        "client_manager must be oxsio.RedisManager, oxsio.ShardedRedisManager, oxsio.RedisStreamsManager, "
        "oxsio.PostgresManager "
        "or their Async variants, "
        f"not {type(client_manager).__name__}"
    )


def check_serializer(serializer: Any, json: Any = None) -> str:
    """python-socketio's ``serializer``: ``'default'`` (the JSON parser) or
    ``'msgpack'`` (``socket.io-msgpack-parser``'s packets); returns the
    name. Every client and server of a connection must use the same one."""
    if serializer is None:
        serializer = "default"
    if serializer == "msgpack":
        if json is not None:
            raise ValueError("json= applies to the default serializer only, not to serializer='msgpack'")
        return "msgpack"
    if serializer == "default":
        return "default"
    if serializer in ("cbor", "pickle"):
        raise NotImplementedError(
            f"serializer={serializer!r} is not supported: oxsio speaks 'default' (JSON) and 'msgpack'"
        )
    raise TypeError(
        f"serializer must be 'default' or 'msgpack', not {serializer!r}"
        " (custom Packet classes, such as MsgPackPacket.configure(...), are not supported)"
    )


class JsonCodec:
    """A user's ``json`` module (``dumps``/``loads``) applied to what is
    sent and received, as python-socketio does: outgoing data goes through
    its ``dumps``, incoming through its ``loads``. Binary parts stay binary."""

    _MARK = "\x00oxsio-bin"

    def __init__(self, module: Any) -> None:
        if not (callable(getattr(module, "dumps", None)) and callable(getattr(module, "loads", None))):
            raise TypeError("json must be a module (or object) with dumps() and loads()")
        self.module = module

    def _strip(self, v: Any, bins: List[bytes]) -> Any:
        if isinstance(v, (bytes, bytearray, memoryview)):
            bins.append(bytes(v))
            return {self._MARK: len(bins) - 1}
        if isinstance(v, dict):
            return {k: self._strip(x, bins) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self._strip(x, bins) for x in v]
        return v

    def _restore(self, v: Any, bins: List[bytes]) -> Any:
        if isinstance(v, dict):
            if isinstance(v.get(self._MARK), int):
                return bins[v[self._MARK]]
            return {k: self._restore(x, bins) for k, x in v.items()}
        if isinstance(v, list):
            return [self._restore(x, bins) for x in v]
        return v

    def out(self, args: List[Any]) -> List[Any]:
        bins: List[bytes] = []
        text = self.module.dumps(self._strip(list(args), bins))
        return list(self._restore(_stdjson.loads(text), bins))

    def into(self, args: List[Any]) -> List[Any]:
        bins: List[bytes] = []
        text = _stdjson.dumps(self._strip(list(args), bins))
        return list(self._restore(self.module.loads(text), bins))


class Lanes:
    """``async_handlers=True`` for the threaded server: work runs on a pool,
    in order per key (a client), keys in parallel."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="oxsio-handler")
        self._queues: Dict[Hashable, Deque[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def submit(self, key: Hashable, fn: Callable[[], None]) -> None:
        with self._lock:
            q = self._queues.get(key)
            if q is not None:
                q.append(fn)
                return
            self._queues[key] = deque([fn])
        self._pool.submit(self._run, key)

    def _run(self, key: Hashable) -> None:
        while True:
            with self._lock:
                q = self._queues[key]
                if not q:
                    del self._queues[key]
                    self._idle.notify_all()
                    return
                fn = q[0]
            try:
                fn()
            except Exception:
                logger.exception("oxsio: a handler raised")
            with self._lock:
                q.popleft()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._queues, timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)


ASYNC_MODES = {False: ("threading",), True: ("asgi", "aiohttp")}


def check_async_mode(mode: Any, is_async: bool) -> None:
    if mode is None or mode in ASYNC_MODES[is_async]:
        return
    kind = "AsyncServer" if is_async else "Server"
    raise ValueError(
        f"async_mode={mode!r} is not supported by oxsio.{kind} "
        f"(it runs on {', '.join(ASYNC_MODES[is_async])}; the protocol runs in Rust)"
    )


def deflate_threshold(value: Any) -> Optional[int]:
    """``per_message_deflate=``: False/None (off), True (1 024) or an int threshold."""
    if value is True:
        return 1024
    if value is False or value is None:
        return None
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError("per_message_deflate must be a bool or an int threshold >= 0")
