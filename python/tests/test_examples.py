"""The examples of examples/python run against the example chat server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Iterator

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "python")


def run(*args: str, stdin: str = "", timeout: float = 30) -> str:
    proc = subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=EXAMPLES
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def chat_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-u", "chat_server.py", "--port", "0"],
        cwd=EXAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://\S+)", line)
    assert m, line
    yield m.group(1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "stopped" in out


@pytest.mark.timeout(60)
def test_chat_client(chat_url: str) -> None:
    out = run("chat_client.py", "alice", "--url", chat_url, stdin="hello\n/join den\n/who\nbye\n")
    assert "connected as alice" in out
    assert "(delivered to 0)" in out
    assert "-> ('joined', 'den')" in out
    assert "in the room: alice" in out
    assert "disconnected (client disconnect)" in out


@pytest.mark.timeout(60)
def test_chat_client_refused_without_name(chat_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "chat_client.py", "", "--url", chat_url], input="", capture_output=True, text=True,
        timeout=30, cwd=EXAMPLES,
    )
    assert proc.returncode != 0
    assert "a name is required" in proc.stdout + proc.stderr


@pytest.mark.timeout(60)
def test_async_client(chat_url: str) -> None:
    out = run("async_client.py", "--url", chat_url)
    assert "joined: ('joined', 'asyncio') ('joined', 'asyncio')" in out
    assert "who: ['async-alice', 'bot']" in out
    assert "alice got 'hello from the bot' from bot; bot's ack: {'delivered_to': 1}" in out
    assert "done" in out


@pytest.mark.timeout(60)
def test_poll_loop(chat_url: str) -> None:
    out = run("poll_loop.py", "--url", chat_url, "--frames", "150")
    assert "npc: npc says hi at frame 0" in out
    m = re.search(r"150 frames, (\d+) chat messages", out)
    assert m and int(m.group(1)) >= 2, out
