"""The interop test app of tests/interop/APP.md, written with oxsio's Python
API, so the official JS client and python-socketio scenarios run against
a Python-hosted oxsio server.

Run standalone: python interop_app.py [port]
"""

from __future__ import annotations

import sys
from typing import Any

import oxsio

# python-socketio reason names back to the official server's (APP.md).
JS_REASONS = {
    "client disconnect": "client namespace disconnect",
    "server disconnect": "server namespace disconnect",
}


def build(ping_interval: float = 0.3, ping_timeout: float = 0.2, serializer: str = "default") -> oxsio.Server:
    sio = oxsio.Server(
        serializer=serializer,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_http_buffer_size=100_000,
        namespaces=["/", "/admin"],
    )

    @sio.event
    def connect(sid: str, environ: dict, auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("token") == "bad":
            raise oxsio.ConnectionRefusedError("unauthorized", {"reason": "bad token"})
        sio.enter_room(sid, "all")
        if isinstance(auth, dict) and isinstance(auth.get("room"), str):
            sio.enter_room(sid, auth["room"])
        sio.emit("welcome", {"sid": sid, "auth": auth}, to=sid)

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        sio.emit("peer-disconnect", {"sid": sid, "reason": JS_REASONS.get(reason, reason)}, to="observers")

    @sio.on("echo")
    def echo(sid: str, *args: Any) -> None:
        sio.emit("echo", args, to=sid)

    @sio.on("echo-ack")
    def echo_ack(sid: str, *args: Any) -> Any:
        return args

    @sio.on("ask-client")
    def ask_client(sid: str, data: Any = None) -> None:
        def ask() -> None:
            try:
                reply = sio.call("question", data, to=sid, timeout=5)
            except oxsio.SocketIOError as e:
                sio.emit("answer-error", str(e), to=sid)
                return
            args = reply if isinstance(reply, tuple) else (() if reply is None else (reply,))
            sio.emit("answer", args, to=sid)

        sio.start_background_task(ask)

    @sio.on("join")
    def join(sid: str, room: str) -> Any:
        sio.enter_room(sid, room)
        return "joined", room

    @sio.on("leave")
    def leave(sid: str, room: str) -> Any:
        sio.leave_room(sid, room)
        return "left", room

    @sio.on("to-room")
    def to_room(sid: str, room: str, event: str, data: Any = None) -> None:
        sio.emit(event, data, to=room)

    @sio.on("to-room-except")
    def to_room_except(sid: str, room: str, except_room: str, event: str, data: Any = None) -> None:
        sio.of("/").to(room).except_(except_room).emit(event, data)

    @sio.on("broadcast")
    def broadcast(sid: str, event: str, data: Any = None) -> None:
        sio.emit(event, data, skip_sid=sid)

    @sio.on("disconnect-me")
    def disconnect_me(sid: str, *args: Any) -> None:
        sio.disconnect(sid)

    @sio.on("observe")
    def observe(sid: str, *args: Any) -> None:
        sio.enter_room(sid, "observers")

    @sio.on("size")
    def size(sid: str, data: Any = None) -> int:
        if isinstance(data, str):
            return len(data.encode("utf-8"))
        if isinstance(data, bytes):
            return len(data)
        return 0

    @sio.on("connect", namespace="/admin")
    def admin_connect(sid: str, environ: dict, auth: Any) -> None:
        sio.enter_room(sid, "admins", namespace="/admin")
        sio.emit("welcome", {"sid": sid, "nsp": "/admin"}, to=sid, namespace="/admin")

    @sio.on("echo", namespace="/admin")
    def admin_echo(sid: str, *args: Any) -> None:
        sio.emit("echo", args, to=sid, namespace="/admin")

    return sio


if __name__ == "__main__":
    build().run("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
