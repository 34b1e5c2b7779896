"""The GIL is released while Rust waits; Ctrl-C interrupts the blocking calls."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import oxsio
from conftest import wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-u", "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(proc: subprocess.Popen, marker: str, timeout: float = 10) -> str:
    out = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    proc.kill()
    raise AssertionError(f"no {marker!r} in {''.join(out)!r}")


def interrupt(proc: subprocess.Popen, timeout: float = 5) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("Ctrl-C did not stop the process")
    return out


@pytest.mark.parametrize("cls", ["Server", "AsyncServer"])
def test_ctrl_c_stops_server_run(cls: str) -> None:
    port = free_port()
    proc = spawn(
        f"""
        import oxsio
        sio = oxsio.{cls}()
        sio.on("connect", lambda sid, env: print("connected", flush=True))
        print("starting", flush=True)
        sio.run("127.0.0.1", {port})
        print("run returned", flush=True)
        """
    )
    read_until(proc, "starting")
    c = oxsio.Client(reconnection=False)
    wait_for(lambda: _try_connect(c, port), timeout=10, what="the server")
    out = interrupt(proc)
    assert "run returned" in out, out
    assert proc.returncode == 0
    wait_for(lambda: not c.connected, what="the client to see the server stop")
    c.shutdown()


def _try_connect(c: oxsio.Client, port: int) -> bool:
    try:
        c.connect(f"http://127.0.0.1:{port}")
        return True
    except oxsio.ConnectionError:
        return False


@pytest.mark.parametrize("blocking_call", ["wait()", "call('never', timeout=30)"])
def test_ctrl_c_interrupts_client_wait_and_call(server: oxsio.Server, url: str, blocking_call: str) -> None:
    server.on("never", lambda sid: time.sleep(10))
    proc = spawn(
        f"""
        import oxsio
        c = oxsio.Client()
        c.connect({url!r})
        try:
            print("connected", flush=True)
            c.{blocking_call}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    read_until(proc, "connected")
    time.sleep(0.2)
    out = interrupt(proc)
    assert "interrupted" in out, out
    assert proc.returncode == 0


def test_ctrl_c_interrupts_server_wait() -> None:
    proc = spawn(
        """
        import oxsio
        sio = oxsio.Server()
        sio.start()
        try:
            print("started", flush=True)
            sio.wait()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        sio.close()
        print("closed", flush=True)
        """
    )
    read_until(proc, "started")
    out = interrupt(proc)
    assert "interrupted" in out and "closed" in out, out


def test_gil_is_released_while_blocking(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    server.on("slow", lambda sid: time.sleep(0.5) or "done")
    client.connect(url)
    count = 0
    stop = False

    def spin() -> None:
        nonlocal count
        while not stop:
            count += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = count
        assert client.call("slow", timeout=5) == "done"
        during = count - before
    finally:
        stop = True
        t.join()
    # A thread holding the GIL for the whole call would leave ~0 here.
    assert during > 10_000, during


def test_handlers_run_on_the_handler_pool(server: oxsio.Server, url: str, client: oxsio.Client) -> None:
    """async_handlers=True (python-socketio's default): the pool's threads."""
    threads = set()
    server.on("t", lambda sid: threads.add(threading.current_thread().name))
    client.connect(url)
    for _ in range(20):
        client.emit("t")
    client.call("t")
    assert threads and all(t.startswith("oxsio-handler") for t in threads), threads
    assert threading.current_thread().name not in threads
    assert os.getpid() > 0


def test_handlers_run_on_one_dispatcher_thread_without_async_handlers() -> None:
    server = oxsio.Server(async_handlers=False)
    port = server.start("127.0.0.1", 0)
    client = oxsio.Client()
    try:
        threads = set()
        server.on("t", lambda sid: threads.add(threading.current_thread().name))
        client.connect(f"http://127.0.0.1:{port}")
        for _ in range(20):
            client.emit("t")
        client.call("t")
        assert threads == {"oxsio-server"}
    finally:
        client.disconnect()
        server.close()
