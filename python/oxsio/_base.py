"""Pieces shared by the servers and clients: handler registration and
lookup (python-socketio's rules), argument conventions, the dispatcher
thread. No protocol here: that runs in Rust."""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from . import _native

logger = logging.getLogger("oxsio")

F = TypeVar("F", bound=Callable[..., Any])

# First item of each native event tuple.
SRV_CONNECT, SRV_EVENT, SRV_DISCONNECT, SRV_ACK = 0, 1, 2, 3
MARK = 6
CLI_CONNECTED, CLI_EVENT, CLI_DISCONNECTED, CLI_ACK, CLI_CONNECT_ERROR, CLI_AUTH = (
    0,
    1,
    2,
    3,
    4,
    5,
)


def to_args(data: Any) -> List[Any]:
    """python-socketio's convention: None is no argument, a tuple is several."""
    if data is None:
        return []
    if isinstance(data, tuple):
        return list(data)
    return [data]


def ack_result(args: List[Any]) -> Any:
    """What `call()` returns: None, the single value, or a tuple."""
    if len(args) > 1:
        return tuple(args)
    if len(args) == 1:
        return args[0]
    return None


def refusal(exc: BaseException) -> Tuple[str, Any]:
    """(message, data) of a ConnectionRefusedError raised by a connect handler."""
    if not isinstance(exc, _native.ConnectionRefusedError):
        return "Connection refused by server", None
    args = exc.args
    if len(args) == 0:
        return "Connection rejected by server", None
    if len(args) == 1:
        return str(args[0]), None
    if len(args) == 2:
        return str(args[0]), args[1]
    return str(args[0]), list(args[1:])


_accepts_cache: Dict[Tuple[Any, int], bool] = {}


def accepts(fn: Callable[..., Any], n: int) -> bool:
    """Can `fn` be called with `n` positional arguments?"""
    key = (fn, n)
    try:
        return _accepts_cache[key]
    except (KeyError, TypeError):
        pass
    try:
        inspect.signature(fn).bind(*range(n))
        ok = True
    except TypeError:
        ok = False
    except ValueError:  # no signature available (builtins): assume yes
        ok = True
    try:
        _accepts_cache[key] = ok
    except TypeError:  # unhashable callable
        pass
    return ok


def call_compat(fn: Callable[..., Any], *args: Any) -> Any:
    """Calls `fn` with `args`, or without the last one when it takes fewer
    (legacy `connect(sid, environ)`, `disconnect(sid)` handlers)."""
    if args and not accepts(fn, len(args)) and accepts(fn, len(args) - 1):
        return fn(*args[:-1])
    return fn(*args)


class Barriers:
    """Waits until the dispatcher has run every handler queued before now."""

    def __init__(self) -> None:
        self._events: Dict[int, Any] = {}
        self._next = 0
        self._lock = threading.Lock()

    def reached(self, mark: int) -> None:
        ev = self._events.pop(mark, None)
        if ev is not None:
            ev.set()

    def wait(self, native: Any, thread: Optional[threading.Thread], timeout: float = 2.0) -> None:
        """Blocks (bounded) until the dispatcher `thread` reaches this point."""
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return
        ev = threading.Event()
        with self._lock:
            self._next += 1
            mark = self._next
            self._events[mark] = ev
        native.mark(mark)
        ev.wait(timeout)
        self._events.pop(mark, None)

    async def wait_async(self, native: Any, loop: Any, timeout: float = 2.0) -> None:
        """Awaits (bounded) until the loop has run every queued handler."""
        import asyncio

        fut = loop.create_future()
        with self._lock:
            self._next += 1
            mark = self._next
            self._events[mark] = _FutureSetter(loop, fut)
        native.mark(mark)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        self._events.pop(mark, None)


class _FutureSetter:
    def __init__(self, loop: Any, fut: Any) -> None:
        self.loop, self.fut = loop, fut

    def set(self) -> None:
        if not self.fut.done():
            self.fut.set_result(None)


class NotHandled:
    """Marker: no handler took the event."""


NOT_HANDLED = NotHandled()


class Registry:
    """Event handler registration and lookup, as python-socketio does it."""

    reserved_events: Tuple[str, ...] = ()

    def __init__(self) -> None:
        self.handlers: Dict[str, Dict[str, Callable[..., Any]]] = {}
        self.namespace_handlers: Dict[str, Any] = {}

    def _namespace_added(self, namespace: str) -> None:
        """Hook: a handler now exists for `namespace`."""

    def on(
        self,
        event: str,
        handler: Optional[Callable[..., Any]] = None,
        namespace: Optional[str] = None,
    ) -> Any:
        """Registers `handler` for `event` (or, without `handler`, returns a
        decorator). `'*'` as event catches every event without a handler of
        its own; `'*'` as namespace catches every namespace."""
        if not isinstance(event, str):
            raise TypeError(f"event name must be str, not {type(event).__name__}")
        ns = namespace or "/"

        def set_handler(h: F) -> F:
            if not callable(h):
                raise TypeError("handler must be callable")
            self.handlers.setdefault(ns, {})[event] = h
            self._namespace_added(ns)
            return h

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a function under its own name:
        ``@sio.event`` or ``@sio.event(namespace='/chat')``."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(h: F) -> F:
            return self.on(h.__name__, *args, **kwargs)(h)  # type: ignore[no-any-return]

        return set_handler

    def register_namespace(self, namespace_handler: Any) -> None:
        """Registers a class-based namespace (a `Namespace` subclass instance)."""
        from ._namespace import BaseNamespace

        if not isinstance(namespace_handler, BaseNamespace):
            raise ValueError("Not a namespace instance")
        namespace_handler._set_owner(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler
        self._namespace_added(namespace_handler.namespace)

    def _get_event_handler(
        self, event: str, namespace: str, args: Tuple[Any, ...]
    ) -> Tuple[Optional[Callable[..., Any]], Tuple[Any, ...]]:
        handler = None
        hs = self.handlers.get(namespace)
        if hs is not None:
            handler = hs.get(event)
            if handler is None and event not in self.reserved_events and "*" in hs:
                handler = hs["*"]
                args = (event, *args)
        if handler is None and "*" in self.handlers:
            hs = self.handlers["*"]
            if event in hs:
                handler = hs[event]
                args = (namespace, *args)
            elif event not in self.reserved_events and "*" in hs:
                handler = hs["*"]
                args = (event, namespace, *args)
        return handler, args

    def _trigger(self, event: str, namespace: str, *args: Any) -> Any:
        """Runs the handler of `event`; NOT_HANDLED when there is none."""
        handler, hargs = self._get_event_handler(event, namespace, args)
        if handler is not None:
            if event in ("connect", "disconnect"):
                return call_compat(handler, *hargs)
            return handler(*hargs)
        nh, hargs = self._get_namespace_handler(namespace, args)
        if nh is not None:
            return nh.trigger_event(event, *hargs)
        return NOT_HANDLED

    def _get_namespace_handler(
        self, namespace: str, args: Tuple[Any, ...]
    ) -> Tuple[Any, Tuple[Any, ...]]:
        handler = self.namespace_handlers.get(namespace)
        if handler is None and "*" in self.namespace_handlers:
            handler = self.namespace_handlers["*"]
            args = (namespace, *args)
        return handler, args


def start_dispatcher(
    native: Any, owner: Any, deliver: str, name: str
) -> threading.Thread:
    """Starts the thread that drains `native`'s events and hands each batch
    to ``owner.<deliver>(batch)``. It holds `owner` weakly and stops when
    the native side is closed or `owner` is gone."""
    ref = weakref.ref(owner)

    def run() -> None:
        while True:
            try:
                batch = native.next_events(0.25)
            except BaseException:  # interpreter shutting down
                return
            if batch is None:
                return
            me = ref()
            if me is None:
                try:
                    native.close()
                except BaseException:
                    pass
                return
            if batch:
                try:
                    getattr(me, deliver)(batch)
                except RuntimeError:  # the event loop is closed
                    if getattr(me, "_loop_closed", lambda: False)():
                        return
                    logger.exception("oxsio: error while dispatching events")
                except Exception:
                    logger.exception("oxsio: error while dispatching events")
            del me

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t


def start_loop_dispatcher(native: Any, owner: Any, name: str) -> threading.Thread:
    """Starts the thread that wakes `owner`'s event loop when events wait:
    it only waits (GIL released) and calls ``loop.call_soon_threadsafe``;
    the loop takes and converts the events itself (``owner._drain``), so
    the two threads do not pass the GIL back and forth per batch."""
    ref = weakref.ref(owner)

    def run() -> None:
        while True:
            try:
                ready = native.prefetch(0.25)
            except BaseException:  # interpreter shutting down
                return
            if ready is None:
                return
            me = ref()
            if me is None:
                try:
                    native.close()
                except BaseException:
                    pass
                return
            if not ready:
                del me
                continue
            loop = me._loop
            done = threading.Event()
            try:
                loop.call_soon_threadsafe(me._drain, done)
            except (RuntimeError, AttributeError):  # the loop is closed or gone
                return
            del me
            while not done.wait(0.25):
                me = ref()
                if me is None or me._loop_closed():
                    return
                del me

    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t


class LoopDrain:
    """Mixin of the asyncio classes: the loop side of start_loop_dispatcher."""

    _native: Any
    _loop: Any

    def _dispatch(self, batch: List[Tuple[Any, ...]]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _loop_closed(self) -> bool:
        return self._loop is None or bool(self._loop.is_closed())

    def _drain(self, done: threading.Event) -> None:
        try:
            batch = self._native.next_events(0, 4096)
            if batch:
                self._dispatch(batch)
        except Exception:
            logger.exception("oxsio: error while dispatching events")
        finally:
            done.set()
