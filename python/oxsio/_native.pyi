"""The compiled half of oxsio (Rust). Import `oxsio`, not this module.

Rust tasks never call Python: every socket event is queued and taken by
`Server.next_events` / `Client.next_events` on a Python thread, as tuples
whose first item is the event kind.
"""

import builtins
from typing import Any, List, Optional, Sequence, Tuple, Union, final

__all__ = [
    "Ack",
    "AuthReply",
    "BadNamespaceError",
    "Client",
    "ConnectReply",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "Server",
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
        recovery: Optional[Tuple[float, bool, int, int, int]] = None,
        metrics_path: Optional[str] = None,
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

    @property
    def connection_count(self) -> int:
        """Number of open Engine.IO connections."""

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
