"""Echo messages/s of a Python-hosted oxsio server with a Python handler vs
python-socketio (aiohttp) with the same handler, under the same load, in
one run (implementations interleaved, median of the rounds).

    python/.venv/bin/python python/bench/echo_bench.py [--clients 20] [--window 10] [--seconds 5] [--load rust|node]
        [--mode echo|fanout] [--impls oxsio,oxsio-async,python-socketio,oxsio-asgi,python-socketio-asgi]

The load: `--load rust` (default) is bench/load.rs on the oxsio Rust client
(built here with cargo), cheap enough not to be the bottleneck; `--load
node` is the official JS client (tests/interop/node_modules).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NODE_MODULES = os.path.join(ROOT, "tests", "interop", "node_modules")


def load_command(kind: str) -> list:
    if kind == "node":
        return ["node", os.path.join(HERE, "load.js")]
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "-p", "oxsio-python", "--bin", "oxsio-echo-load"],
        cwd=ROOT, check=True,
    )
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return [os.path.join(target, "release", "oxsio-echo-load")]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def measure(impl: str, load: list, clients: int, window: int, seconds: int, mode: str = "echo") -> dict:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "echo_server.py"), impl, str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "ready" not in line:
            raise RuntimeError(f"{impl} did not start: {line}{server.stdout.read()}")
        time.sleep(0.2)
        out = subprocess.run(
            [*load, f"http://127.0.0.1:{port}", str(clients), str(window), str(seconds)],
            capture_output=True, text=True, timeout=seconds + 60,
            env={**os.environ, "NODE_PATH": NODE_MODULES, "LOAD_MODE": mode},
        )
        last = (out.stdout.strip().splitlines() or [""])[-1]
        if out.returncode != 0 or not last.startswith("{"):
            raise RuntimeError(f"load failed against {impl}: {out.stdout}{out.stderr}")
        return json.loads(last)
    finally:
        server.kill()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--impls", default="oxsio,oxsio-async,python-socketio")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    ap.add_argument("--load", choices=["rust", "node"], default="rust")
    ap.add_argument(
        "--mode", choices=["echo", "fanout"], default="echo",
        help="fanout: one client keeps WINDOW broadcasts in flight; deliveries to all clients are counted (rust load only)",
    )
    a = ap.parse_args()
    load = load_command(a.load)
    impls = a.impls.split(",")
    runs: dict = {impl: [] for impl in impls}
    for rnd in range(a.rounds):
        for impl in impls:
            r = measure(impl, load, a.clients, a.window, a.seconds, a.mode)
            runs[impl].append(r["msgs_per_sec"])
            print(f"round {rnd + 1}: {impl:22s} {r['msgs_per_sec']:>9,d} {a.mode} msgs/s", flush=True)
    results = {impl: sorted(v)[len(v) // 2] for impl, v in runs.items()}
    print(f"median of {a.rounds} round(s), {a.clients} clients x {a.window} in flight, websocket, {a.load} load:")
    for impl, v in results.items():
        print(f"{impl:22s} {v:>9,d} {a.mode} msgs/s")
    for impl, v in results.items():
        # Each one against its python-socketio counterpart on the same host.
        base_name = "python-socketio-asgi" if impl.endswith("-asgi") else "python-socketio"
        base = results.get(base_name)
        if base and impl != base_name:
            print(f"{impl} / {base_name} = {v / base:.1f}x")


if __name__ == "__main__":
    main()
