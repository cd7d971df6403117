"""Discord snowflake ids: a millisecond timestamp since the Discord epoch shifted left by 22 bits."""

from __future__ import annotations

import datetime as dt

DISCORD_EPOCH_MS = 1420070400000


def make_snowflake(unix_ms: int, low_bits: int = 0) -> int:
    """Build a snowflake for `unix_ms`; `low_bits` (< 2**22) fills the worker/process/sequence fields."""
    return ((unix_ms - DISCORD_EPOCH_MS) << 22) | (low_bits & 0x3FFFFF)


def snowflake_ms(snowflake: int) -> int:
    """Unix time in milliseconds at which `snowflake` was made."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


def iso_timestamp(unix_ms: int) -> str:
    """Discord's ISO 8601 form, e.g. `2023-04-01T12:00:00.123000+00:00`."""
    return dt.datetime.fromtimestamp(unix_ms / 1000, dt.timezone.utc).isoformat(timespec="microseconds")


def parse_iso_ms(text: str) -> int:
    """Unix milliseconds of an ISO 8601 timestamp (a missing zone means UTC)."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1000)


def unix_ms(year: int, month: int = 1, day: int = 1) -> int:
    """Unix milliseconds at midnight UTC of a date; the generator anchors its timelines with it."""
    return int(dt.datetime(year, month, day, tzinfo=dt.timezone.utc).timestamp() * 1000)
