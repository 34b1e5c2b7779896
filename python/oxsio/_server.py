"""Server (threads) and the parts AsyncServer shares with it."""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from . import _native
from ._logging import configure as configure_logging
from ._options import JsonCodec, Lanes, adapter_options, check_async_mode, check_serializer, deflate_threshold
from ._base import (
    NOT_HANDLED,
    SRV_ACK,
    SRV_CONNECT,
    SRV_DISCONNECT,
    SRV_EVENT,
    MARK,
    Barriers,
    Registry,
    ack_result,
    logger,
    refusal,
    start_dispatcher,
    to_args,
)

Rooms = Union[str, Iterable[str], None]

_START_LOCK = threading.Lock()

def _room_list(rooms: Rooms) -> Optional[List[str]]:
    if rooms is None:
        return None
    if isinstance(rooms, str):
        return [rooms]
    out = list(rooms)
    for r in out:
        if not isinstance(r, str):
            raise TypeError(f"room names must be str, not {type(r).__name__}")
    return out


def _flatten(rooms: Tuple[Any, ...]) -> List[str]:
    out: List[str] = []
    for r in rooms:
        out.extend(_room_list(r) or [])
    return out


class _Reason:
    """Disconnect reasons passed to a server's ``disconnect(sid, reason)``."""

    SERVER_DISCONNECT = "server disconnect"
    CLIENT_DISCONNECT = "client disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"


class BroadcastOperator:
    """JS-style selection: ``sio.of('/chat').to('room').except_('x').emit(...)``.
    Each method returns a new operator; nothing is sent until ``emit``."""

    def __init__(
        self,
        server: Any,
        namespace: str = "/",
        rooms: Tuple[str, ...] = (),
        except_rooms: Tuple[str, ...] = (),
        volatile: bool = False,
    ) -> None:
        self._server = server
        self._ns = namespace
        self._rooms = rooms
        self._except = except_rooms
        self._volatile = volatile

    def _copy(self, **kw: Any) -> Any:
        d: Dict[str, Any] = dict(rooms=self._rooms, except_rooms=self._except, volatile=self._volatile)
        d.update(kw)
        return type(self)(self._server, self._ns, **d)

    def to(self, *rooms: Rooms) -> Any:
        """Adds target rooms (a socket id is a room too)."""
        return self._copy(rooms=self._rooms + tuple(_flatten(rooms)))

    in_ = to
    within = to

    def except_(self, *rooms: Rooms) -> Any:
        """Excludes the sockets in these rooms."""
        return self._copy(except_rooms=self._except + tuple(_flatten(rooms)))

    @property
    def volatile(self) -> Any:
        """Messages may be dropped for clients that read too slowly."""
        return self._copy(volatile=True)

    def _sel(self) -> Tuple[Optional[List[str]], Optional[List[str]]]:
        return (list(self._rooms) or None, list(self._except) or None)

    def emit(self, event: str, *args: Any) -> None:
        """Sends `event` with `args` (each one argument) to the selection."""
        to, skip = self._sel()
        self._server._native.emit(self._ns, event, list(args), to, skip, self._volatile)

    def send(self, *args: Any) -> None:
        """Sends the ``message`` event."""
        self.emit("message", *args)

    def sockets_join(self, *rooms: Rooms) -> None:
        """The selected sockets join `rooms`."""
        to, skip = self._sel()
        self._server._native.sockets_join(self._ns, _flatten(rooms), to, skip)

    def sockets_leave(self, *rooms: Rooms) -> None:
        """The selected sockets leave `rooms`."""
        to, skip = self._sel()
        self._server._native.sockets_leave(self._ns, _flatten(rooms), to, skip)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects the selected sockets (with `close`, their connections)."""
        to, skip = self._sel()
        self._server._native.disconnect_sockets(self._ns, to, skip, close)

    def fetch_sockets(self) -> List[str]:
        """The sids of the selected sockets."""
        to, skip = self._sel()
        return list(self._server._native.fetch_sockets(self._ns, to, skip))


_RECOVERY_DEFAULTS: Dict[str, Any] = {
    "max_disconnection_duration": 120.0,
    "skip_middlewares": True,
    "max_stored_packets": 100_000,
    "max_packets_per_session": 10_000,
    "max_sessions": 100_000,
}


def _recovery_options(value: Any) -> Optional[Tuple[float, bool, int, int, int]]:
    """`connection_state_recovery` as the native layer takes it."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise TypeError("connection_state_recovery must be a bool or a dict")
    unknown = set(value) - set(_RECOVERY_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown connection_state_recovery option(s): {', '.join(sorted(unknown))}")
    o = {**_RECOVERY_DEFAULTS, **value}
    duration = o["max_disconnection_duration"]
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration <= 0:
        raise ValueError("max_disconnection_duration must be a positive number of seconds")
    if not isinstance(o["skip_middlewares"], bool):
        raise TypeError("skip_middlewares must be a bool")
    for k in ("max_stored_packets", "max_packets_per_session", "max_sessions"):
        if isinstance(o[k], bool) or not isinstance(o[k], int) or o[k] < 1:
            raise ValueError(f"{k} must be a positive int")
    return (
        float(duration),
        o["skip_middlewares"],
        o["max_stored_packets"],
        o["max_packets_per_session"],
        o["max_sessions"],
    )


class _ServerBase(Registry):
    reserved_events = ("connect", "disconnect")
    reason = _Reason
    _is_async = False

    def __init__(
        self,
        cors_allowed_origins: Union[str, List[str], Callable[..., bool], None] = None,
        ping_interval: Union[float, Tuple[float, float]] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        transports: Optional[List[str]] = None,
        namespaces: Union[str, List[str], None] = None,
        always_connect: bool = False,
        socketio_path: str = "socket.io",
        cookie: Optional[str] = None,
        cors_credentials: bool = False,
        logger: Any = False,
        threaded: bool = True,
        ack_timeout: float = 60,
        connect_timeout: float = 45,
        max_queue: int = 256,
        max_pending_events: int = 100_000,
        redis_url: Optional[str] = None,
        redis_prefix: Optional[str] = None,
        connection_state_recovery: Union[bool, Dict[str, Any], None] = None,
        metrics_path: Optional[str] = None,
        async_mode: Optional[str] = None,
        async_handlers: bool = True,
        client_manager: Any = None,
        engineio_logger: Any = False,
        json: Any = None,
        serializer: Any = "default",
        monitor_clients: bool = True,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        per_message_deflate: Union[bool, int] = False,
        allow_eio3: bool = False,
        allow_upgrades: bool = True,
        max_attachments: int = 100,
        max_json_depth: int = 128,
        handler_threads: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        recovery = _recovery_options(connection_state_recovery)
        if kwargs:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(kwargs))}")
        check_async_mode(async_mode, self._is_async)
        serializer = check_serializer(serializer, json)
        if monitor_clients is not True:
            raise NotImplementedError(
                "monitor_clients=False is not supported: oxsio always runs heartbeats (ping_interval/ping_timeout)"
            )
        deflate = deflate_threshold(per_message_deflate)
        for name, v in (
            ("max_attachments", max_attachments),
            ("compression_threshold", compression_threshold),
            ("max_json_depth", max_json_depth),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0")
        if client_manager is not None and redis_url is not None:
            raise ValueError("give either client_manager or redis_url, not both")
        adapter = adapter_options(client_manager)
        if redis_url is not None:
            adapter = {"redis_url": redis_url}
        if redis_prefix is not None:
            adapter["redis_prefix"] = redis_prefix
        self.logger, self.eio_logger = configure_logging(logger, engineio_logger)
        self._json = JsonCodec(json) if json is not None else None
        self.async_handlers = bool(async_handlers)
        self._lanes: Optional[Lanes] = (
            Lanes(max(1, int(handler_threads))) if async_handlers and threaded and not self._is_async else None
        )
        self._serial: Dict[str, Any] = {}
        if isinstance(ping_interval, (tuple, list)):
            ping_interval = ping_interval[0]
        # python-socketio: None = the server's own origin only; "*" = any;
        # [] = no check at all; a list or a callable = those. A refused
        # Origin gets HTTP 400 on polling and on the WebSocket upgrade.
        origin_check = None
        origins: Optional[List[str]]
        if cors_allowed_origins is None:
            origins, policy = None, "same"
        elif callable(cors_allowed_origins):
            origins, policy, origin_check = None, "callable", cors_allowed_origins
        elif isinstance(cors_allowed_origins, str):
            origins = [cors_allowed_origins]
            policy = "none" if cors_allowed_origins == "*" else "list"
        else:
            origins = list(cors_allowed_origins)
            for o in origins:
                if not isinstance(o, str):
                    raise TypeError(f"cors_allowed_origins entries must be str, not {type(o).__name__}")
            policy = "none" if not origins or "*" in origins else "list"
            origins = origins or None
        path = "/" + socketio_path.strip("/") + "/"
        self._native = _native.Server(
            path=path,
            ping_interval=float(ping_interval),
            ping_timeout=float(ping_timeout),
            max_http_buffer_size=int(max_http_buffer_size),
            transports=transports,
            cors_allowed_origins=origins,
            cors_credentials=cors_credentials,
            always_connect=always_connect,
            connect_timeout=float(connect_timeout),
            max_queue=int(max_queue),
            cookie=cookie,
            max_pending_events=int(max_pending_events),
            recovery=recovery,
            **adapter,
            metrics_path=metrics_path,
            origin_policy=policy,
            origin_check=origin_check,
            max_attachments=int(max_attachments),
            max_json_depth=int(max_json_depth),
            allow_upgrades=bool(allow_upgrades),
            http_compression=bool(http_compression),
            compression_threshold=int(compression_threshold),
            per_message_deflate=deflate,
            allow_eio3=bool(allow_eio3),
            serializer=serializer,
        )
        self._engine_path = path
        self._max_http_buffer_size = int(max_http_buffer_size)
        self._recovery_keep = recovery[0] if recovery else 0.0
        self._recovered: Dict[Tuple[str, str], bool] = {}
        # Sessions of disconnected clients kept for recovery: key -> deadline.
        self._kept: Dict[Tuple[str, str], float] = {}
        self._threaded = threaded
        self._ack_timeout = float(ack_timeout)
        self._ids = itertools.count(1)
        self._callbacks: Dict[int, Tuple[Callable[..., Any], Optional[Callable[[BaseException], Any]]]] = {}
        self._sessions: Dict[Tuple[str, str], Any] = {}
        self._environ: Dict[str, Dict[str, Any]] = {}
        self._thread: Optional[threading.Thread] = None
        self._barriers = Barriers()
        self.namespaces = namespaces
        if namespaces == "*":
            self._native.add_any_namespace()
        else:
            for ns in [namespaces] if isinstance(namespaces, str) else (namespaces or ["/"]):
                self._native.add_namespace(ns)

    # ---- registration ---------------------------------------------------

    def _namespace_added(self, namespace: str) -> None:
        if namespace == "*":
            self._native.add_any_namespace()
        else:
            self._native.add_namespace(namespace)

    # ---- dispatch (on the dispatcher thread, the poll thread, or the loop)

    def _dispatch(self, batch: List[Tuple[Any, ...]]) -> None:
        lanes = self._lanes
        if lanes is None:
            for item in batch:
                self._dispatch_one(item)
            return
        # async_handlers: each client's items in order on its own lane.
        for item in batch:
            kind = item[0]
            if kind == MARK:
                lanes.wait_idle(30.0)
                self._barriers.reached(item[1])
            elif kind == SRV_ACK:
                lanes.submit(("ack", item[1]), functools.partial(self._dispatch_one, item))
            else:
                lanes.submit(item[2], functools.partial(self._dispatch_one, item))

    def _dispatch_one(self, item: Tuple[Any, ...]) -> None:
        kind = item[0]
        try:
            if kind == SRV_EVENT:
                _, ns, sid, name, args, ack = item
                if self._json is not None:
                    args = self._json.into(args)
                r = self._trigger(name, ns, sid, *args)
                if self._is_async and inspect.isawaitable(r):
                    self._spawn_handler(r, name, ack, sid)
                elif ack is not None and r is not NOT_HANDLED:
                    ack.send(self._out(to_args(r)))
            elif kind == SRV_CONNECT:
                self._on_connect(item)
            elif kind == SRV_DISCONNECT:
                _, ns, sid, reason, kept = item
                try:
                    r = self._trigger("disconnect", ns, sid, reason)
                    if self._is_async and inspect.isawaitable(r):
                        self._spawn(self._finish_event(r, "disconnect", None))
                finally:
                    self._forget(sid, ns, kept)
            elif kind == MARK:
                self._barriers.reached(item[1])
            elif kind == SRV_ACK:
                _, cid, args, err = item
                cb = self._callbacks.pop(cid, None)
                if cb is not None:
                    fn, on_error = cb
                    if err is None:
                        if self._json is not None:
                            args = self._json.into(args)
                        r = fn(*args)
                    elif on_error is not None:
                        r = on_error(err)
                    else:
                        r = None
                    if self._is_async and inspect.isawaitable(r):
                        self._spawn(self._finish_event(r, "callback", None))
        except Exception:
            logger.exception("oxsio: a handler raised (event %r)", item[3] if kind == SRV_EVENT else kind)

    def _out(self, args: List[Any]) -> List[Any]:
        """Outgoing arguments, through the user's json module if any."""
        return args if self._json is None else self._json.out(args)

    def _forget(self, sid: str, ns: str, kept: bool) -> None:
        """A client left: its session dict stays while its state may be
        recovered (connection state recovery), else it goes."""
        key = (sid, ns)
        self._recovered.pop(key, None)
        self._environ.pop(sid, None)
        now = time.monotonic()
        for k in [k for k, deadline in self._kept.items() if deadline < now]:
            del self._kept[k]
            self._sessions.pop(k, None)
        if kept:
            self._kept[key] = now + self._recovery_keep
        else:
            self._sessions.pop(key, None)

    def recovered(self, sid: str, namespace: Optional[str] = None) -> bool:
        """True when the client `sid` came back with its previous state
        (connection state recovery): same sid, rooms and session dict, and
        the events sent while it was away were delivered again."""
        return self._recovered.get((sid, namespace or "/"), False)

    def _on_connect(self, item: Tuple[Any, ...]) -> None:
        _, ns, sid, environ, auth, reply, recovered = item
        self._environ[sid] = environ
        self._recovered[(sid, ns)] = bool(recovered)
        self._kept.pop((sid, ns), None)
        try:
            r = self._trigger("connect", ns, sid, environ, auth)
        except BaseException as exc:
            self._refuse(reply, sid, exc)
            if not isinstance(exc, (_native.ConnectionRefusedError, ConnectionRefusedError)):
                raise
            return
        if self._is_async and inspect.isawaitable(r):
            self._spawn(self._finish_connect(r, sid, reply))
        else:
            self._verdict(r, sid, reply)

    def _refuse(self, reply: Any, sid: str, exc: BaseException) -> None:
        message, data = refusal(exc)
        if not isinstance(exc, (_native.ConnectionRefusedError, ConnectionRefusedError)):
            message = "Connection rejected by server"
        self._environ.pop(sid, None)
        try:
            reply.refuse(message, data)
        except (TypeError, ValueError):
            logger.exception("oxsio: the refusal data cannot be sent")
            reply.refuse(message, None)

    def _verdict(self, r: Any, sid: str, reply: Any) -> None:
        if r is False:
            self._environ.pop(sid, None)
            reply.refuse("Connection rejected by server", None)
        else:
            reply.accept()

    def _spawn(self, coro: Any) -> Any:  # pragma: no cover - AsyncServer only
        raise NotImplementedError

    def _spawn_handler(self, aw: Any, name: str, ack: Any, sid: str = "") -> None:  # pragma: no cover
        raise NotImplementedError

    async def _finish_event(self, aw: Any, name: str, ack: Any) -> None:
        try:
            r = await aw
        except Exception:
            logger.exception("oxsio: a handler raised (event %r)", name)
            return
        if ack is not None and r is not NOT_HANDLED:
            ack.send(self._out(to_args(r)))

    async def _finish_connect(self, aw: Any, sid: str, reply: Any) -> None:
        try:
            r = await aw
        except BaseException as exc:
            self._refuse(reply, sid, exc)
            if not isinstance(exc, (_native.ConnectionRefusedError, ConnectionRefusedError)):
                logger.exception("oxsio: the connect handler raised")
            return
        self._verdict(r, sid, reply)

    # ---- emitting (thread-safe, never blocks) -----------------------------

    def _emit(
        self,
        event: str,
        data: Any,
        to: Rooms,
        room: Rooms,
        skip_sid: Rooms,
        namespace: Optional[str],
        callback: Optional[Callable[..., Any]],
        on_error: Optional[Callable[[BaseException], Any]] = None,
        timeout: Optional[float] = None,
        local: bool = False,
    ) -> None:
        if not isinstance(event, str):
            raise TypeError(f"event name must be str, not {type(event).__name__}")
        ns = namespace or "/"
        target = to if to is not None else room
        args = self._out(to_args(data))
        if callback is not None:
            if not isinstance(target, str):
                raise ValueError("a callback needs a single client: pass its sid as to=")
            cid = next(self._ids)
            self._callbacks[cid] = (callback, on_error)
            t = self._ack_timeout if timeout is None else timeout
            try:
                sent = self._native.emit_with_ack(ns, event, args, target, t, cid)
            except BaseException:
                self._callbacks.pop(cid, None)
                raise
            if not sent:
                self._callbacks.pop(cid, None)
                if on_error is not None:
                    on_error(_native.DisconnectedError(f"no socket {target} in {ns}"))
            return
        full = self._native.emit(ns, event, args, _room_list(target), _room_list(skip_sid), False, local)
        if full:
            logger.warning("oxsio: %d client(s) read too slowly and missed %r", len(full), event)

    def _session_key(self, sid: str, namespace: Optional[str]) -> Tuple[str, str]:
        if sid not in self._environ:
            raise KeyError(f"unknown client {sid!r}")
        return (sid, namespace or "/")

    # ---- helpers shared by both flavours ------------------------------------

    def of(self, namespace: str) -> BroadcastOperator:
        """JS-style operations on a namespace: ``sio.of('/chat').to('r').emit(...)``."""
        return BroadcastOperator(self, namespace)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms a client is in (its own sid room included)."""
        return list(self._native.rooms(namespace or "/", sid))

    def get_socket_data(self, sid: str, namespace: Optional[str] = None) -> Any:
        """The client's socket data (Node's ``socket.data``, ``{}`` at
        first; KeyError for unknown clients). Unlike the session dict, which
        stays in this Python process, it travels: Node.js and oxsio nodes of
        a Redis cluster see it in ``fetchSockets``, and it comes back with a
        recovered session."""
        return self._native.socket_data(namespace or "/", sid)

    def set_socket_data(self, sid: str, data: Any, namespace: Optional[str] = None) -> None:
        """Replaces the client's socket data (any JSON and bytes value)."""
        self._native.set_socket_data(namespace or "/", sid, data)

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The WSGI-style environ of the request that opened the client's connection."""
        return self._environ.get(sid)

    def transport(self, sid: str, namespace: Optional[str] = None) -> str:
        """The transport client `sid` uses now: ``"polling"`` or
        ``"websocket"``. Raises KeyError for an unknown client."""
        t = self._native.transport(namespace or "/", sid)
        if t is None:
            raise KeyError(f"unknown client {sid!r}")
        return str(t)

    def is_connected(self, sid: str, namespace: Optional[str] = None) -> bool:
        """True while the client is connected to the namespace."""
        return bool(self._native.is_connected(namespace or "/", sid))

    @property
    def port(self) -> Optional[int]:
        """The bound port while serving."""
        return self._native.port

    def metrics(self) -> Optional[str]:
        """The Prometheus metrics in the text format (for a host that serves
        them itself), or None when the server was made without
        `metrics_path`; with it, the server's own listener serves them at
        that path."""
        return self._native.metrics()

    def instrument(
        self,
        auth: Union[bool, Dict[str, str], Tuple[str, str], None] = None,
        mode: str = "development",
        read_only: bool = False,
        server_id: Optional[str] = None,
        namespace: str = "/admin",
        server_stats_interval: float = 2,
    ) -> None:
        """Serves the Socket.IO Admin UI (https://admin.socket.io, or the
        UI built into the ``@socket.io/admin-ui`` npm package) on
        `namespace`, speaking the protocol of ``@socket.io/admin-ui`` 0.5.

        :param auth: required, as in Node: ``False`` for no login (anyone
            who reaches the server may connect), or the login as
            ``{"username": ..., "password": <bcrypt hash>}`` (Node's shape;
            ``"type": "basic"`` is allowed) or ``(username, bcrypt_hash)``.
            The password is given as its bcrypt hash (e.g.
            ``bcrypt.hashpw(b"...", bcrypt.gensalt())``), never in clear.
        :param mode: ``"development"`` (every socket, room and event) or
            ``"production"`` (server stats only).
        :param read_only: refuse the UI's commands (join, leave, emit,
            disconnect).
        :param server_id: this server's id in the UI (default: the host name).
        :param namespace: the admin namespace.
        :param server_stats_interval: seconds between two ``server_stats``.

        Raises ValueError for bad options (a password that is not a bcrypt
        hash, an unknown mode) and RuntimeError when called twice.
        """
        username: Optional[str] = None
        password_hash: Optional[str] = None
        if auth is None or auth is True:
            raise ValueError(
                "auth must be False (no login) or the login with a bcrypt hash of the password"
            )
        if isinstance(auth, tuple):
            if len(auth) != 2 or not all(isinstance(x, str) for x in auth):
                raise TypeError("auth as a tuple is (username, bcrypt_hash)")
            username, password_hash = auth
        elif isinstance(auth, dict):
            unknown = set(auth) - {"type", "username", "password"}
            if unknown:
                raise TypeError(f"unexpected auth key(s): {', '.join(sorted(unknown))}")
            if auth.get("type", "basic") != "basic":
                raise ValueError(f"auth type {auth.get('type')!r} (basic)")
            username, password_hash = auth.get("username"), auth.get("password")
            if not isinstance(username, str) or not isinstance(password_hash, str):
                raise TypeError("auth needs a string username and a string password (its bcrypt hash)")
        elif auth is not False:
            raise TypeError("auth is False, a dict or a (username, bcrypt_hash) tuple")
        self._native.instrument(
            username,
            password_hash,
            namespace,
            bool(read_only),
            mode,
            server_id,
            float(server_stats_interval),
        )

    def poll(self, timeout: float = 0, max_events: int = 1024) -> int:
        """Runs the handlers of waiting events on this thread (for servers
        made with ``threaded=False``); waits up to `timeout` seconds for
        the first. Returns how many events were handled."""
        if self._threaded:
            raise RuntimeError("poll() is for servers made with threaded=False")
        batch = self._native.next_events(timeout, max_events)
        if not batch:
            return 0
        self._dispatch(batch)
        return len(batch)


class Server(_ServerBase):
    """A Socket.IO server with python-socketio's API; handlers run on one
    dispatcher thread (or on yours with ``threaded=False`` and `poll()`).

    Every method may be called from any thread.
    """

    # ---- serving --------------------------------------------------------

    def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_certfile: Optional[str] = None,
        ssl_keyfile: Optional[str] = None,
        ssl_ca_certs: Optional[str] = None,
        ssl_client_cert_optional: bool = False,
    ) -> int:
        """Serves on `host`:`port` in the background; returns the bound port.

        TLS: with `ssl_certfile` (PEM chain, leaf first) and `ssl_keyfile`
        (PEM key) it serves https / wss; `ssl_ca_certs` (PEM) asks clients
        for a certificate signed by these CAs, required unless
        `ssl_client_cert_optional`. Bad files raise ValueError."""
        bound = self._native.listen(
            host, port, ssl_certfile, ssl_keyfile, ssl_ca_certs, ssl_client_cert_optional
        )
        if self._threaded and self._thread is None:
            self._thread = start_dispatcher(self._native, self, "_dispatch", "oxsio-server")
        return int(bound)

    def _serve_threads(self) -> None:
        """Serving through a host (WSGIApp): the dispatcher runs."""
        if self._threaded and self._thread is None:
            with _START_LOCK:
                if self._thread is None:
                    self._thread = start_dispatcher(self._native, self, "_dispatch", "oxsio-server")

    def handle_request(self, environ: Dict[str, Any], start_response: Any) -> Any:
        """Answers one WSGI request addressed to the Socket.IO path, as
        python-socketio's ``Server.handle_request`` (what ``WSGIApp`` calls)."""
        from ._mount import WSGIApp

        return WSGIApp(self, socketio_path=self._engine_path)(environ, start_response)

    def stop(self) -> None:
        """Stops serving and disconnects every client (their disconnect
        handlers run before this returns)."""
        self._native.shutdown()
        self._barriers.wait(self._native, self._thread)

    shutdown = stop

    def close(self) -> None:
        """Stops serving and ends the dispatcher thread, after it ran the
        pending handlers (the server cannot be started again)."""
        self._native.shutdown()
        self._native.close()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        if self._lanes is not None:
            self._lanes.wait_idle(5.0)
            self._lanes.shutdown()

    def run(self, host: str = "127.0.0.1", port: int = 5000, **tls: Any) -> None:
        """Serves until Ctrl-C (or `stop()` from another thread); `tls` are
        the `ssl_*` options of `start()`."""
        self.start(host, port, **tls)
        try:
            self._native.wait(None)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the server is stopped (True) or `timeout` (False)."""
        return bool(self._native.wait(timeout))

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- python-socketio API ----------------------------------------------

    def emit(
        self,
        event: str,
        data: Any = None,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: Rooms = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
        ignore_queue: bool = False,
    ) -> None:
        """Sends `event` to a client (its sid), a room, several rooms, or
        everyone (`to` omitted), skipping `skip_sid`. A tuple `data` is
        several arguments. With `callback`, `to` must be one sid and
        `callback(*args)` runs with the client's acknowledgement."""
        self._emit(event, data, to, room, skip_sid, namespace, callback, local=ignore_queue)

    def send(
        self,
        data: Any,
        to: Rooms = None,
        room: Rooms = None,
        skip_sid: Rooms = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
        ignore_queue: bool = False,
    ) -> None:
        """Sends the ``message`` event."""
        self._emit("message", data, to, room, skip_sid, namespace, callback, local=ignore_queue)

    def call(
        self,
        event: str,
        data: Any = None,
        to: Optional[str] = None,
        sid: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Sends `event` to one client and returns its acknowledgement
        (None, one value, or a tuple). Raises TimeoutError after `timeout`."""
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        if not isinstance(event, str):
            raise TypeError(f"event name must be str, not {type(event).__name__}")
        reply = self._native.call(namespace or "/", event, self._out(to_args(data)), target, float(timeout))
        if self._json is not None and reply is not None:
            reply = self._json.into(reply)
        return ack_result(reply)

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Adds a client to a room."""
        self._native.enter_room(namespace or "/", sid, room)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Removes a client from a room."""
        self._native.leave_room(namespace or "/", sid, room)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Removes every client from a room."""
        self._native.close_room(namespace or "/", room)

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The client's session dict (KeyError for unknown clients)."""
        return self._sessions.setdefault(self._session_key(sid, namespace), {})  # type: ignore[no-any-return]

    def save_session(self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None) -> None:
        """Replaces the client's session."""
        self._sessions[self._session_key(sid, namespace)] = session

    def session(self, sid: str, namespace: Optional[str] = None) -> Any:
        """``with sio.session(sid) as s:`` edits and saves the session."""
        server = self

        class _Ctx:
            def __enter__(self) -> Dict[str, Any]:
                self.s = server.get_session(sid, namespace)
                return self.s

            def __exit__(self, *exc: Any) -> None:
                server.save_session(sid, self.s, namespace)

        return _Ctx()

    def disconnect(self, sid: str, namespace: Optional[str] = None, ignore_queue: bool = False) -> None:
        """Disconnects a client from a namespace (its disconnect handler runs
        with reason ``server disconnect``)."""
        self._native.disconnect(namespace or "/", sid)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
        """Runs `target` on a new daemon thread."""
        t = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        t.start()
        return t

    def sleep(self, seconds: float = 0) -> None:
        """time.sleep, for python-socketio compatibility."""
        time.sleep(seconds)
