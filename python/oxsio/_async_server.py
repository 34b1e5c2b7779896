"""AsyncServer: handlers run on the application's asyncio event loop."""

from __future__ import annotations

import asyncio
import functools
import sys
from typing import Any, Callable, Dict, List, Optional, Set

from ._base import NOT_HANDLED, LoopDrain, ack_result, logger, start_loop_dispatcher, to_args
from ._server import BroadcastOperator, Rooms, _ServerBase


_EAGER = sys.version_info >= (3, 12)


class AsyncBroadcastOperator(BroadcastOperator):
    """`BroadcastOperator` whose emits are coroutines, as AsyncServer's."""

    async def emit(self, event: str, *args: Any) -> None:  # type: ignore[override]
        BroadcastOperator.emit(self, event, *args)

    async def send(self, *args: Any) -> None:  # type: ignore[override]
        BroadcastOperator.emit(self, "message", *args)

    async def fetch_sockets(self) -> List[str]:  # type: ignore[override]
        return BroadcastOperator.fetch_sockets(self)


class AsyncServer(_ServerBase, LoopDrain):
    """A Socket.IO server with python-socketio's asyncio API. Handlers (plain
    functions or coroutines) run on the event loop that called `start`."""

    _is_async = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self._stopped: Optional[asyncio.Event] = None
        self._watching = False

    # ---- bridging ---------------------------------------------------------

    def _spawn(self, coro: Any) -> "asyncio.Task[Any]":
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn_handler(self, aw: Any, name: str, ack: Any, sid: str = "") -> None:
        """Runs a coroutine handler as a task; its result answers `ack`.
        On Python 3.12+ the task starts eagerly: a handler that never
        suspends (e.g. one that only emits) finishes without a loop turn."""
        loop = self._loop or asyncio.get_running_loop()
        if not self.async_handlers:
            # One handler at a time per client, in arrival order.
            prev = self._serial.get(sid)
            aw = self._after(prev, aw)
        if not asyncio.iscoroutine(aw):
            task = asyncio.ensure_future(aw, loop=loop)
        elif _EAGER:
            task = asyncio.Task(aw, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        else:
            task = loop.create_task(aw)
        if not self.async_handlers:
            self._serial[sid] = task
            task.add_done_callback(lambda t, sid=sid: self._serial.pop(sid, None) if self._serial.get(sid) is t else None)
        if task.done():
            self._handler_done(name, ack, task)
        else:
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._handler_done, name, ack))

    @staticmethod
    async def _after(prev: Any, aw: Any) -> Any:
        if prev is not None and not prev.done():
            await asyncio.wait([prev])
        return await aw

    def _handler_done(self, name: str, ack: Any, task: "asyncio.Future[Any]") -> None:
        self._tasks.discard(task)  # type: ignore[arg-type,unused-ignore]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("oxsio: a handler raised (event %r)", name, exc_info=exc)
            return
        r = task.result()
        if ack is not None and r is not NOT_HANDLED:
            try:
                ack.send(self._out(to_args(r)))
            except Exception:
                logger.exception("oxsio: cannot send the acknowledgement of %r", name)

    # ---- serving ----------------------------------------------------------

    async def start(
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
        Handlers run on the current event loop.

        TLS: with `ssl_certfile` (PEM chain, leaf first) and `ssl_keyfile`
        (PEM key) it serves https / wss; `ssl_ca_certs` (PEM) asks clients
        for a certificate signed by these CAs, required unless
        `ssl_client_cert_optional`. Bad files raise ValueError."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        bound = self._native.listen(
            host, port, ssl_certfile, ssl_keyfile, ssl_ca_certs, ssl_client_cert_optional
        )
        if self._thread is None:
            self._thread = start_loop_dispatcher(self._native, self, "oxsio-async-server")
        return int(bound)

    def _serve_on_loop(self) -> None:
        """Serving through a host (ASGIApp, aiohttp): handlers run on the
        running loop, from the first request on. The loop itself watches the
        event queue's descriptor: no thread has to take the GIL to wake it."""
        if self._thread is None and not self._watching:
            self._loop = asyncio.get_running_loop()
            if self._stopped is None:
                self._stopped = asyncio.Event()
            self._loop.add_reader(self._native.events_fd(), self._events_ready)
            self._watching = True

    def _events_ready(self) -> None:
        self._native.events_ready()
        while True:
            try:
                batch = self._native.next_events(0, 4096)
            except Exception:
                logger.exception("oxsio: error while taking events")
                return
            if batch is None:  # closed
                if self._loop is not None:
                    self._loop.remove_reader(self._native.events_fd())
                self._watching = False
                return
            if batch:
                try:
                    self._dispatch(batch)
                except Exception:
                    logger.exception("oxsio: error while dispatching events")
            if len(batch) < 4096:
                return

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Serves this server under ``/socketio_path/`` of an aiohttp
        ``web.Application``, as python-socketio's ``attach``."""
        from ._mount import attach_aiohttp

        try:
            from aiohttp import web
        except ImportError:  # pragma: no cover
            raise TypeError("attach() takes an aiohttp web.Application (aiohttp is not installed)")
        if not isinstance(app, web.Application):
            raise TypeError(
                f"attach() takes an aiohttp web.Application, not {type(app).__name__}; "
                "for ASGI use oxsio.ASGIApp"
            )
        attach_aiohttp(self, app, socketio_path)

    async def handle_request(self, *args: Any) -> Any:
        """Answers one request addressed to the Socket.IO path: ASGI
        ``(scope, receive, send)`` or an aiohttp request, as python-socketio's
        ``AsyncServer.handle_request``."""
        from ._mount import ASGIApp

        if len(args) == 3:
            return await ASGIApp(self, socketio_path=self._engine_path)(*args)
        if len(args) == 1:
            from aiohttp import web

            app = web.Application()
            self.attach(app, self._engine_path)
            match = await app.router.resolve(args[0])
            return await match.handler(args[0])
        raise TypeError("handle_request takes (scope, receive, send) or an aiohttp request")

    async def stop(self) -> None:
        """Stops serving and disconnects every client."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._native.shutdown)
        t = self._thread
        if t is not None and t.is_alive() and self._loop is loop:
            await self._barriers.wait_async(self._native, loop)
        elif self._watching and self._loop is loop:
            # Hosted: the loop's reader runs the disconnect handlers.
            await self._barriers.wait_async(self._native, loop)
        if self._stopped is not None:
            self._stopped.set()

    shutdown = stop

    async def close(self) -> None:
        """Stops serving and ends the dispatcher thread (no restart)."""
        await self.stop()
        self._native.close()
        t = self._thread
        if t is not None:
            await asyncio.get_running_loop().run_in_executor(None, t.join, 5)

    async def wait(self) -> None:
        """Returns once the server is stopped."""
        if self._stopped is not None:
            await self._stopped.wait()

    async def serve(self, host: str = "127.0.0.1", port: int = 5000, **tls: Any) -> None:
        """Serves until cancelled or stopped; `tls` are the `ssl_*` options
        of `start()`."""
        await self.start(host, port, **tls)
        try:
            await self.wait()
        finally:
            await self.stop()

    def run(self, host: str = "127.0.0.1", port: int = 5000, **tls: Any) -> None:
        """Blocking: runs `serve` in a new event loop until Ctrl-C."""
        try:
            asyncio.run(self.serve(host, port, **tls))
        except KeyboardInterrupt:
            pass

    async def __aenter__(self) -> "AsyncServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def of(self, namespace: str) -> AsyncBroadcastOperator:
        """JS-style operations: ``await sio.of('/chat').to('r').emit(...)``."""
        return AsyncBroadcastOperator(self, namespace)

    # ---- python-socketio API ----------------------------------------------

    async def emit(
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
        """As `Server.emit`; `callback` may be a coroutine function."""
        self._emit(event, data, to, room, skip_sid, namespace, callback, local=ignore_queue)

    async def send(
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

    async def call(
        self,
        event: str,
        data: Any = None,
        to: Optional[str] = None,
        sid: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Sends `event` to one client and returns its acknowledgement."""
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        fut: "asyncio.Future[Any]" = loop.create_future()

        def done(*args: Any) -> None:
            if not fut.done():
                fut.set_result(ack_result(list(args)))

        def failed(exc: BaseException) -> None:
            if not fut.done():
                fut.set_exception(exc)

        self._emit(event, data, target, None, None, namespace, done, failed, float(timeout))
        return await asyncio.wait_for(fut, float(timeout) + 1)

    async def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Adds a client to a room."""
        self._native.enter_room(namespace or "/", sid, room)

    async def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Removes a client from a room."""
        self._native.leave_room(namespace or "/", sid, room)

    async def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Removes every client from a room."""
        self._native.close_room(namespace or "/", room)

    async def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The client's session dict."""
        return self._sessions.setdefault(self._session_key(sid, namespace), {})  # type: ignore[no-any-return]

    async def save_session(self, sid: str, session: Dict[str, Any], namespace: Optional[str] = None) -> None:
        """Replaces the client's session."""
        self._sessions[self._session_key(sid, namespace)] = session

    def session(self, sid: str, namespace: Optional[str] = None) -> Any:
        """``async with sio.session(sid) as s:`` edits and saves the session."""
        server = self

        class _Ctx:
            async def __aenter__(self) -> Dict[str, Any]:
                self.s = await server.get_session(sid, namespace)
                return self.s

            async def __aexit__(self, *exc: Any) -> None:
                await server.save_session(sid, self.s, namespace)

        return _Ctx()

    async def disconnect(self, sid: str, namespace: Optional[str] = None, ignore_queue: bool = False) -> None:
        """Disconnects a client from a namespace."""
        self._native.disconnect(namespace or "/", sid)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Task[Any]":
        """Runs the coroutine function `target` as a task."""
        return self._spawn(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """asyncio.sleep."""
        await asyncio.sleep(seconds)

