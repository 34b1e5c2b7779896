"""python-socketio (aiohttp) server for the Rust client's interop test.

Usage: python python_server.py <port>   (0 = any; prints "listening <port>")

App: on connect, emits "welcome" {"sid": sid}; "echo" (*args) -> emits "echo"
back with the same args; "ask" (data) -> server `call("question", data)` to the
client, then emits "answer" with the client's reply; "echo-ack" handler returns
its args as the ack.
"""
import asyncio
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=1, ping_timeout=1)
app = web.Application()
sio.attach(app)


@sio.event
async def connect(sid, environ, auth):
    await sio.emit("welcome", {"sid": sid, "auth": auth}, to=sid)


@sio.event
async def echo(sid, *args):
    await sio.emit("echo", args if len(args) != 1 else args[0], to=sid)


@sio.on("echo-ack")
async def echo_ack(sid, *args):
    return args


@sio.event
async def ask(sid, data):
    reply = await sio.call("question", data, to=sid, timeout=5)
    await sio.emit("answer", reply, to=sid)


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
