"""The compiled half of oxsio (Rust). Import `oxsio`, not this module.

Rust tasks never call Python: every socket event is queued and taken by
`Server.next_events` / `Client.next_events` on a Python thread, as tuples
whose first item is the event kind.
"""

import builtins
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union, final

__all__ = [
    "Ack",
    "AuthReply",
    "BadNamespaceError",
    "Client",
    "ConnectReply",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "Emitter",
    "HostWs",
    "Server",
    "enable_logs",
    "next_logs",
    "SocketIOError",
    "TimeoutError",
    "__version__",
]

__version__: str

class SocketIOError(Exception):
    """Base class of every oxsio error."""

class ConnectionError(SocketIOError, builtins.ConnectionError):
    """The connection could not be made, or was refused."""

class ConnectionRefusedError(ConnectionError):
    """Raise it from a server `connect` handler to refuse the client; its
    arguments become the `connect_error` data (message, then data)."""

class TimeoutError(SocketIOError, builtins.TimeoutError):
    """No answer in time (acknowledgement, connection)."""

class BadNamespaceError(SocketIOError):
    """The namespace is not connected (client) or not served (server)."""

class DisconnectedError(SocketIOError):
    """The socket is disconnected, or the server or client is closed."""

_Args = Union[List[Any], Tuple[Any, ...]]

@final
class Ack:
    """Answers the peer's acknowledgement request; only the first `send` counts."""

    def send(self, args: _Args) -> None:
        """Sends `args` (a list or tuple) as the acknowledgement."""

    @property
    def pending(self) -> bool:
        """True until `send` has been called."""

@final
class ConnectReply:
    """The server's answer to a client joining a namespace."""

    def accept(self) -> None:
        """Lets the client in."""

    def refuse(self, message: str, data: Any = None) -> None:
        """Refuses the client: it gets `connect_error` with `message` and `data`."""

@final
class AuthReply:
    """Delivers the value of an `auth` callable to a reconnecting client."""

    def send(self, value: Any) -> None:
        """Sends the auth payload (any JSON-compatible value)."""

@final
class Emitter:
    """The Redis emitter (``@socket.io/redis-emitter`` protocol), used
    through ``oxsio.RedisManager(write_only=True)``. Each call returns once
    Redis took the message; `timeout` (seconds) bounds connecting and each
    publish."""

    def __new__(
        cls,
        url: Optional[str] = None,
        nodes: Optional[Sequence[str]] = None,
        prefix: str = "socket.io",
        timeout: float = 5.0,
    ) -> "Emitter": ...
    def emit(
        self,
        namespace: str,
        event: str,
        args: Any,
        to: Sequence[str],
        skip: Sequence[str],
        volatile: bool = False,
    ) -> None:
        """Emits to the sockets in `to` (all when empty) but those in `skip`."""

    def sockets_join(self, namespace: str, to: Sequence[str], skip: Sequence[str], rooms: Sequence[str]) -> None:
        """The selected sockets join `rooms`."""

    def sockets_leave(self, namespace: str, to: Sequence[str], skip: Sequence[str], rooms: Sequence[str]) -> None:
        """The selected sockets leave `rooms`."""

    def disconnect_sockets(self, namespace: str, to: Sequence[str], skip: Sequence[str], close: bool) -> None:
        """Disconnects the selected sockets."""

    def server_side_emit(self, namespace: str, event: str, args: Any) -> None:
        """Calls the servers' server-side handlers of `event`."""

@final
class Server:
    """The native server. Used through `oxsio.Server` / `oxsio.AsyncServer`.

    `next_events` yields tuples:
    ``(0, ns, sid, environ, auth, ConnectReply)`` a client asks to join,
    ``(1, ns, sid, event, args, Ack | None)`` an event,
    ``(2, ns, sid, reason)`` a disconnect,
    ``(3, callback_id, args | None, error | None)`` an acknowledgement result,
    ``(6, id)`` the marker queued by `mark`.
    """

    def __new__(
        cls,
        *,
        path: str = "/socket.io/",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1000000,
        transports: Optional[Sequence[str]] = None,
        cors_allowed_origins: Optional[Sequence[str]] = None,
        cors_credentials: bool = False,
        always_connect: bool = False,
        connect_timeout: float = 45.0,
        max_queue: int = 256,
        cookie: Optional[str] = None,
        max_pending_events: int = 100000,
        redis_url: Optional[str] = None,
        redis_prefix: Optional[str] = None,
        sharded_nodes: Optional[Sequence[str]] = None,
        subscription_mode: Optional[str] = None,
        requests_timeout: Optional[float] = None,
        postgres_url: Optional[str] = None,
        postgres_options: Optional[Tuple[str, int, float]] = None,
        streams_url: Optional[str] = None,
        streams_nodes: Optional[Sequence[str]] = None,
        streams_options: Optional[Tuple[str, int, int, int, float, str, bool, bool]] = None,
        recovery: Optional[Tuple[float, bool, int, int, int]] = None,
        metrics_path: Optional[str] = None,
        origin_policy: str = "none",
        origin_check: Optional[Callable[..., Any]] = None,
        max_attachments: int = 10,
        max_json_depth: int = 128,
        allow_upgrades: bool = True,
        http_compression: bool = False,
        compression_threshold: int = 1024,
        per_message_deflate: Optional[int] = None,
        allow_eio3: bool = False,
        serializer: str = "default",
    ) -> "Server": ...
    def add_namespace(self, name: str) -> None:
        """Serves namespace `name` (idempotent): clients may join it, and its
        events reach `next_events`."""

    def add_any_namespace(self) -> None:
        """Serves every namespace a client asks for (idempotent)."""

    def listen(
        self,
        host: str,
        port: int,
        certfile: Optional[str] = None,
        keyfile: Optional[str] = None,
        ca_certs: Optional[str] = None,
        client_cert_optional: bool = False,
    ) -> int:
        """Binds `host:port` (0 = any free port) and serves in the background;
        returns the bound port. With `certfile` and `keyfile` (PEM), serves
        https / wss; `ca_certs` (PEM) verifies client certificates, required
        unless `client_cert_optional`."""

    def metrics(self) -> Optional[str]:
        """The Prometheus metrics (text format), or None when the server was
        made without `metrics_path`."""

    def instrument(
        self,
        username: Optional[str],
        password_hash: Optional[str],
        namespace: str,
        read_only: bool,
        mode: str,
        server_id: Optional[str],
        stats_interval: float,
    ) -> None:
        """Serves the Socket.IO Admin UI protocol: a login (`username`,
        bcrypt `password_hash`) or none (both None). Raises ValueError for a
        hash that is not bcrypt, an unknown mode or a zero interval, and
        RuntimeError when called twice."""

    @property
    def port(self) -> Optional[int]:
        """The bound port, while listening."""

    def shutdown(self) -> None:
        """Stops listening and disconnects every client (their `disconnect`
        events are still delivered). Waits at most about 2 s."""

    def close(self) -> None:
        """Ends the event stream: `next_events` returns None once drained."""

    def prefetch(self, timeout: Optional[float] = None, max: int = 1024) -> Optional[bool]:
        """Waits (GIL released) up to `timeout` seconds for events without
        taking them: True when `next_events` has some, False on timeout,
        None once closed and drained."""

    def mark(self, id: int) -> None:
        """Queues `(6, id)` behind every event queued so far (lets the caller
        wait until the handlers of those events have run)."""

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until `shutdown` (True) or `timeout` seconds (False). The GIL
        is released; Ctrl-C raises KeyboardInterrupt."""

    def next_events(
        self, timeout: Optional[float] = None, max: int = 1024
    ) -> Optional[List[Tuple[Any, ...]]]:
        """Takes the waiting events (blocking up to `timeout` seconds for the
        first; 0 polls, None waits forever), at most `max`. Returns None once
        the server is closed and every event was taken."""

    def emit(
        self,
        ns: str,
        event: str,
        args: _Args,
        to: Optional[Sequence[str]] = None,
        skip: Optional[Sequence[str]] = None,
        volatile: bool = False,
        local: bool = False,
    ) -> List[str]:
        """Emits to the sockets of namespace `ns` in any of `to` (all when
        None) and in none of `skip`. Returns the sids whose outgoing queue
        was full (they did not get it)."""

    def emit_with_ack(
        self, ns: str, event: str, args: _Args, sid: str, timeout: float, id: int
    ) -> bool:
        """Emits to one socket asking for an acknowledgement; its result comes
        back through `next_events` as `(3, id, args, error)`. Returns False
        (and never reports) when the socket is unknown."""

    def call(self, ns: str, event: str, args: _Args, sid: str, timeout: float) -> List[Any]:
        """Emits to one socket and blocks (GIL released) until it acknowledges;
        returns the acknowledgement's arguments."""

    def enter_room(self, ns: str, sid: str, room: str) -> None:
        """Adds socket `sid` of `ns` to `room` (no-op for unknown sockets)."""

    def leave_room(self, ns: str, sid: str, room: str) -> None:
        """Removes socket `sid` of `ns` from `room`."""

    def close_room(self, ns: str, room: str) -> None:
        """Removes every socket from `room`."""

    def rooms(self, ns: str, sid: str) -> List[str]:
        """The rooms of socket `sid` (its own id room included); empty when unknown."""

    def socket_data(self, ns: str, sid: str) -> Any:
        """The socket's data (Node's `socket.data`); KeyError for unknown sids."""

    def set_socket_data(self, ns: str, sid: str, data: Any) -> None:
        """Replaces the socket's data; KeyError for unknown sids."""

    def sockets(self, ns: str, room: Optional[str] = None) -> List[str]:
        """The sids of the connected sockets of `ns`, optionally only those in `room`."""

    def is_connected(self, ns: str, sid: str) -> bool:
        """True while socket `sid` is connected to `ns`."""

    def disconnect(self, ns: str, sid: str) -> None:
        """Disconnects socket `sid` from `ns` (its `disconnect` event follows)."""

    def sockets_join(
        self,
        ns: str,
        rooms: Sequence[str],
        to: Optional[Sequence[str]] = None,
        skip: Optional[Sequence[str]] = None,
    ) -> None:
        """Makes the sockets of `ns` in `to` (all when None) and not in
        `skip` join `rooms`."""

    def sockets_leave(
        self,
        ns: str,
        rooms: Sequence[str],
        to: Optional[Sequence[str]] = None,
        skip: Optional[Sequence[str]] = None,
    ) -> None:
        """Makes the selected sockets leave `rooms`."""

    def disconnect_sockets(
        self,
        ns: str,
        to: Optional[Sequence[str]] = None,
        skip: Optional[Sequence[str]] = None,
        close: bool = False,
    ) -> None:
        """Disconnects the selected sockets (with `close`, their connections too)."""

    def fetch_sockets(
        self, ns: str, to: Optional[Sequence[str]] = None, skip: Optional[Sequence[str]] = None
    ) -> List[str]:
        """The sids of the selected sockets."""

    def host_http(
        self,
        method: str,
        target: str,
        headers: Sequence[Tuple[bytes, bytes]],
        body: bytes,
        remote: Optional[Tuple[str, int]],
        secure: bool,
    ) -> int:
        """A polling (or other plain HTTP) request from an asyncio host: its
        response `(status, headers, body)` comes through the hub
        (`hub_take`) under the returned id."""

    def events_fd(self) -> int:
        """A descriptor readable when events wait, for an event loop to watch
        (`loop.add_reader`) instead of a thread; call `events_ready` in its
        callback, then `next_events(0)`."""

    def events_ready(self) -> None:
        """Re-arms `events_fd` (drains its wake-up bytes); call it before
        taking the events it announced."""

    def hub_fd(self) -> int:
        """The descriptor an asyncio host watches (`loop.add_reader`): readable
        when `hub_take` has something."""

    def hub_take(self) -> List[Tuple[int, int, Any]]:
        """Everything ready for the asyncio host: `(id, kind, value)` with kind
        0 a response, 1 an accepted `HostWs`, 2 a refused WebSocket's
        response, 3 a message `(kind, data)` for the peer, 4 the end of a
        WebSocket."""

    def host_http_blocking(
        self,
        method: str,
        target: str,
        headers: Sequence[Tuple[bytes, bytes]],
        body: bytes,
        remote: Optional[Tuple[str, int]],
        secure: bool,
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """`host_http` that waits for the response (GIL released)."""

    def host_websocket(
        self,
        target: str,
        headers: Sequence[Tuple[bytes, bytes]],
        remote: Optional[Tuple[str, int]],
        secure: bool,
    ) -> int:
        """A WebSocket request from an asyncio host, before it accepts it: the
        answer (an accepted `HostWs` or a refusal) and then the messages for
        the peer come through the hub under the returned id."""

    def host_websocket_blocking(
        self,
        target: str,
        headers: Sequence[Tuple[bytes, bytes]],
        remote: Optional[Tuple[str, int]],
        secure: bool,
    ) -> Any:
        """`host_websocket` that waits for the answer (GIL released)."""

    def transport(self, ns: str, sid: str) -> Optional[str]:
        """"polling" or "websocket": the transport of socket `sid` now; None
        if it is not connected."""

    @property
    def connection_count(self) -> int:
        """Number of open Engine.IO connections."""

def enable_logs(level: int) -> bool:
    """Records the core's events of Python level `level` and above (10 debug
    … 40 error) for `next_logs`; the lowest level asked for wins. False if
    another tracing subscriber was installed first (nothing is recorded)."""

def next_logs(timeout: float) -> List[Tuple[int, str, str]]:
    """Waits up to `timeout` seconds (GIL released) for log records and takes
    them: `[(level, target, message)]`, plus a warning record first if
    some were dropped because Python did not keep up."""

@final
class HostWs:
    """One WebSocket a Python web server accepted, between its peer and the
    engine. Messages are `(kind, data)`: kind 0 text (`str`), 1 binary
    (`bytes`), 2 close (`int` code)."""

    def send(self, kind: int, data: Any) -> bool:
        """Hands a message from the peer to the engine without waiting: False
        when the engine is behind (then use `send_later`), or gone."""

    def send_later(self, hub: "Server", kind: int, data: Any) -> int:
        """Hands a message to the engine once it has room; `True` comes through
        the hub as a response item under the returned id (False if the
        engine is gone)."""

    def consumed(self, n: int) -> None:
        """The event loop sent `n` more messages on to the peer."""

    def send_blocking(self, kind: int, data: Any) -> bool:
        """`send` that waits for room (GIL released); False if the engine is gone."""

    def recv_blocking(self, timeout: Optional[float] = None) -> Optional[List[Tuple[int, Any]]]:
        """The next messages for the peer (blocking side), waiting (GIL
        released) up to `timeout` seconds; None on
        timeout, an empty list once the engine is done."""

@final
class Client:
    """The native client. Used through `oxsio.Client` / `oxsio.AsyncClient`.

    `next_events` yields tuples:
    ``(0, ns, sid)`` connected, ``(1, ns, event, args, Ack | None)`` an event,
    ``(2, ns, reason)`` disconnected, ``(3, callback_id, args | None, error |
    None)`` an acknowledgement result, ``(4, ns, data)`` a connect error
    (a ``{'message', 'data'}`` dict for a refusal, else a message),
    ``(5, AuthReply)`` the auth callable must be called, ``(6, id)`` the
    marker queued by `mark`.
    """

    def __new__(
        cls,
        *,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        request_timeout: float = 20.0,
        ack_timeout: float = 60.0,
        ssl_verify: bool = True,
        ca_pem: Optional[bytes] = None,
        retries: int = 0,
        max_attachments: int = 10,
        max_json_depth: int = 128,
        max_payload: int = 104857600,
        per_message_deflate: Optional[int] = None,
        eio3: bool = False,
        serializer: str = "default",
    ) -> "Client": ...
    def connect(
        self,
        url: str,
        namespaces: Sequence[str],
        *,
        headers: Optional[Sequence[Tuple[str, str]]] = None,
        auth: Any = None,
        auth_callable: bool = False,
        transports: Optional[Sequence[str]] = None,
        path: str = "/socket.io/",
        retry: bool = False,
    ) -> None:
        """Starts connecting to `url` on `namespaces` (returns at once; see
        `wait_connected`). `auth` is sent as is, or, with `auth_callable`,
        asked from Python (event 5) before every attempt."""

    def wait_connected(self, timeout: float) -> bool:
        """Waits (GIL released) up to `timeout` seconds for every namespace to
        connect: True when all are, False if still connecting. Raises
        ConnectionError when one is refused or, without `retry`, when an
        attempt fails."""

    def disconnect(self) -> None:
        """Leaves every namespace and closes the connection (no reconnection)."""

    def close(self) -> None:
        """Ends the event stream: `next_events` returns None once drained."""

    def prefetch(self, timeout: Optional[float] = None, max: int = 1024) -> Optional[bool]:
        """Waits (GIL released) up to `timeout` seconds for events without
        taking them: True when `next_events` has some, False on timeout,
        None once closed and drained."""

    def mark(self, id: int) -> None:
        """Queues `(6, id)` behind every event queued so far (lets the caller
        wait until the handlers of those events have run)."""

    @property
    def active(self) -> bool:
        """True while connected or reconnecting."""

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks (GIL released; Ctrl-C raises KeyboardInterrupt) until the
        connection has ended and no reconnection is under way (True), or
        `timeout` seconds pass (False)."""

    def sid(self, ns: str) -> Optional[str]:
        """The socket id of namespace `ns` while connected."""

    def connected_namespaces(self) -> List[str]:
        """The namespaces connected now."""

    def next_events(
        self, timeout: Optional[float] = None, max: int = 1024
    ) -> Optional[List[Tuple[Any, ...]]]:
        """Takes the waiting events; see `Server.next_events`."""

    def emit(self, ns: str, event: str, args: _Args) -> None:
        """Emits `event` with `args` on namespace `ns`."""

    def emit_with_ack(self, ns: str, event: str, args: _Args, timeout: float, id: int) -> None:
        """Emits asking for an acknowledgement; the result comes back through
        `next_events` as `(3, id, args, error)`."""

    def call(self, ns: str, event: str, args: _Args, timeout: float) -> List[Any]:
        """Emits and blocks (GIL released) until the server acknowledges;
        returns the acknowledgement's arguments."""
