"""Chat server: rooms, broadcasts, acknowledgements, sessions.

    python examples/python/chat_server.py [--port 3000]

Clients connect with auth {"name": ...}; they start in room "lobby".
Events: "join" (room) -> ack; "say" (text) -> everyone else in the room
gets "said"; the ack says how many got it; "who" -> ack with the names in
the room. Ctrl-C stops the server.
"""

import argparse
import logging

import oxsio

logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("chat")

sio = oxsio.Server(cors_allowed_origins="*")


@sio.event
def connect(sid, environ, auth):
    name = (auth or {}).get("name")
    if not isinstance(name, str) or not name:
        raise oxsio.ConnectionRefusedError("a name is required", {"hint": "auth={'name': ...}"})
    sio.save_session(sid, {"name": name, "room": "lobby"})
    sio.enter_room(sid, "lobby")
    sio.emit("said", {"from": "server", "text": f"{name} joined", "room": "lobby"}, to="lobby", skip_sid=sid)
    log.info("%s connected as %s", sid, name)


@sio.event
def join(sid, room):
    with sio.session(sid) as s:
        sio.leave_room(sid, s["room"])
        s["room"] = room
    sio.enter_room(sid, room)
    return "joined", room


@sio.event
def say(sid, text):
    s = sio.get_session(sid)
    room = s["room"]
    others = [x for x in sio.of("/").to(room).fetch_sockets() if x != sid]
    sio.emit("said", {"from": s["name"], "text": text, "room": room}, to=room, skip_sid=sid)
    return {"delivered_to": len(others)}


@sio.event
def who(sid):
    room = sio.get_session(sid)["room"]
    return sorted(sio.get_session(x)["name"] for x in sio.of("/").to(room).fetch_sockets())


@sio.event
def disconnect(sid, reason):
    log.info("%s left (%s)", sid, reason)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    port = sio.start(args.host, args.port)
    log.info("listening on http://%s:%d (Ctrl-C stops)", args.host, port)
    try:
        sio.wait()
    except KeyboardInterrupt:
        pass
    sio.close()
    log.info("stopped")
