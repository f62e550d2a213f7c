"""``python -m tgserver``: run the test server on its own, e.g. for a manual look.

    python -m tgserver --port 8081 --token 123:TEST --bot-username SafetyTestBot
    TELEGRAM_BOT_TOKEN=123:TEST TELEGRAM_API_BASE_URL=http://127.0.0.1:8081 safetybot run

With ``--demo`` a group with two people is created and one of them adds the
bot and sends /start, so the bot's answer shows in the log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tgserver.server import TelegramTestServer


async def _serve(args: argparse.Namespace) -> None:
    server = TelegramTestServer(port=args.port)
    await server.start()
    bot = server.create_bot(username=args.bot_username, first_name="Safety Bot",
                            token=args.token,
                            can_read_all_group_messages=args.privacy_off)
    print(f"Telegram test server on {server.url}", flush=True)
    print(f"  TELEGRAM_API_BASE_URL={server.url}", flush=True)
    print(f"  TELEGRAM_BOT_TOKEN={bot.token}", flush=True)
    if args.demo:
        driver = server.driver(bot)
        worker, leader = driver.user("王工"), driver.user("李班长")
        group = driver.group("合成甲班", members=[worker, leader], admins=[leader])
        group.add_bot(by=leader)
        leader.send(group, f"/start@{args.bot_username}")
        print(f"  demo group {group.id} created; the bot's replies:", flush=True)
        seen = 0
        while True:
            await driver.wait_for(lambda n=seen: len(group.bot_messages()) > n, timeout=3600)
            for message in group.bot_messages()[seen:]:
                print(f"  [{group.title}] bot: {message.text or message.caption}", flush=True)
            seen = len(group.bot_messages())
    await asyncio.Event().wait()


def main() -> None:
    """Parse the arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tgserver")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="SafetyTestBot")
    parser.add_argument("--privacy-off", action="store_true",
                        help="let the bot read all group messages")
    parser.add_argument("--demo", action="store_true", help="create a demo group")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
