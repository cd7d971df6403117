"""What a user writes today: discord.py's `history()` over every channel, one INSERT per message.

`python -m bench.naive_sync GUILD_ID --seconds N` with DISCORD_BOT_TOKEN, DISCORD_API_BASE_URL and DATABASE_URL
set. A `discord.Client` in REST mode (login, no gateway), each text channel and active thread in turn, oldest
first, committing once per channel. It stops after `--seconds` and prints what it stored as one JSON line, so a
benchmark can measure its rate on a guild it would take an hour to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import discord
import discord.http
import psycopg

from discord_sync.source.discord.api_base import use_api_base_url

CREATE = """
CREATE TABLE IF NOT EXISTS naive_messages (
    id bigint PRIMARY KEY, channel_id bigint NOT NULL, author_id bigint, content text, created_at timestamptz
)
"""
INSERT = "INSERT INTO naive_messages (id, channel_id, author_id, content, created_at) VALUES (%s, %s, %s, %s, %s)"


async def sync(guild_id: int, seconds: float) -> dict:
    use_api_base_url(os.environ["DISCORD_API_BASE_URL"])
    client = discord.Client(intents=discord.Intents.none())
    await client.login(os.environ["DISCORD_BOT_TOKEN"])
    database = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    stored = 0
    started = time.monotonic()
    with psycopg.connect(database) as conn:
        conn.execute(CREATE)
        conn.commit()
        guild = await client.fetch_guild(guild_id)
        channels = [c for c in await guild.fetch_channels() if isinstance(c, discord.TextChannel)]
        channels += await guild.active_threads()
        for channel in channels:
            async for message in channel.history(limit=None, oldest_first=True):
                conn.execute(INSERT, (message.id, channel.id, message.author.id, message.content, message.created_at))
                stored += 1
                if time.monotonic() - started > seconds:
                    break
            conn.commit()
            if time.monotonic() - started > seconds:
                break
    elapsed = time.monotonic() - started
    await client.close()
    return {"messages": stored, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("guild_id", type=int)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print("BENCH_RESULT " + json.dumps(asyncio.run(sync(args.guild_id, args.seconds))), flush=True)


if __name__ == "__main__":
    main()
