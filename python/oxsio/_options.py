"""python-socketio options that need a Python side: client managers, a
custom ``json`` module, ``async_handlers`` for the threaded server, and the
checks that refuse what oxsio cannot honour (by name, never silently)."""

from __future__ import annotations

import json as _stdjson
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Deque, Dict, Hashable, List, Optional, Tuple

from ._base import logger


class RedisManager:
    """python-socketio's ``RedisManager(url, channel)``, as oxsio runs it:
    the server joins a Redis cluster with the Node.js-compatible Redis
    adapter (``@socket.io/redis-adapter``), `channel` being its key prefix.
    oxsio nodes talk to Node.js nodes and to each other, not to
    python-socketio nodes (whose pub/sub format is its own)."""

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: Any = None,
        redis_options: Optional[Dict[str, Any]] = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"RedisManager url must be a redis:// URL, not {url!r}")
        if not isinstance(channel, str) or not channel:
            raise ValueError("RedisManager channel must be a non-empty str")
        if write_only:
            raise NotImplementedError(
                "RedisManager(write_only=True) (an emitter without a server) is not supported by oxsio"
            )
        if redis_options:
            raise NotImplementedError(
                "RedisManager(redis_options=...) is not supported: put the options in the URL"
            )
        del logger  # the core logs through the server's logger
        self.url = url
        self.channel = channel


class AsyncRedisManager(RedisManager):
    """``AsyncRedisManager``: the same as `RedisManager` (the adapter runs
    in Rust whatever the server's flavour)."""


def redis_options(client_manager: Any) -> Tuple[Optional[str], Optional[str]]:
    if client_manager is None:
        return None, None
    if isinstance(client_manager, RedisManager):
        return client_manager.url, client_manager.channel
    raise TypeError(
        f"client_manager must be oxsio.RedisManager or oxsio.AsyncRedisManager, not {type(client_manager).__name__}"
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
