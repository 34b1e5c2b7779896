"""AsyncClient: handlers run on the application's asyncio event loop."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, List, Optional, Set, Union

from . import _native
from ._base import LoopDrain, ack_result, start_loop_dispatcher
from ._client import _ClientBase


class AsyncClient(_ClientBase, LoopDrain):
    """A Socket.IO client with python-socketio's asyncio API. Handlers
    (plain functions or coroutines) run on the loop that called `connect`."""

    _is_async = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set["asyncio.Task[Any]"] = set()

    def _spawn(self, coro: Any) -> "asyncio.Task[Any]":
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _sync(self) -> None:
        """Returns once the handlers of the events queued so far have run
        (coroutine connect / connect_error handlers included)."""
        t = self._thread
        if t is not None and t.is_alive() and self._loop is asyncio.get_running_loop():
            await self._barriers.wait_async(self._native, self._loop)
        tasks, self._handshake_tasks = self._handshake_tasks, []
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def connect(
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
        """As `Client.connect`; `auth` may also be a coroutine function."""
        self._loop = asyncio.get_running_loop()
        self._start_connect(url, headers, auth, transports, namespaces, socketio_path, retry)
        if self._thread is None:
            self._thread = start_loop_dispatcher(self._native, self, "oxsio-async-client")
        if not wait:
            return
        deadline = self._loop.time() + float(wait_timeout) + self._request_timeout
        try:
            while True:
                if self._native.wait_connected(0):
                    await self._sync()  # the connect handlers have run
                    return
                if self._loop.time() >= deadline and not (retry and self._native.active):
                    break
                await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            self._native.disconnect()
            raise
        except BaseException:
            self._native.disconnect()
            await self._sync()  # the connect_error handlers have run
            raise
        self._native.disconnect()
        raise _native.ConnectionError("Connection timed out")

    async def wait(self) -> None:
        """Returns once the connection ends and no reconnection is under way."""
        while self._native.active:
            await asyncio.sleep(0.05)
        await self._sync()

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: Optional[str] = None,
        callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        """As `Client.emit`; `callback` may be a coroutine function."""
        self._emit(event, data, namespace, callback)

    async def send(self, data: Any, namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None) -> None:
        """Sends the ``message`` event."""
        self._emit("message", data, namespace, callback)

    async def call(self, event: str, data: Any = None, namespace: Optional[str] = None, timeout: float = 60) -> Any:
        """Sends `event` and returns the server's acknowledgement."""
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

        self._emit(event, data, namespace, done, failed, float(timeout))
        return await asyncio.wait_for(fut, float(timeout) + 1)

    async def disconnect(self) -> None:
        """Disconnects every namespace (the disconnect handlers run before
        this returns); no reconnection follows."""
        self._native.disconnect()
        await self._sync()

    async def shutdown(self) -> None:
        """Disconnects and ends the dispatcher thread."""
        self._native.disconnect()
        self._native.close()
        t = self._thread
        if t is not None:
            await asyncio.get_running_loop().run_in_executor(None, t.join, 5)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.shutdown()

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Task[Any]":
        """Runs the coroutine function `target` as a task."""
        return self._spawn(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """asyncio.sleep."""
        await asyncio.sleep(seconds)
