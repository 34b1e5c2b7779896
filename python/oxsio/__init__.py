"""oxsio: Socket.IO v5 (Engine.IO v4) server and client for Python, with
python-socketio's API, running the protocol in Rust.

    import oxsio

    sio = oxsio.Server()

    @sio.event
    def chat(sid, data):
        sio.emit("chat", data, skip_sid=sid)
        return "delivered"          # answers the client's acknowledgement

    sio.run("127.0.0.1", 5000)      # Ctrl-C stops it

Handlers of `Server`/`Client` run on one dispatcher thread (or on yours
with ``threaded=False`` and ``poll()``); those of `AsyncServer`/`AsyncClient`
on your event loop. Every method is safe to call from any thread.
"""

from ._async_client import AsyncClient
from ._async_server import AsyncBroadcastOperator, AsyncServer
from ._client import Client
from ._mount import ASGIApp, WSGIApp
from ._options import (
    AsyncPostgresManager,
    AsyncRedisManager,
    AsyncRedisStreamsManager,
    AsyncShardedRedisManager,
    PostgresManager,
    RedisManager,
    RedisStreamsManager,
    ShardedRedisManager,
)
from . import exceptions
from ._namespace import AsyncClientNamespace, AsyncNamespace, ClientNamespace, Namespace
from ._native import (
    BadNamespaceError,
    ConnectionError,
    ConnectionRefusedError,
    DisconnectedError,
    SocketIOError,
    TimeoutError,
    __version__,
)
from ._server import BroadcastOperator, Server
from ._simple import AsyncSimpleClient, SimpleClient

#: python-socketio's old name of `WSGIApp`.
Middleware = WSGIApp

__all__ = [
    "AsyncPostgresManager",
    "PostgresManager",
    "AsyncRedisManager",
    "AsyncRedisStreamsManager",
    "AsyncShardedRedisManager",
    "RedisManager",
    "RedisStreamsManager",
    "ShardedRedisManager",
    "exceptions",
    "ASGIApp",
    "Middleware",
    "WSGIApp",
    "AsyncBroadcastOperator",
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncNamespace",
    "AsyncServer",
    "AsyncSimpleClient",
    "BadNamespaceError",
    "BroadcastOperator",
    "Client",
    "ClientNamespace",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "Namespace",
    "Server",
    "SimpleClient",
    "SocketIOError",
    "TimeoutError",
    "__version__",
]
