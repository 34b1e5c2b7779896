"""``logger=`` / ``engineio_logger=``: the Rust core's log records reach
Python ``logging``. Engine.IO records go to the ``engineio_logger`` (default
``oxsio.engineio``), the rest to the ``logger`` (default ``oxsio.socketio``),
with python-socketio's semantics: ``True`` sets INFO and ``False`` ERROR on
a default logger whose level is unset; a ``logging.Logger`` is used as is."""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional, Tuple

from . import _native

_routes: Dict[str, logging.Logger] = {}
_lock = threading.Lock()
_thread: Optional[threading.Thread] = None


def _resolve(value: Any, name: str, option: str) -> logging.Logger:
    if isinstance(value, logging.Logger):
        return value
    if not isinstance(value, bool):
        raise TypeError(f"{option} must be a bool or a logging.Logger, not {type(value).__name__}")
    log = logging.getLogger(name)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO if value else logging.ERROR)
        if not log.handlers and not logging.getLogger().handlers:
            log.addHandler(logging.StreamHandler())
    return log


def _drain() -> None:
    while True:
        try:
            records = _native.next_logs(1.0)
        except BaseException:  # interpreter shutting down
            return
        for level, target, message in records:
            engine = "::engineio" in target
            log = _routes.get("engineio" if engine else "socketio")
            if log is not None and log.isEnabledFor(level):
                log.log(level, "%s [%s]", message, target)


def configure(logger: Any, engineio_logger: Any) -> Tuple[logging.Logger, logging.Logger]:
    """The two loggers of a server or client; starts forwarding the core's
    records at the lowest level either one wants."""
    global _thread
    sio_log = _resolve(logger, "oxsio.socketio", "logger")
    eio_log = _resolve(engineio_logger, "oxsio.engineio", "engineio_logger")
    with _lock:
        # The last server or client configured names the destination.
        _routes["socketio"] = sio_log
        _routes["engineio"] = eio_log
        level = min(sio_log.getEffectiveLevel(), eio_log.getEffectiveLevel())
        _native.enable_logs(max(level, logging.DEBUG))
        if _thread is None:
            _thread = threading.Thread(target=_drain, name="oxsio-logs", daemon=True)
            _thread.start()
    return sio_log, eio_log
