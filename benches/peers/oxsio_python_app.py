"""The benchmark app on oxsio hosted from Python (the `oxsio` module of
python/, installed in python/.venv), with its python-socketio-style
threaded `Server`.

On connect join room "all"; "echo" -> emit back to the sender; "broadcast"
-> emit to room "all", sender included. Prints "LISTENING <port>" once bound
on 127.0.0.1. Usage: python oxsio_python_app.py [--port N]
[--ping-interval-ms N] [--ping-timeout-ms N]
"""

import signal
import sys

import oxsio


def arg(name, default=None):
    if name in sys.argv:
        return int(sys.argv[sys.argv.index(name) + 1])
    return default


def main():
    kwargs = {}
    if arg("--ping-interval-ms"):
        kwargs["ping_interval"] = arg("--ping-interval-ms") / 1000
    if arg("--ping-timeout-ms"):
        kwargs["ping_timeout"] = arg("--ping-timeout-ms") / 1000
    sio = oxsio.Server(**kwargs)

    @sio.event
    def connect(sid, environ, auth=None):
        sio.enter_room(sid, "all")

    @sio.on("echo")
    def echo(sid, data):
        sio.emit("echo", data, to=sid)

    @sio.on("broadcast")
    def broadcast(sid, data):
        sio.emit("broadcast", data, room="all")

    port = sio.start("127.0.0.1", arg("--port", 0))
    print(f"LISTENING {port}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        sio.wait(0.2)
    sio.close()


if __name__ == "__main__":
    main()
