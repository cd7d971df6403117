"""Discord snowflake ids: a millisecond timestamp since the Discord epoch shifted left by 22 bits."""

from __future__ import annotations

import datetime as dt
import functools

DISCORD_EPOCH_MS = 1420070400000


def make_snowflake(unix_ms: int, low_bits: int = 0) -> int:
    """Build a snowflake for `unix_ms`; `low_bits` (< 2**22) fills the worker/process/sequence fields."""
    return ((unix_ms - DISCORD_EPOCH_MS) << 22) | (low_bits & 0x3FFFFF)


def snowflake_ms(snowflake: int) -> int:
    """Unix time in milliseconds at which `snowflake` was made."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


DAY_MS = 86_400_000
_UNIX_EPOCH = dt.date(1970, 1, 1)
# Up to here (year 2109) `datetime` rounds `unix_ms / 1000` to exactly the millisecond, as the fast path does.
_FAST_LIMIT_MS = 1 << 42
_HOURS_MINUTES = tuple(f"{h:02}:{m:02}:" for h in range(24) for m in range(60))
_SECONDS = tuple(f"{s:02}." for s in range(60))
_MILLIS = tuple(f"{ms:03}000+00:00" for ms in range(1000))


def iso_timestamp(unix_ms: int) -> str:
    """Discord's ISO 8601 form, e.g. `2023-04-01T12:00:00.123000+00:00`.

    Whole milliseconds are formatted arithmetically after a cached date (every message payload carries at
    least one timestamp); anything else goes through `datetime`."""
    if type(unix_ms) is int and 0 <= unix_ms < _FAST_LIMIT_MS:
        day, rest = divmod(unix_ms, DAY_MS)
        minute, rest = divmod(rest, 60_000)
        second, millis = divmod(rest, 1000)
        return _date_prefix(day) + _HOURS_MINUTES[minute] + _SECONDS[second] + _MILLIS[millis]
    return dt.datetime.fromtimestamp(unix_ms / 1000, dt.UTC).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=8192)
def _date_prefix(day: int) -> str:
    return (_UNIX_EPOCH + dt.timedelta(days=day)).isoformat() + "T"


def parse_iso_ms(text: str) -> int:
    """Unix milliseconds of an ISO 8601 timestamp (a missing zone means UTC)."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def unix_ms(year: int, month: int = 1, day: int = 1) -> int:
    """Unix milliseconds at midnight UTC of a date; the generator anchors its timelines with it."""
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp() * 1000)
