"""The echo server of the benchmark, in one of three implementations, all
with the same Python handler: ``echo(sid, data)`` emits ``echo`` back.

    python echo_server.py {oxsio,oxsio-async,python-socketio} PORT
Prints "ready" once listening; runs until killed.
"""

import asyncio
import sys

impl, port = sys.argv[1], int(sys.argv[2])

if impl == "oxsio":
    import oxsio

    sio = oxsio.Server()

    @sio.event
    def echo(sid, data):
        sio.emit("echo", data, to=sid)

    sio.start("127.0.0.1", port)
    print("ready", flush=True)
    sio.wait()

elif impl == "oxsio-async":
    import oxsio

    async def main() -> None:
        sio = oxsio.AsyncServer()

        @sio.event
        async def echo(sid, data):
            await sio.emit("echo", data, to=sid)

        await sio.start("127.0.0.1", port)
        print("ready", flush=True)
        await sio.wait()

    asyncio.run(main())

elif impl == "python-socketio":
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")

    @sio.event
    async def echo(sid, data):
        await sio.emit("echo", data, to=sid)

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
