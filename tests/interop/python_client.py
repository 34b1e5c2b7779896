#!/usr/bin/env python3
"""Interop scenarios run by python-socketio's sync client against a server that
implements the app described in APP.md (oxsio, or reference_server.js).

Usage: python python_client.py <base-url> <websocket|polling|upgrade>
Env:   ONLY=<scenario name>   run a single scenario (later scenarios depend on
       the connection made by "connect", which always runs first).

Prints one line per scenario: "ok <name>" or "FAIL <name>: <why>".
Exit code 0 only if every scenario passed. Always exits (global watchdog).
"""
import os
import queue
import sys
import threading
import time

import socketio

SCENARIO_TIMEOUT = 5.0
GLOBAL_TIMEOUT = 55.0
ABSENCE = 0.3

MODES = {
    "websocket": ["websocket"],
    "polling": ["polling"],
    "upgrade": ["polling", "websocket"],
}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if len(sys.argv) != 3 or sys.argv[2] not in MODES:
    sys.stderr.write("usage: python python_client.py <base-url> "
                     "<websocket|polling|upgrade>\n")
    sys.exit(2)

BASE = sys.argv[1].rstrip("/")
MODE = sys.argv[2]
TRANSPORTS = MODES[MODE]
# SERIALIZER=msgpack: python-socketio's msgpack packets (the server must agree).
SERIALIZER = os.environ.get("SERIALIZER", "default")
EXPECTED_TRANSPORT = "websocket" if MODE == "upgrade" else MODE

current = ["(startup)"]


def _watchdog():
    out("FAIL %s: global timeout (%ss) exceeded" % (current[0], GLOBAL_TIMEOUT))
    os._exit(1)


watchdog = threading.Timer(GLOBAL_TIMEOUT, _watchdog)
watchdog.daemon = True
watchdog.start()


class Fail(Exception):
    pass


class Peer:
    """A socketio.Client whose received events are queued per event name."""

    def __init__(self):
        self.sio = socketio.Client(reconnection=False, serializer=SERIALIZER)
        self.queues = {}
        self.lock = threading.Lock()
        self.disconnect_reasons = queue.Queue()
        self.question_data = []

        @self.sio.on("*")
        def _any(event, *args):
            self._q(event).put(list(args))

        @self.sio.on("question")
        def _question(data):
            # The handler's return value is the ack; a tuple = several args.
            self.question_data.append(data)
            return ("reply", data)

        @self.sio.event
        def disconnect(*reason):
            self.disconnect_reasons.put(reason[0] if reason else None)

    def _q(self, event):
        with self.lock:
            if event not in self.queues:
                self.queues[event] = queue.Queue()
            return self.queues[event]

    def next(self, event, timeout=4.0):
        try:
            return self._q(event).get(timeout=timeout)
        except queue.Empty:
            raise Fail('no "%s" event within %.1fs' % (event, timeout))

    def none(self, event, wait=ABSENCE):
        time.sleep(wait)
        q = self._q(event)
        if not q.empty():
            raise Fail('unexpected "%s" event: %r' % (event, q.get_nowait()))

    def connect(self, auth=None):
        self.sio.connect(BASE, auth=auth, transports=TRANSPORTS,
                         namespaces=["/"], socketio_path="socket.io",
                         wait_timeout=4)
        # python-engineio upgrades synchronously inside connect(); still,
        # allow a moment before checking.
        deadline = time.time() + 2.0
        while self.sio.transport() != EXPECTED_TRANSPORT and time.time() < deadline:
            time.sleep(0.02)
        if self.sio.transport() != EXPECTED_TRANSPORT:
            raise Fail("transport is %r, expected %r"
                       % (self.sio.transport(), EXPECTED_TRANSPORT))

    def close(self):
        try:
            if self.sio.connected:
                self.sio.disconnect()
        except Exception:
            pass


def norm(x):
    """Normalise for comparison: tuples -> lists, bytearray/memoryview -> bytes."""
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, (list, tuple)):
        return [norm(v) for v in x]
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    return x


def strict_equal(a, b):
    """Deep equality that also distinguishes bool from int and bytes from str."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    return a == b


def assert_equal(actual, expected, what):
    if not strict_equal(norm(actual), norm(expected)):
        raise Fail("%s: expected %r, got %r" % (what, expected, actual))


# ------------------------------------------------------------------ scenarios

main = Peer()
AUTH = {"token": "good"}
ARGS = [1, "two", {"a": [True, None, 3.5]}, "€✓ unicode",
        b"\x01\x02\x03", {"buf": b"\x00\xff", "list": [b"xyz", {"deep": b""}]}]


def sc_connect():
    main.connect(auth=AUTH)
    if not main.sio.connected:
        raise Fail("not connected")
    sid = main.sio.get_sid("/")
    if not sid:
        raise Fail("no namespace sid")


def sc_welcome():
    [w] = main.next("welcome")
    sid = main.sio.get_sid("/")
    if not isinstance(w, dict) or w.get("sid") != sid:
        raise Fail("welcome.sid %r != namespace sid %r" % (w, sid))
    assert_equal(w.get("auth"), AUTH, "welcome.auth")


def sc_echo():
    main.sio.emit("echo", tuple(ARGS))
    got = main.next("echo")
    assert_equal(got, ARGS, "echo args")


def sc_call():
    got = main.sio.call("echo-ack", tuple(ARGS), timeout=4)
    assert_equal(got, ARGS, "echo-ack result")
    one = main.sio.call("echo-ack", {"only": [b"\x07", "x"]}, timeout=4)
    assert_equal(one, {"only": [b"\x07", "x"]}, "echo-ack single arg")


def sc_server_ack():
    data = {"q": "life", "n": 42, "bin": b"\x04\x02", "list": ["€✓", None]}
    main.sio.emit("ask-client", data)
    deadline = time.time() + 4.0
    while time.time() < deadline:
        try:
            got = main._q("answer").get(timeout=0.05)
            break
        except queue.Empty:
            if not main._q("answer-error").empty():
                raise Fail("answer-error: %r" % main._q("answer-error").get())
    else:
        raise Fail('no "answer" event')
    if len(main.question_data) != 1:
        raise Fail("question handler called %d times" % len(main.question_data))
    assert_equal(main.question_data[0], data, "question data")
    assert_equal(got, ["reply", data], "answer args")


def sc_room():
    assert_equal(main.sio.call("join", "pyroom", timeout=4), ["joined", "pyroom"], "join ack")
    main.sio.emit("to-room", ("pyroom", "py-room-msg", {"x": 1, "b": b"\x01"}))
    assert_equal(main.next("py-room-msg"), [{"x": 1, "b": b"\x01"}], "room message")
    # Not in this room: nothing arrives.
    main.sio.emit("to-room", ("elsewhere", "py-other-msg", 1))
    main.none("py-other-msg")
    assert_equal(main.sio.call("leave", "pyroom", timeout=4), ["left", "pyroom"], "leave ack")
    main.sio.emit("to-room", ("pyroom", "py-room-msg", {"x": 2}))
    main.none("py-room-msg")


def sc_disconnect():
    observer = Peer()
    extra.append(observer)
    observer.connect()
    observer.sio.call("observe", timeout=4)
    sid = main.sio.get_sid("/")
    main.sio.disconnect()
    if main.sio.connected:
        raise Fail("still connected after disconnect()")
    deadline = time.time() + 4.0
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            raise Fail("observer got no peer-disconnect for %s" % sid)
        [info] = observer.next("peer-disconnect", timeout=remaining)
        if isinstance(info, dict) and info.get("sid") == sid:
            break
    # python-socketio queues DISCONNECT ("41") and the Engine.IO CLOSE ("1")
    # back to back (one polling POST "41\x1e1", or two WS frames read in one
    # go). The official Node server defers namespace packets with
    # process.nextTick, so it handles the CLOSE first and reports
    # "transport close"; a server handling packets in order reports
    # "client namespace disconnect". Both are accepted.
    reason = info.get("reason")
    if reason not in ("client namespace disconnect", "transport close"):
        raise Fail("peer-disconnect reason %r, expected \"client namespace "
                   "disconnect\" (or \"transport close\")" % (reason,))
    if set(info.keys()) != {"sid", "reason"}:
        raise Fail("peer-disconnect payload %r" % (info,))


SCENARIOS = [
    ("connect", sc_connect),
    ("welcome", sc_welcome),
    ("echo", sc_echo),
    ("call-echo-ack", sc_call),
    ("server-ack", sc_server_ack),
    ("room", sc_room),
    ("disconnect", sc_disconnect),
]
extra = []


def run(name, fn):
    """Runs fn in a worker thread so that a hung call cannot block us."""
    current[0] = name
    result = {}

    def target():
        try:
            fn()
            result["ok"] = True
        except Exception as e:  # noqa: BLE001
            result["err"] = "%s: %s" % (type(e).__name__, e) if not isinstance(e, Fail) else str(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(SCENARIO_TIMEOUT)
    if t.is_alive():
        out("FAIL %s: timed out after %.0fs" % (name, SCENARIO_TIMEOUT))
        return False
    if result.get("ok"):
        out("ok %s" % name)
        return True
    out("FAIL %s: %s" % (name, str(result.get("err", "unknown error")).replace("\n", " ")))
    return False


def main_():
    only = os.environ.get("ONLY")
    names = [n for n, _ in SCENARIOS]
    if only and only not in names:
        out("FAIL %s: no such scenario (have: %s)" % (only, ", ".join(names)))
        os._exit(1)
    failed = 0
    ran = 0
    for name, fn in SCENARIOS:
        if only and name != only and name != "connect":
            continue
        ran += 1
        if not run(name, fn):
            failed += 1
            if name == "connect":
                # Everything else needs the connection.
                for rest, _ in SCENARIOS[1:]:
                    if not only or rest == only:
                        out("FAIL %s: skipped, connect failed" % rest)
                        failed += 1
                        ran += 1
                break
    for p in [main] + extra:
        p.close()
    sys.stderr.write("summary (%s): %d/%d scenarios ok\n" % (MODE, ran - failed, ran))
    sys.stderr.flush()
    sys.stdout.flush()
    # os._exit: never wait for python-engineio's background threads.
    os._exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main_()
