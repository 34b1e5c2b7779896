"""SimpleClient / AsyncSimpleClient: python-socketio's request/response style
clients (``receive()`` instead of handlers), on top of Client / AsyncClient."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, List, Optional, Union

from . import _native
from ._async_client import AsyncClient
from ._client import Client


class SimpleClient:
    """A client without handlers: ``emit``, ``call`` and ``receive()``.
    Constructor arguments go to `Client`. While a reconnection is under way,
    ``emit`` and ``call`` wait for it."""

    client_class = Client

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client_args = args
        self.client_kwargs = kwargs
        self.client: Optional[Client] = None
        self.namespace = "/"
        self.connected = False
        self._connected_event = threading.Event()
        self._input: List[List[Any]] = []
        self._input_cv = threading.Condition()

    def connect(
        self,
        url: str,
        headers: Any = {},
        auth: Any = None,
        transports: Optional[List[str]] = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connects to `url` on `namespace`."""
        if self.connected:
            raise RuntimeError("Already connected")
        self.namespace = namespace
        self._input = []
        client = self.client = self.client_class(*self.client_args, **self.client_kwargs)

        def connect() -> None:
            self.connected = True
            self._connected_event.set()

        def disconnect(reason: str) -> None:
            if client._native.active:  # reconnecting: emit/call wait
                self._connected_event.clear()
            else:
                self.connected = False
                self._connected_event.set()
            with self._input_cv:
                self._input_cv.notify_all()

        def on_event(event: str, *args: Any) -> None:
            with self._input_cv:
                self._input.append([event, *args])
                self._input_cv.notify_all()

        client.on("connect", connect, namespace=namespace)
        client.on("disconnect", disconnect, namespace=namespace)
        client.on("*", on_event, namespace=namespace)
        client.connect(url, headers=headers, auth=auth, transports=transports,
                       namespaces=[namespace], socketio_path=socketio_path, wait_timeout=wait_timeout)
        self.connected = True
        self._connected_event.set()

    @property
    def sid(self) -> Optional[str]:
        """The session id of the namespace."""
        return self.client.get_sid(self.namespace) if self.client else None

    def _ready(self) -> Client:
        self._connected_event.wait()
        if not self.connected or self.client is None:
            raise _native.DisconnectedError()
        return self.client

    def emit(self, event: str, data: Any = None) -> None:
        """Sends an event (waits while reconnecting)."""
        while True:
            client = self._ready()
            try:
                return client.emit(event, data, namespace=self.namespace)
            except _native.BadNamespaceError:
                if not client._native.active:
                    raise _native.DisconnectedError() from None
                time.sleep(0.05)  # reconnecting

    def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Sends an event and returns the server's acknowledgement."""
        while True:
            client = self._ready()
            try:
                return client.call(event, data, namespace=self.namespace, timeout=timeout)
            except _native.BadNamespaceError:
                if not client._native.active:
                    raise _native.DisconnectedError() from None
                time.sleep(0.05)  # reconnecting

    def receive(self, timeout: Optional[float] = None) -> List[Any]:
        """The next event from the server as ``[event, *args]``; raises
        TimeoutError after `timeout` seconds, DisconnectedError once gone."""
        with self._input_cv:
            ok = self._input_cv.wait_for(lambda: bool(self._input) or not self.connected, timeout)
            if self._input:
                return self._input.pop(0)
        if not ok:
            raise _native.TimeoutError()
        raise _native.DisconnectedError()

    def disconnect(self) -> None:
        """Disconnects and releases the client."""
        if self.client is not None:
            self.client.shutdown()
            self.client = None
        self.connected = False
        self._connected_event.set()

    def __enter__(self) -> "SimpleClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()


class AsyncSimpleClient:
    """The asyncio flavour of `SimpleClient` (methods are coroutines)."""

    client_class = AsyncClient

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.client_args = args
        self.client_kwargs = kwargs
        self.client: Optional[AsyncClient] = None
        self.namespace = "/"
        self.connected = False
        self._input: "Optional[asyncio.Queue[Union[List[Any], None]]]" = None

    async def connect(
        self,
        url: str,
        headers: Any = {},
        auth: Any = None,
        transports: Optional[List[str]] = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connects to `url` on `namespace`."""
        if self.connected:
            raise RuntimeError("Already connected")
        self.namespace = namespace
        queue: "asyncio.Queue[Union[List[Any], None]]" = asyncio.Queue()
        self._input = queue
        client = self.client = self.client_class(*self.client_args, **self.client_kwargs)

        def disconnect(reason: str) -> None:
            if not client._native.active:
                self.connected = False
                queue.put_nowait(None)

        client.on("disconnect", disconnect, namespace=namespace)
        client.on("*", lambda event, *args: queue.put_nowait([event, *args]), namespace=namespace)
        await client.connect(url, headers=headers, auth=auth, transports=transports,
                             namespaces=[namespace], socketio_path=socketio_path, wait_timeout=wait_timeout)
        self.connected = True

    @property
    def sid(self) -> Optional[str]:
        """The session id of the namespace."""
        return self.client.get_sid(self.namespace) if self.client else None

    def _client(self) -> AsyncClient:
        if not self.connected or self.client is None:
            raise _native.DisconnectedError()
        return self.client

    async def emit(self, event: str, data: Any = None) -> None:
        """Sends an event."""
        await self._client().emit(event, data, namespace=self.namespace)

    async def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Sends an event and returns the server's acknowledgement."""
        return await self._client().call(event, data, namespace=self.namespace, timeout=timeout)

    async def receive(self, timeout: Optional[float] = None) -> List[Any]:
        """The next event from the server as ``[event, *args]``."""
        if self._input is None:
            raise _native.DisconnectedError()
        try:
            item = await asyncio.wait_for(self._input.get(), timeout)
        except asyncio.TimeoutError:
            raise _native.TimeoutError() from None
        if item is None:
            raise _native.DisconnectedError()
        return item

    async def disconnect(self) -> None:
        """Disconnects and releases the client."""
        if self.client is not None:
            await self.client.shutdown()
            self.client = None
        self.connected = False

    async def __aenter__(self) -> "AsyncSimpleClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.disconnect()
