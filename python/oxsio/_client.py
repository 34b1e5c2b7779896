"""Client (threads) and the parts AsyncClient shares with it."""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _native
from ._logging import configure as configure_logging
from ._options import JsonCodec, check_serializer, deflate_threshold
from ._base import (
    CLI_ACK,
    CLI_AUTH,
    CLI_CONNECT_ERROR,
    CLI_CONNECTED,
    CLI_DISCONNECTED,
    CLI_EVENT,
    MARK,
    NOT_HANDLED,
    Barriers,
    Registry,
    ack_result,
    logger,
    start_dispatcher,
    to_args,
)

class _Reason:
    """Disconnect reasons passed to a client's ``disconnect(reason)``."""

    CLIENT_DISCONNECT = "client disconnect"
    SERVER_DISCONNECT = "server disconnect"
    PING_TIMEOUT = "ping timeout"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"


class _ClientBase(Registry):
    reserved_events = ("connect", "connect_error", "disconnect")
    reason = _Reason
    _is_async = False

    def __init__(
        self,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1,
        reconnection_delay_max: float = 5,
        randomization_factor: float = 0.5,
        request_timeout: float = 5,
        threaded: bool = True,
        ack_timeout: float = 60,
        ssl_verify: Union[bool, str] = True,
        retries: int = 0,
        logger: Any = False,
        engineio_logger: Any = False,
        json: Any = None,
        serializer: Any = "default",
        handle_sigint: bool = True,
        http_session: Any = None,
        websocket_extra_options: Optional[Dict[str, Any]] = None,
        timestamp_requests: bool = True,
        max_attachments: int = 100,
        max_json_depth: int = 128,
        max_payload: int = 100 * 1024 * 1024,
        per_message_deflate: Union[bool, int] = False,
        eio3: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if kwargs:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(kwargs))}")
        serializer = check_serializer(serializer, json)
        if http_session is not None:
            raise NotImplementedError(
                "http_session is not supported: the client's HTTP runs in Rust; "
                "use headers= in connect() and ssl_verify= (a CA bundle path) instead"
            )
        if websocket_extra_options:
            raise NotImplementedError(
                "websocket_extra_options is not supported: the client's WebSocket runs in Rust; "
                "use headers= in connect() and ssl_verify= instead"
            )
        if timestamp_requests is not True:
            raise NotImplementedError("timestamp_requests=False is not supported: polling requests always carry t=")
        deflate = deflate_threshold(per_message_deflate)
        for name, v in (
            ("max_attachments", max_attachments),
            ("max_json_depth", max_json_depth),
            ("max_payload", max_payload),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0")
        self.logger, self.eio_logger = configure_logging(logger, engineio_logger)
        self._json = JsonCodec(json) if json is not None else None
        self._handle_sigint = bool(handle_sigint)
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise TypeError(f"retries must be an int, not {type(retries).__name__}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        ca_pem = None
        if isinstance(ssl_verify, str):  # a CA bundle (PEM) to trust as well
            with open(ssl_verify, "rb") as f:
                ca_pem = f.read()
            ssl_verify = True
        self._native = _native.Client(
            reconnection=bool(reconnection),
            reconnection_attempts=int(reconnection_attempts),
            reconnection_delay=float(reconnection_delay),
            reconnection_delay_max=float(reconnection_delay_max),
            randomization_factor=float(randomization_factor),
            request_timeout=float(request_timeout),
            ack_timeout=float(ack_timeout),
            ssl_verify=bool(ssl_verify),
            ca_pem=ca_pem,
            retries=retries,
            max_attachments=max_attachments,
            max_json_depth=max_json_depth,
            max_payload=max_payload,
            per_message_deflate=deflate,
            eio3=bool(eio3),
            serializer=serializer,
        )
        self._recovered: Dict[str, bool] = {}
        self._request_timeout = float(request_timeout)
        self._ack_timeout = float(ack_timeout)
        self._threaded = threaded
        self._thread: Optional[threading.Thread] = None
        self._ids = itertools.count(1)
        self._callbacks: Dict[int, Tuple[Callable[..., Any], Optional[Callable[[BaseException], Any]]]] = {}
        self._auth_fn: Optional[Callable[[], Any]] = None
        self._barriers = Barriers()
        self._handshake_tasks: List[Any] = []
        self.connection_url: Any = None
        self.connection_namespaces: List[str] = []

    # ---- state --------------------------------------------------------------

    def recovered(self, namespace: Optional[str] = None) -> bool:
        """True when the last connection of `namespace` recovered its
        previous session (a server with connection state recovery): same
        sid and rooms, and the events sent meanwhile were delivered before
        the ``connect`` handler ran. As with the official JS client, the
        server's offset stays the last argument of each recoverable event."""
        return self._recovered.get(namespace or "/", False)

    @property
    def connected(self) -> bool:
        """True while at least one namespace is connected."""
        return bool(self._native.connected_namespaces())

    @property
    def namespaces(self) -> Dict[str, Optional[str]]:
        """The connected namespaces and their sids."""
        return {ns: self._native.sid(ns) for ns in self._native.connected_namespaces()}

    @property
    def sid(self) -> Optional[str]:
        """The sid of the default namespace (or of the first connected one)."""
        sid = self._native.sid("/")
        if sid is None:
            for ns in self._native.connected_namespaces():
                return self._native.sid(ns)
        return sid

    def get_sid(self, namespace: Optional[str] = None) -> Optional[str]:
        """The sid of a connected namespace."""
        return self._native.sid(namespace or "/")

    # ---- connecting -----------------------------------------------------------

    def _start_connect(
        self,
        url: Any,
        headers: Any,
        auth: Any,
        transports: Optional[List[str]],
        namespaces: Union[str, List[str], None],
        socketio_path: str,
        retry: bool,
    ) -> None:
        if self.connected:
            raise _native.ConnectionError("Already connected")
        if namespaces is None:
            nss = [n for n in set(self.handlers) | set(self.namespace_handlers) if n != "*"]
            nss = sorted(nss) or ["/"]
        elif isinstance(namespaces, str):
            nss = [namespaces]
        else:
            nss = list(namespaces)
        self.connection_url = url
        self.connection_namespaces = nss
        real_url = url() if callable(url) else url
        real_headers = headers() if callable(headers) else headers
        if isinstance(transports, str):
            transports = [transports]
        if callable(auth):
            self._auth_fn = auth
            native_auth, auth_callable = None, True
        else:
            self._auth_fn = None
            native_auth, auth_callable = auth, False
        self._native.connect(
            real_url,
            nss,
            headers=[(str(k), str(v)) for k, v in (real_headers or {}).items()],
            auth=native_auth,
            auth_callable=auth_callable,
            transports=transports,
            path="/" + socketio_path.strip("/") + "/",
            retry=retry,
        )

    # ---- dispatch ---------------------------------------------------------------

    def _spawn(self, coro: Any) -> Any:  # pragma: no cover - AsyncClient only
        raise NotImplementedError

    def _dispatch(self, batch: List[Tuple[Any, ...]]) -> None:
        for item in batch:
            kind = item[0]
            try:
                if kind == CLI_EVENT:
                    _, ns, name, args, ack = item
                    if self._json is not None:
                        args = self._json.into(args)
                    r = self._trigger(name, ns, *args)
                    if self._is_async and inspect.isawaitable(r):
                        self._spawn(self._finish(r, name, ack))
                    elif ack is not None:
                        ack.send(self._out(to_args(None if r is NOT_HANDLED else r)))
                elif kind == CLI_CONNECTED:
                    self._recovered[item[1]] = bool(item[3])
                    self._after(self._trigger("connect", item[1]), "connect")
                elif kind == CLI_DISCONNECTED:
                    _, ns, reason = item
                    self._after(self._trigger("disconnect", ns, reason), "disconnect")
                elif kind == CLI_CONNECT_ERROR:
                    _, ns, data = item
                    self._after(self._trigger("connect_error", ns, data), "connect_error")
                elif kind == CLI_ACK:
                    _, cid, args, err = item
                    cb = self._callbacks.pop(cid, None)
                    if cb is not None:
                        fn, on_error = cb
                        if err is None:
                            if self._json is not None:
                                args = self._json.into(args)
                            self._after(fn(*args), "callback")
                        elif on_error is not None:
                            on_error(err)
                elif kind == MARK:
                    self._barriers.reached(item[1])
                elif kind == CLI_AUTH:
                    reply = item[1]
                    auth_fn = self._auth_fn
                    value = auth_fn() if auth_fn is not None else None
                    if self._is_async and inspect.isawaitable(value):
                        self._spawn(self._finish_auth(value, reply))
                    else:
                        reply.send(value)
            except Exception:
                logger.exception("oxsio: a client handler raised (event %r)", item[2] if kind == CLI_EVENT else kind)

    def _after(self, r: Any, name: str) -> None:
        if self._is_async and inspect.isawaitable(r):
            task = self._spawn(self._finish(r, name, None))
            if name in ("connect", "connect_error"):
                self._handshake_tasks.append(task)

    async def _finish(self, aw: Any, name: str, ack: Any) -> None:
        try:
            r = await aw
        except Exception:
            logger.exception("oxsio: a client handler raised (event %r)", name)
            return
        if ack is not None:
            ack.send(self._out(to_args(None if r is NOT_HANDLED else r)))

    def _out(self, args: List[Any]) -> List[Any]:
        """Outgoing arguments, through the user's json module if any."""
        return args if self._json is None else self._json.out(args)

    async def _finish_auth(self, aw: Any, reply: Any) -> None:
        try:
            reply.send(await aw)
        except Exception:
            logger.exception("oxsio: the auth callable raised")
            reply.send(None)

    def _emit(
        self,
        event: str,
        data: Any,
        namespace: Optional[str],
        callback: Optional[Callable[..., Any]],
        on_error: Optional[Callable[[BaseException], Any]] = None,
        timeout: Optional[float] = None,
    ) -> None:
        if not isinstance(event, str):
            raise TypeError(f"event name must be str, not {type(event).__name__}")
        ns = namespace or "/"
        args = self._out(to_args(data))
        if callback is None:
            self._native.emit(ns, event, args)
            return
        cid = next(self._ids)
        self._callbacks[cid] = (callback, on_error)
        try:
            t = self._ack_timeout if timeout is None else timeout
            self._native.emit_with_ack(ns, event, args, t, cid)
        except BaseException:
            self._callbacks.pop(cid, None)
            raise

    def poll(self, timeout: float = 0, max_events: int = 1024) -> int:
        """Runs the handlers of waiting events on this thread (for clients
        made with ``threaded=False``, e.g. once per frame of a game loop);
        waits up to `timeout` seconds for the first. Returns the count."""
        if self._threaded:
            raise RuntimeError("poll() is for clients made with threaded=False")
        batch = self._native.next_events(timeout, max_events)
        if not batch:
            return 0
        self._dispatch(batch)
        return len(batch)


class Client(_ClientBase):
    """A Socket.IO client with python-socketio's API. Handlers run on one
    dispatcher thread (or on yours with ``threaded=False`` and `poll()`).
    Every method may be called from any thread."""

    def connect(
        self,
        url: Any,
        headers: Any = {},
        auth: Any = None,
        transports: Optional[List[str]] = None,
        namespaces: Union[str, List[str], None] = None,
        socketio_path: str = "socket.io",
        wait: bool = True,
        wait_timeout: float = 1,
        retry: bool = False,
    ) -> None:
        """Connects to `url` and, with `wait`, returns once every namespace
        is connected. `auth` may be a callable, called before every
        (re)connection. Raises ConnectionError when refused or unreachable."""
        self._start_connect(url, headers, auth, transports, namespaces, socketio_path, retry)
        if self._threaded and self._thread is None:
            self._thread = start_dispatcher(self._native, self, "_dispatch", "oxsio-client")
        if not wait:
            return
        timeout = float(wait_timeout) + self._request_timeout
        try:
            if self._threaded:
                ok = self._native.wait_connected(timeout)
                while not ok and retry and self._native.active:
                    ok = self._native.wait_connected(1.0)
            else:
                deadline = time.monotonic() + timeout
                ok = False
                while not ok and (time.monotonic() < deadline or (retry and self._native.active)):
                    self.poll()
                    ok = self._native.wait_connected(0.01)
                self.poll()
        except BaseException:
            self._native.disconnect()
            self._barriers.wait(self._native, self._thread)  # connect_error handlers ran
            raise
        if not ok:
            self._native.disconnect()
            raise _native.ConnectionError("Connection timed out")
        # As python-socketio: the connect handlers have run when connect() returns.
        self._barriers.wait(self._native, self._thread)

    def wait(self) -> None:
        """Blocks until the connection ends and no reconnection is under way.
        Ctrl-C disconnects and raises KeyboardInterrupt."""
        try:
            self._native.wait(None)
        except KeyboardInterrupt:
            if self._handle_sigint:
                self._native.disconnect()
            raise
        self._barriers.wait(self._native, self._thread)

    def emit(
        self,
        event: str,
        data: Any = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """Sends `event` (a tuple `data` is several arguments); with
        `callback`, it runs with the server's acknowledgement."""
        self._emit(event, data, namespace, callback)

    def send(self, data: Any, namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None) -> None:
        """Sends the ``message`` event."""
        self._emit("message", data, namespace, callback)

    def call(self, event: str, data: Any = None, namespace: Optional[str] = None, timeout: float = 60) -> Any:
        """Sends `event` and returns the server's acknowledgement (None, one
        value, or a tuple). Raises TimeoutError after `timeout` seconds."""
        if not isinstance(event, str):
            raise TypeError(f"event name must be str, not {type(event).__name__}")
        reply = self._native.call(namespace or "/", event, self._out(to_args(data)), float(timeout))
        if self._json is not None and reply is not None:
            reply = self._json.into(reply)
        return ack_result(reply)

    def disconnect(self) -> None:
        """Disconnects every namespace (the disconnect handlers get
        ``client disconnect``, before this returns); no reconnection follows."""
        self._native.disconnect()
        self._barriers.wait(self._native, self._thread)

    def shutdown(self) -> None:
        """Disconnects and ends the dispatcher thread (no reconnect after)."""
        self._native.disconnect()
        self._native.close()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> threading.Thread:
        """Runs `target` on a new daemon thread."""
        t = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
        t.start()
        return t

    def sleep(self, seconds: float = 0) -> None:
        """time.sleep."""
        time.sleep(seconds)
