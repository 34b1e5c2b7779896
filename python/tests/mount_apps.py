"""The APP.md interop app (tests/interop/APP.md) on an AsyncServer, and the
host apps it is mounted in for test_mount.py, each beside a route of the
host's own (``/hello``):

- ``asgi``: ``oxsio.ASGIApp(sio, starlette_app)`` (uvicorn, hypercorn);
- ``fastapi``: a FastAPI app with ``app.mount("/", ASGIApp(sio))``;
- ``aiohttp_app()``: ``sio.attach(aiohttp_app)``;
- ``wsgi``: ``oxsio.WSGIApp(interop_app.build(), flask_app)`` (werkzeug,
  gunicorn threads).

``ORIGINS`` (env, comma-separated) sets ``cors_allowed_origins``.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import oxsio
from interop_app import JS_REASONS, build

PING = (2.0, 5.0)
_origins_env = os.environ.get("ORIGINS")
ORIGINS: Optional[Any] = _origins_env.split(",") if _origins_env else "*"


def build_async() -> oxsio.AsyncServer:
    # Heartbeats of the host's processes: the pongs pass through Python here,
    # so APP.md's 200 ms timeout would end sessions on a loaded machine (no
    # scenario depends on it).
    sio = oxsio.AsyncServer(
        ping_interval=PING[0],
        ping_timeout=PING[1],
        max_http_buffer_size=100_000,
        namespaces=["/", "/admin"],
        cors_allowed_origins=ORIGINS,
    )

    @sio.event
    async def connect(sid: str, environ: dict, auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("token") == "bad":
            raise oxsio.ConnectionRefusedError("unauthorized", {"reason": "bad token"})
        await sio.enter_room(sid, "all")
        if isinstance(auth, dict) and isinstance(auth.get("room"), str):
            await sio.enter_room(sid, auth["room"])
        await sio.emit("welcome", {"sid": sid, "auth": auth}, to=sid)

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        await sio.emit("peer-disconnect", {"sid": sid, "reason": JS_REASONS.get(reason, reason)}, to="observers")

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> None:
        await sio.emit("echo", args, to=sid)

    @sio.on("echo-ack")
    async def echo_ack(sid: str, *args: Any) -> Any:
        return args

    @sio.on("ask-client")
    async def ask_client(sid: str, data: Any = None) -> None:
        async def ask() -> None:
            try:
                reply = await sio.call("question", data, to=sid, timeout=5)
            except oxsio.SocketIOError as e:
                await sio.emit("answer-error", str(e), to=sid)
                return
            args = reply if isinstance(reply, tuple) else (() if reply is None else (reply,))
            await sio.emit("answer", args, to=sid)

        sio.start_background_task(ask)

    @sio.on("join")
    async def join(sid: str, room: str) -> Any:
        await sio.enter_room(sid, room)
        return "joined", room

    @sio.on("leave")
    async def leave(sid: str, room: str) -> Any:
        await sio.leave_room(sid, room)
        return "left", room

    @sio.on("to-room")
    async def to_room(sid: str, room: str, event: str, data: Any = None) -> None:
        await sio.emit(event, data, to=room)

    @sio.on("to-room-except")
    async def to_room_except(sid: str, room: str, except_room: str, event: str, data: Any = None) -> None:
        await sio.of("/").to(room).except_(except_room).emit(event, data)

    @sio.on("broadcast")
    async def broadcast(sid: str, event: str, data: Any = None) -> None:
        await sio.emit(event, data, skip_sid=sid)

    @sio.on("disconnect-me")
    async def disconnect_me(sid: str, *args: Any) -> None:
        await sio.disconnect(sid)

    @sio.on("observe")
    async def observe(sid: str, *args: Any) -> None:
        await sio.enter_room(sid, "observers")

    @sio.on("size")
    async def size(sid: str, data: Any = None) -> int:
        if isinstance(data, str):
            return len(data.encode("utf-8"))
        if isinstance(data, bytes):
            return len(data)
        return 0

    @sio.on("connect", namespace="/admin")
    async def admin_connect(sid: str, environ: dict, auth: Any) -> None:
        await sio.enter_room(sid, "admins", namespace="/admin")
        await sio.emit("welcome", {"sid": sid, "nsp": "/admin"}, to=sid, namespace="/admin")

    @sio.on("echo", namespace="/admin")
    async def admin_echo(sid: str, *args: Any) -> None:
        await sio.emit("echo", args, to=sid, namespace="/admin")

    @sio.on("crash")
    async def crash(sid: str, *args: Any) -> None:
        raise RuntimeError("a handler that raises")

    return sio


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> Any:
        return PlainTextResponse("hello from the host app")

    async def boom(request: Any) -> Any:
        raise RuntimeError("the host app's own bug")

    return Starlette(routes=[Route("/hello", hello), Route("/boom", boom)])


asgi = oxsio.ASGIApp(build_async(), _starlette())


def _fastapi() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> Any:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("hello from the host app")

    app.mount("/", oxsio.ASGIApp(build_async()))
    return app


fastapi = _fastapi()


def aiohttp_app(argv: Any = None) -> Any:
    from aiohttp import web

    app = web.Application()

    async def hello(request: Any) -> Any:
        return web.Response(text="hello from the host app")

    app.router.add_get("/hello", hello)
    build_async().attach(app)
    return app


def _flask() -> Any:
    from flask import Flask

    app = Flask("host")

    @app.route("/hello")
    def hello() -> str:
        return "hello from the host app"

    return app


def _wsgi_server() -> oxsio.Server:
    return build(*PING)


wsgi = oxsio.WSGIApp(_wsgi_server(), _flask())
