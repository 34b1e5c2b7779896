"""The server of the benchmark, in one of five implementations, all with
the same Python handlers: ``echo(sid, data)`` emits ``echo`` back to the
sender; ``fan(sid, data)`` broadcasts ``fanout`` to every client.

    python echo_server.py IMPL PORT

IMPL: ``oxsio`` (threads, own listener), ``oxsio-async`` (asyncio, own
listener), ``python-socketio`` (aiohttp), ``oxsio-asgi`` and
``python-socketio-asgi`` (each one's ``ASGIApp`` under uvicorn, one worker).
Prints "ready" once listening; runs until killed.
"""

import asyncio
import sys

impl, port = sys.argv[1], int(sys.argv[2])


def async_handlers(sio):
    @sio.event
    async def echo(sid, data):
        await sio.emit("echo", data, to=sid)

    @sio.event
    async def fan(sid, data):
        await sio.emit("fanout", data)


async def serve_uvicorn(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await task


if impl == "oxsio":
    import oxsio

    sio = oxsio.Server()

    @sio.event
    def echo(sid, data):
        sio.emit("echo", data, to=sid)

    @sio.event
    def fan(sid, data):
        sio.emit("fanout", data)

    sio.start("127.0.0.1", port)
    print("ready", flush=True)
    sio.wait()

elif impl == "oxsio-async":
    import oxsio

    async def main() -> None:
        sio = oxsio.AsyncServer()
        async_handlers(sio)
        await sio.start("127.0.0.1", port)
        print("ready", flush=True)
        await sio.wait()

    asyncio.run(main())

elif impl == "oxsio-asgi":
    import oxsio

    sio = oxsio.AsyncServer()
    async_handlers(sio)
    asyncio.run(serve_uvicorn(oxsio.ASGIApp(sio)))

elif impl == "python-socketio-asgi":
    import socketio

    sio = socketio.AsyncServer(async_mode="asgi")
    async_handlers(sio)
    asyncio.run(serve_uvicorn(socketio.ASGIApp(sio)))

elif impl == "python-socketio":
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")
    async_handlers(sio)
    app = web.Application()
    sio.attach(app)

    async def main() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
else:
    sys.exit(f"unknown implementation {impl}")
