"""A game-style loop (as with pygame): the client never runs your code on
another thread; each frame drains the waiting events with poll().

    python examples/python/poll_loop.py [--url http://127.0.0.1:3000] [--frames 180]
"""

import argparse
import time

import oxsio

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:3000")
parser.add_argument("--frames", type=int, default=180)
args = parser.parse_args()

sio = oxsio.Client(threaded=False)  # handlers run inside poll(), on this thread
chat_log = []
sio.on("said", lambda msg: chat_log.append(f"{msg['from']}: {msg['text']}"))

# A second, ordinary client plays the other player.
other = oxsio.Client()
other.connect(args.url, auth={"name": "npc"})
other.call("join", "arena")

sio.connect(args.url, auth={"name": "player"})
sio.call("join", "arena")

x, frame_time = 0.0, 1 / 60
for frame in range(args.frames):
    start = time.monotonic()
    handled = sio.poll()  # never blocks: runs the handlers of waiting events
    x += 1.5  # "update the game"
    if frame % 60 == 0:
        other.emit("say", f"npc says hi at frame {frame}")
    if handled:
        print(f"frame {frame:3d}: {handled} event(s), last: {chat_log[-1]}", flush=True)
    time.sleep(max(0.0, frame_time - (time.monotonic() - start)))

print(f"{args.frames} frames, {len(chat_log)} chat messages, x={x:.1f}", flush=True)
other.disconnect()
sio.disconnect()
sio.poll()  # run the disconnect handler
