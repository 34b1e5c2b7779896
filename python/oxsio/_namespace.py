"""Class-based namespaces: methods named ``on_<event>`` handle events."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._base import NOT_HANDLED, call_compat


class BaseNamespace:
    """Common base: routes ``event`` to the method ``on_<event>``."""

    def __init__(self, namespace: Optional[str] = None) -> None:
        self.namespace = namespace or "/"
        self._owner: Any = None

    def _set_owner(self, owner: Any) -> None:
        self._owner = owner

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Calls ``on_<event>(*args)``; returns NOT_HANDLED when there is none."""
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return NOT_HANDLED
        if event == "disconnect" or event == "connect":
            return call_compat(handler, *args)
        return handler(*args)


class Namespace(BaseNamespace):
    """A server namespace; its helpers default to this namespace."""

    @property
    def server(self) -> Any:
        return self._owner

    def emit(self, event: str, data: Any = None, to: Any = None, room: Any = None,
             skip_sid: Any = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> Any:
        return self._owner.emit(event, data=data, to=to, room=room, skip_sid=skip_sid,
                                namespace=namespace or self.namespace, callback=callback)

    def send(self, data: Any, to: Any = None, room: Any = None, skip_sid: Any = None,
             namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> Any:
        return self._owner.send(data, to=to, room=room, skip_sid=skip_sid,
                                namespace=namespace or self.namespace, callback=callback)

    def call(self, event: str, data: Any = None, to: Any = None, sid: Any = None,
             namespace: Optional[str] = None, timeout: float = 60) -> Any:
        return self._owner.call(event, data=data, to=to, sid=sid,
                                namespace=namespace or self.namespace, timeout=timeout)

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> Any:
        return self._owner.enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> Any:
        return self._owner.leave_room(sid, room, namespace=namespace or self.namespace)

    def close_room(self, room: str, namespace: Optional[str] = None) -> Any:
        return self._owner.close_room(room, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: Optional[str] = None) -> Any:
        return self._owner.rooms(sid, namespace=namespace or self.namespace)

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Any:
        return self._owner.get_session(sid, namespace=namespace or self.namespace)

    def save_session(self, sid: str, session: Any, namespace: Optional[str] = None) -> Any:
        return self._owner.save_session(sid, session, namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: Optional[str] = None) -> Any:
        return self._owner.session(sid, namespace=namespace or self.namespace)

    def disconnect(self, sid: str, namespace: Optional[str] = None) -> Any:
        return self._owner.disconnect(sid, namespace=namespace or self.namespace)


class AsyncNamespace(Namespace):
    """A namespace of an AsyncServer: helpers are coroutines, as the server's;
    ``on_<event>`` methods may be coroutines."""


class ClientNamespace(BaseNamespace):
    """A client namespace; its helpers default to this namespace."""

    @property
    def client(self) -> Any:
        return self._owner

    def emit(self, event: str, data: Any = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> Any:
        return self._owner.emit(event, data=data, namespace=namespace or self.namespace,
                                callback=callback)

    def send(self, data: Any, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None) -> Any:
        return self._owner.send(data, namespace=namespace or self.namespace, callback=callback)

    def call(self, event: str, data: Any = None, namespace: Optional[str] = None,
             timeout: float = 60) -> Any:
        return self._owner.call(event, data=data, namespace=namespace or self.namespace,
                                timeout=timeout)

    def disconnect(self) -> Any:
        return self._owner.disconnect()


class AsyncClientNamespace(ClientNamespace):
    """A namespace of an AsyncClient: helpers are coroutines, as the client's."""
