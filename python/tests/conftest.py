"""Fixtures: an oxsio server on 127.0.0.1 port 0 per test, and helpers."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable, Iterator, List

import pytest

import oxsio

# The tests must run against the installed module, not the source tree.
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
assert not os.path.dirname(oxsio.__file__).startswith(os.path.join(SRC, "oxsio")), oxsio.__file__


def wait_for(pred: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """Polls `pred` until truthy; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorder:
    """Thread-safe list of what handlers saw."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.lock = threading.Lock()

    def add(self, *item: Any) -> None:
        with self.lock:
            self.items.append(item if len(item) != 1 else item[0])

    def wait(self, n: int = 1, timeout: float = 5.0) -> List[Any]:
        wait_for(lambda: len(self.items) >= n, timeout, f"{n} item(s), have {self.items!r}")
        with self.lock:
            return list(self.items)

    def __len__(self) -> int:
        return len(self.items)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def server() -> Iterator[oxsio.Server]:
    """A started sync server (handlers may be added after start)."""
    sio = oxsio.Server(ping_interval=1, ping_timeout=2)
    sio.start("127.0.0.1", 0)
    yield sio
    sio.close()


@pytest.fixture
def url(server: oxsio.Server) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.fixture
def client() -> Iterator[oxsio.Client]:
    c = oxsio.Client(reconnection_delay=0.1, reconnection_delay_max=0.2)
    yield c
    c.shutdown()


NODE_MODULES = os.path.join(os.path.dirname(SRC), "tests", "interop", "node_modules")
PYTHON = sys.executable
