"""Which failures of a Discord request are retried, and how long to wait before each retry.

A 5xx answer, a dropped connection or a request past its timeout is worth asking again: Discord recovers within
seconds. Waits double from half a second and stop growing at 8 s, so the default 4 retries span ~7.5 s.
Everything else (4xx, a 429 asking too long a wait) is decided by the caller at once.
"""

from __future__ import annotations

import asyncio

import aiohttp
import discord

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    discord.DiscordServerError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)
FIRST_RETRY_SECONDS = 0.5
LONGEST_RETRY_SECONDS = 8.0


def is_transient(error: BaseException) -> bool:
    """Whether a failed request may succeed when asked again."""
    return isinstance(error, TRANSIENT_ERRORS)


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (0 for the first) before the next one."""
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2**attempt)
