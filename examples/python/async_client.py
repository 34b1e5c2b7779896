"""asyncio client for chat_server.py: joins a room, chats with a bot of its
own, and shows awaitable acknowledgements.

    python examples/python/async_client.py [--url http://127.0.0.1:3000]
"""

import argparse
import asyncio

import oxsio


async def main(url: str) -> None:
    bot = oxsio.AsyncClient()
    me = oxsio.AsyncClient()
    got = asyncio.Queue()

    @me.event
    async def said(msg):
        await got.put(msg)

    await bot.connect(url, auth={"name": "bot"})
    await me.connect(url, auth=lambda: {"name": "async-alice"})  # called on each (re)connect
    print("joined:", await me.call("join", "asyncio"), await bot.call("join", "asyncio"))
    print("who:", await me.call("who"))
    ack = await bot.call("say", "hello from the bot")
    msg = await asyncio.wait_for(got.get(), 5)
    print(f"alice got {msg['text']!r} from {msg['from']}; bot's ack: {ack}")
    await me.disconnect()
    await bot.disconnect()
    await asyncio.gather(me.wait(), bot.wait())
    print("done")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    asyncio.run(main(parser.parse_args().url))
