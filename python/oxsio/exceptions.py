"""python-socketio's exception names (``socketio.exceptions``)."""

from ._native import (
    BadNamespaceError,
    ConnectionError,
    ConnectionRefusedError,
    DisconnectedError,
    SocketIOError,
    TimeoutError,
)

__all__ = [
    "BadNamespaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "SocketIOError",
    "TimeoutError",
]
