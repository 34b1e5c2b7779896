"""Chat client for chat_server.py: type lines to say them; "/join room",
"/who"; end of input (Ctrl-D) or Ctrl-C quits.

    python examples/python/chat_client.py alice [--url http://127.0.0.1:3000]
"""

import argparse
import sys

import oxsio

parser = argparse.ArgumentParser()
parser.add_argument("name")
parser.add_argument("--url", default="http://127.0.0.1:3000")
args = parser.parse_args()

sio = oxsio.Client()


@sio.event
def connect():
    print(f"connected as {args.name} ({sio.sid})", flush=True)


@sio.event
def connect_error(data):
    print(f"refused: {data}", flush=True)


@sio.event
def said(msg):
    print(f"[{msg['room']}] {msg['from']}: {msg['text']}", flush=True)


@sio.event
def disconnect(reason):
    print(f"disconnected ({reason})", flush=True)


sio.connect(args.url, auth={"name": args.name})
try:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        if line.startswith("/join "):
            print("->", sio.call("join", line[6:]), flush=True)
        elif line == "/who":
            print("in the room:", ", ".join(sio.call("who")), flush=True)
        else:
            ack = sio.call("say", line)
            print(f"(delivered to {ack['delivered_to']})", flush=True)
except KeyboardInterrupt:
    pass
sio.disconnect()
sio.wait()
