"""Mounting a server in the user's web app: ``ASGIApp`` (uvicorn, hypercorn,
FastAPI/Starlette), ``AsyncServer.attach`` (aiohttp) and ``WSGIApp``
(werkzeug/Flask, gunicorn threads), with python-socketio's signatures.

The host web server only moves bytes: each request under the Socket.IO path
and each WebSocket message goes to the Rust engine (``_native`` host
calls), which answers with responses and messages. Nothing of Engine.IO or
Socket.IO is parsed here."""

from __future__ import annotations

import asyncio
import mimetypes
import socket
import threading
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from ._base import logger

TEXT, BINARY, CLOSE = 0, 1, 2

Headers = List[Tuple[bytes, bytes]]
StaticFiles = Dict[str, Union[str, Dict[str, str]]]


def _mount_path(socketio_path: str) -> str:
    return "/" + socketio_path.strip("/") + "/"


def get_static_file(path: str, static_files: Optional[StaticFiles]) -> Optional[Dict[str, str]]:
    """The file to serve for URL `path` per python-engineio's ``static_files``
    rules: exact keys, then the longest directory key; a directory serves
    ``static_files['']`` or ``index.html``."""
    if not static_files:
        return None
    extra = ""
    f: Any = static_files.get(path)
    if f is None:
        rest = path
        while rest:
            rest, last = rest.rsplit("/", 1)
            extra = "/" + last + extra
            if rest in static_files:
                f = static_files[rest]
                break
            if rest + "/" in static_files:
                f = static_files[rest + "/"]
                break
    if f is None:
        return None
    out: Dict[str, str] = {"filename": f} if isinstance(f, str) else dict(f)
    if out["filename"].endswith("/") and extra.startswith("/"):
        extra = extra[1:]
    out["filename"] += extra
    if out["filename"].endswith("/"):
        index = static_files.get("")
        if isinstance(index, str):
            out["filename"] += index
        elif isinstance(index, dict):
            out["filename"] += index["filename"]
            if "content_type" in index:
                out["content_type"] = index["content_type"]
        else:
            out["filename"] += "index.html"
    if "content_type" not in out:
        out["content_type"] = mimetypes.guess_type(out["filename"])[0] or "application/octet-stream"
    return out


def _read_static(f: Dict[str, str]) -> Optional[bytes]:
    try:
        with open(f["filename"], "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _target(server: Any, path: str, query: Union[str, bytes]) -> str:
    """The request target the engine expects: the server's own path (the
    mount point may differ) and the query."""
    del path  # any path under the mount point is the engine's
    q = query.decode("latin-1") if isinstance(query, bytes) else query
    return str(server._engine_path) + ("?" + q if q else "")


def _is_websocket(headers: Headers) -> bool:
    for k, v in headers:
        if k.lower() == b"upgrade" and v.lower() == b"websocket":
            return True
    return False


class _WsQueue:
    """Messages for one WebSocket's peer (None: the engine is done). The
    hub appends a whole batch and wakes the consumer once."""

    __slots__ = ("ident", "items", "waiter")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.items: List[Any] = []
        self.waiter: Optional["asyncio.Future[None]"] = None

    def put(self, item: Any) -> None:
        self.items.append(item)
        w = self.waiter
        if w is not None:
            self.waiter = None
            if not w.done():
                w.set_result(None)

    async def take_all(self) -> List[Any]:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        items, self.items = self.items, []
        return items


class _Hub:
    """The asyncio side of the server's native hub: one reader on the loop
    takes every response and WebSocket message the engine has ready (the
    Rust side never takes the GIL to hand them over)."""

    def __init__(self, native: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.native = native
        self.loop = loop
        self.fd = native.hub_fd()
        self.waiters: Dict[int, "asyncio.Future[Any]"] = {}
        self.queues: Dict[int, _WsQueue] = {}
        loop.add_reader(self.fd, self._ready)

    @classmethod
    def of(cls, server: Any) -> "_Hub":
        loop = asyncio.get_running_loop()
        hub: Optional[_Hub] = getattr(server, "_host_hub", None)
        if hub is None or hub.loop is not loop:
            if hub is not None and not hub.loop.is_closed():
                hub.loop.call_soon_threadsafe(hub.loop.remove_reader, hub.fd)
            hub = cls(server._native, loop)
            server._host_hub = hub
        return hub

    def _ready(self) -> None:
        for ident, kind, value in self.native.hub_take():
            if kind <= 2:  # a response, an accepted or a refused WebSocket
                fut = self.waiters.pop(ident, None)
                if fut is not None and not fut.done():
                    fut.set_result((kind, value))
                elif kind == 1:  # nobody waits any more: close it
                    value.send(CLOSE, 1001)
                    self.queues.pop(ident, None)
            else:
                q = self.queues.get(ident)
                if q is not None:
                    q.put(value if kind == 3 else None)

    def wait(self, ident: int) -> "asyncio.Future[Any]":
        fut: "asyncio.Future[Any]" = self.loop.create_future()
        self.waiters[ident] = fut
        return fut

    async def http(self, *args: Any) -> Tuple[int, List[Tuple[str, str]], bytes]:
        ident = self.native.host_http(*args)
        try:
            _, value = await self.wait(ident)
        finally:
            self.waiters.pop(ident, None)
        return value  # type: ignore[no-any-return]

    async def websocket(self, *args: Any) -> Tuple[Any, Optional[_WsQueue]]:
        """The accepted `HostWs` and its message queue, or a refusal's
        response and None."""
        ident = self.native.host_websocket(*args)
        q = _WsQueue(ident)
        self.queues[ident] = q
        try:
            kind, value = await self.wait(ident)
        except BaseException:
            self.waiters.pop(ident, None)
            raise
        if kind != 1:
            self.queues.pop(ident, None)
            return value, None
        return value, q

    def done(self, q: _WsQueue) -> None:
        self.queues.pop(q.ident, None)


async def _pump_async(
    hub: _Hub,
    ws: Any,
    queue: _WsQueue,
    receive_peer: Callable[[], Awaitable[Optional[Tuple[int, Any]]]],
    send_peer: Callable[[int, Any], Awaitable[None]],
) -> None:
    """Moves messages both ways between a host's WebSocket and the engine
    until either side ends. `receive_peer` returns None when the peer is
    gone; `send_peer(CLOSE, code)` closes the peer."""

    async def up() -> None:
        while True:
            m = await receive_peer()
            if m is None:
                m = (CLOSE, 1006)
            kind, data = m
            if not ws.send(kind, data):
                ident = ws.send_later(hub.native, kind, data)
                _, (ok, _h, _b) = await hub.wait(ident)
                if not ok:
                    return
            if kind == CLOSE:
                return

    async def down() -> None:
        while True:
            batch = await queue.take_all()
            for m in batch:
                if m is None:
                    await send_peer(CLOSE, 1000)
                    return
                kind, data = m
                await send_peer(kind, data)
                if kind == CLOSE:
                    return
            ws.consumed(len(batch))

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # The engine closed: let the peer's side finish its close; the peer
        # left: the engine has its close already.
        if tasks[1] in done and tasks[0] in pending:
            await asyncio.wait(pending, timeout=1.0)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        for t in tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        ws.send(CLOSE, 1006)
        hub.done(queue)


class ASGIApp:
    """An ASGI app serving `socketio_server` (an ``AsyncServer``) under
    ``/socketio_path/``, as python-socketio's ``ASGIApp``: HTTP and
    ``websocket`` scopes there go to the server, ``lifespan`` runs
    `on_startup` / `on_shutdown` (or goes to `other_asgi_app` when neither
    is given), `static_files` are served, and everything else goes to
    `other_asgi_app` (404 without one).

    ::

        sio = oxsio.AsyncServer()
        app = oxsio.ASGIApp(sio, fastapi_app)   # uvicorn module:app
    """

    def __init__(
        self,
        socketio_server: Any,
        other_asgi_app: Any = None,
        static_files: Optional[StaticFiles] = None,
        socketio_path: str = "socket.io",
        on_startup: Optional[Callable[[], Any]] = None,
        on_shutdown: Optional[Callable[[], Any]] = None,
    ) -> None:
        if not getattr(socketio_server, "_is_async", False):
            raise TypeError("ASGIApp needs an oxsio.AsyncServer (use WSGIApp for oxsio.Server)")
        self.engineio_server = socketio_server
        self.other_asgi_app = other_asgi_app
        self.static_files = static_files or {}
        self.engineio_path = _mount_path(socketio_path)
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        if kind in ("http", "websocket") and (
            path.startswith(self.engineio_path) or path == self.engineio_path.rstrip("/")
        ):
            self.engineio_server._serve_on_loop()
            if kind == "http":
                await self._http(scope, receive, send)
            else:
                await self._websocket(scope, receive, send)
            return
        if kind == "lifespan" and (
            self.other_asgi_app is None or self.on_startup is not None or self.on_shutdown is not None
        ):
            await self._lifespan(receive, send)
            return
        static = get_static_file(path, self.static_files) if kind == "http" else None
        if static is not None:
            body = await asyncio.get_running_loop().run_in_executor(None, _read_static, static)
            if body is not None:
                await _asgi_response(send, 200, [("Content-Type", static["content_type"])], body)
                return
        if self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == "http":
            await _asgi_response(send, 404, [("Content-Type", "text/plain")], b"Not Found")
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                try:
                    if self.on_startup is not None:
                        r = self.on_startup()
                        if asyncio.iscoroutine(r):
                            await r
                    self.engineio_server._serve_on_loop()
                except Exception as e:
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                try:
                    if self.on_shutdown is not None:
                        r = self.on_shutdown()
                        if asyncio.iscoroutine(r):
                            await r
                except Exception as e:
                    await send({"type": "lifespan.shutdown.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        srv = self.engineio_server
        limit = srv._max_http_buffer_size
        chunks: List[bytes] = []
        size = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                # The engine would refuse it; stop reading the rest.
                await _asgi_response(send, 413, [("Content-Type", "text/plain")], b"Payload Too Large")
                return
            chunks.append(chunk)
            more = msg.get("more_body", False)
        head = _head(srv, scope)
        status, headers, body = await _Hub.of(srv).http(
            scope.get("method", "GET"), head[0], head[1], b"".join(chunks), head[2], head[3]
        )
        await _asgi_response(send, status, headers, body)

    async def _websocket(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        srv = self.engineio_server
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        target, headers, remote, secure = _head(srv, scope)
        hub = _Hub.of(srv)
        got, queue = await hub.websocket(target, headers, remote, secure)
        if queue is None:
            status, rheaders, body = got
            if "websocket.http.response" in scope.get("extensions", {}):
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": status,
                        "headers": [(k.encode(), v.encode()) for k, v in rheaders],
                    }
                )
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        closed = False

        async def receive_peer() -> Optional[Tuple[int, Any]]:
            m = await receive()
            if m["type"] == "websocket.receive":
                if m.get("text") is not None:
                    return (TEXT, m["text"])
                return (BINARY, m.get("bytes") or b"")
            if m["type"] == "websocket.disconnect":
                return (CLOSE, m.get("code", 1005))
            return None

        async def send_peer(kind: int, data: Any) -> None:
            nonlocal closed
            if closed:
                return
            if kind == TEXT:
                await send({"type": "websocket.send", "text": data})
            elif kind == BINARY:
                await send({"type": "websocket.send", "bytes": data})
            else:
                closed = True
                await send({"type": "websocket.close", "code": data})

        try:
            await _pump_async(hub, got, queue, receive_peer, send_peer)
        except Exception as e:  # the ASGI server closed it under us
            logger.debug("oxsio: websocket ended: %r", e)


async def _asgi_response(send: Any, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _head(srv: Any, scope: Dict[str, Any]) -> Tuple[str, Headers, Optional[Tuple[str, int]], bool]:
    client = scope.get("client")
    remote = (str(client[0]), int(client[1])) if client else None
    secure = scope.get("scheme") in ("https", "wss")
    return (_target(srv, scope.get("path", ""), scope.get("query_string", b"")), list(scope.get("headers", [])), remote, secure)


# ---- aiohttp ----------------------------------------------------------------


def attach_aiohttp(server: Any, app: Any, socketio_path: str = "socket.io") -> None:
    """Routes ``/socketio_path/`` of an ``aiohttp.web.Application`` to
    `server` (an AsyncServer)."""
    from aiohttp import WSMsgType, web

    path = _mount_path(socketio_path)

    async def handler(request: Any) -> Any:
        server._serve_on_loop()
        headers: Headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]
        peer = request.transport.get_extra_info("peername") if request.transport else None
        remote = (str(peer[0]), int(peer[1])) if peer else None
        secure = request.secure
        target = _target(server, request.path, request.query_string)
        hub = _Hub.of(server)
        if _is_websocket(headers):
            got, queue = await hub.websocket(target, headers, remote, secure)
            if queue is None:
                status, rheaders, body = got
                return web.Response(status=status, headers=rheaders, body=body)
            ws = web.WebSocketResponse(max_msg_size=0, autoclose=False)
            await ws.prepare(request)

            async def receive_peer() -> Optional[Tuple[int, Any]]:
                m = await ws.receive()
                if m.type == WSMsgType.TEXT:
                    return (TEXT, m.data)
                if m.type == WSMsgType.BINARY:
                    return (BINARY, m.data)
                if m.type == WSMsgType.CLOSE:
                    return (CLOSE, m.data or 1005)
                return (CLOSE, 1006)

            async def send_peer(kind: int, data: Any) -> None:
                if ws.closed:
                    return
                if kind == TEXT:
                    await ws.send_str(data)
                elif kind == BINARY:
                    await ws.send_bytes(data)
                else:
                    await ws.close(code=data)

            try:
                await _pump_async(hub, got, queue, receive_peer, send_peer)
            except Exception as e:
                logger.debug("oxsio: websocket ended: %r", e)
            return ws
        limit = server._max_http_buffer_size
        if request.content_length is not None and request.content_length > limit:
            return web.Response(status=413, text="Payload Too Large")
        body = await request.content.read(limit + 1)
        if len(body) > limit:
            return web.Response(status=413, text="Payload Too Large")
        status, rheaders, rbody = await hub.http(request.method, target, headers, body, remote, secure)
        return web.Response(status=status, headers=rheaders, body=rbody)

    app.router.add_route("*", path, handler)
    app.router.add_route("*", path.rstrip("/"), handler)


# ---- WSGI -------------------------------------------------------------------


def _environ_headers(environ: Dict[str, Any]) -> Headers:
    out: Headers = []
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            out.append((k[5:].replace("_", "-").lower().encode("latin-1"), str(v).encode("latin-1")))
        elif k in ("CONTENT_TYPE", "CONTENT_LENGTH") and v:
            out.append((k.replace("_", "-").lower().encode("latin-1"), str(v).encode("latin-1")))
    return out


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class WSGIApp:
    """A WSGI app serving `socketio_server` (a ``Server``) under
    ``/socketio_path/``, as python-socketio's ``WSGIApp``; `static_files`
    are served and everything else goes to `wsgi_app` (404 without one).

    Long-polling works under any WSGI server. WebSocket needs one that
    hands out its raw socket (werkzeug's dev server, gunicorn's threads
    worker), as python-socketio's threading mode: the handshake and framing
    are done by ``simple-websocket``; without it, clients stay on polling.
    """

    def __init__(
        self,
        socketio_server: Any,
        wsgi_app: Any = None,
        static_files: Optional[StaticFiles] = None,
        socketio_path: str = "socket.io",
    ) -> None:
        if getattr(socketio_server, "_is_async", True):
            raise TypeError("WSGIApp needs an oxsio.Server (use ASGIApp for oxsio.AsyncServer)")
        self.engineio_server = socketio_server
        self.wsgi_app = wsgi_app
        self.static_files = static_files or {}
        self.engineio_path = _mount_path(socketio_path)

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.engineio_path) or path == self.engineio_path.rstrip("/"):
            srv = self.engineio_server
            srv._serve_threads()
            headers = _environ_headers(environ)
            target = _target(srv, path, environ.get("QUERY_STRING", ""))
            addr = environ.get("REMOTE_ADDR")
            port = environ.get("REMOTE_PORT")
            remote = (addr, int(port)) if addr and port and str(port).isdigit() else None
            secure = environ.get("wsgi.url_scheme") == "https"
            if _is_websocket(headers) and self._can_websocket(environ):
                return self._websocket(environ, start_response, target, headers, remote, secure)
            limit = srv._max_http_buffer_size
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > limit:
                start_response("413 Payload Too Large", [("Content-Type", "text/plain")])
                return [b"Payload Too Large"]
            body = environ["wsgi.input"].read(length) if length else b""
            status, rheaders, rbody = srv._native.host_http_blocking(
                environ.get("REQUEST_METHOD", "GET"), target, headers, body, remote, secure
            )
            start_response(_status_line(status), rheaders)
            return [rbody]
        static = get_static_file(path, self.static_files)
        if static is not None:
            data = _read_static(static)
            if data is not None:
                start_response("200 OK", [("Content-Type", static["content_type"])])
                return [data]
        if self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    @staticmethod
    def _can_websocket(environ: Dict[str, Any]) -> bool:
        if not any(k in environ for k in ("werkzeug.socket", "gunicorn.socket")):
            return False
        try:
            import simple_websocket  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        except ImportError:
            return False
        return True

    def _websocket(
        self,
        environ: Dict[str, Any],
        start_response: Any,
        target: str,
        headers: Headers,
        remote: Optional[Tuple[str, int]],
        secure: bool,
    ) -> Any:
        import simple_websocket  # type: ignore[import-untyped,unused-ignore]

        srv = self.engineio_server
        got = srv._native.host_websocket_blocking(target, headers, remote, secure)
        if isinstance(got, tuple):
            status, rheaders, body = got
            start_response(_status_line(status), rheaders)
            return [body]
        sock = simple_websocket.Server(environ, max_message_size=srv._max_http_buffer_size)
        # A handle of our own on the connection: simple-websocket closes its
        # socket object when it stops, while the WSGI server's buffered
        # reader keeps the descriptor open.
        raw: Any = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        try:
            mine: Optional[socket.socket] = raw.dup()
        except (OSError, AttributeError):
            mine = None
        _pump_threads(got, sock)
        # The peer sees the end now, and the WSGI server reads no further
        # "request" from a connection that was the WebSocket's.
        if mine is not None:
            try:
                mine.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            mine.close()
        # Tell the WSGI server not to
        # write a response on it (as simple-websocket users do).
        if sock.mode == "werkzeug":
            raise ConnectionError("websocket closed")
        if sock.mode == "gunicorn":
            raise StopIteration()
        return []


class _Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _pump_threads(ws: Any, sock: Any) -> None:
    """Moves messages both ways between a simple-websocket connection and
    the engine, on this thread and one more, until either side ends."""

    def up() -> None:
        while True:
            try:
                # Short: see below (the peer's ping timeout may be short too).
                data = sock.receive(timeout=0.1)
            except Exception:  # ConnectionClosed
                code = getattr(sock, "close_reason", None) or 1005
                ws.send_blocking(CLOSE, code if isinstance(code, int) else 1005)
                return
            if data is None:
                # simple-websocket stops reading without a ConnectionClosed
                # when a message is over max_message_size (it sent 1009).
                reader = getattr(sock, "thread", None)
                if not sock.connected or (reader is not None and not reader.is_alive()):
                    ws.send_blocking(CLOSE, 1009)
                    return
                continue
            kind = TEXT if isinstance(data, str) else BINARY
            if not ws.send_blocking(kind, data):
                return

    t = threading.Thread(target=up, name="oxsio-ws-in", daemon=True)
    t.start()
    try:
        while True:
            batch = ws.recv_blocking(None)
            if not batch:
                break
            for kind, data in batch:
                if kind == CLOSE:
                    raise _Closed(data)
                sock.send(data)
    except _Closed as c:
        try:
            sock.close(reason=c.code)
        except Exception:
            pass
    except Exception as e:
        logger.debug("oxsio: websocket ended: %r", e)
    finally:
        try:
            sock.close()
        except Exception:
            pass
        ws.send(CLOSE, 1006)
        t.join(timeout=2)
