"""The benchmark app on python-socketio with aiohttp (tests/interop/.venv:
run `bash tests/interop/setup.sh`).

On connect join room "all"; "echo" -> emit back to the sender; "broadcast"
-> emit to room "all", sender included. Prints "LISTENING <port>" once bound
on 127.0.0.1. Usage: python python_socketio_app.py [--port N]
[--ping-interval-ms N] [--ping-timeout-ms N]
"""

import asyncio
import signal
import sys

import socketio
from aiohttp import web


def arg(name, default=None):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


async def main():
    kwargs = {}
    if arg("--ping-interval-ms"):
        kwargs["ping_interval"] = arg("--ping-interval-ms") / 1000
    if arg("--ping-timeout-ms"):
        kwargs["ping_timeout"] = arg("--ping-timeout-ms") / 1000
    sio = socketio.AsyncServer(async_mode="aiohttp", **kwargs)
    app = web.Application()
    sio.attach(app)

    @sio.event
    async def connect(sid, environ, auth=None):
        await sio.enter_room(sid, "all")

    @sio.on("echo")
    async def echo(sid, *args):
        await sio.emit("echo", args[0] if len(args) == 1 else args, to=sid)

    @sio.on("broadcast")
    async def broadcast(sid, *args):
        await sio.emit("broadcast", args[0] if len(args) == 1 else args, room="all")

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", arg("--port", 0), backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
