"""Keeps the sum of every process's requests under Discord's global limit, by design rather than by 429s.

Discord allows 50 requests per second per bot token, across every process that uses it. discord.py only reacts
to 429s, and only inside one process. Here each request first reserves a slot in PostgreSQL (the one place all
tenant runs share, on one machine or many): a GCRA row per bot holds the earliest time of the next free slot;
reserving moves it on by 1/rate and tells the caller how long to wait. The clock is the database's, so machines
with skewed clocks still agree. Requests waiting at the same moment share one round trip: it reserves a run of
consecutive slots, so the limiter's pace never depends on the database's latency.
"""

from __future__ import annotations

import asyncio
import time

import psycopg

RESERVE_SLOTS_SQL = """
INSERT INTO request_rate_limiter (bucket, next_slot_at)
VALUES (%(bucket)s, clock_timestamp() + make_interval(secs => %(span)s))
ON CONFLICT (bucket) DO UPDATE SET next_slot_at =
    GREATEST(request_rate_limiter.next_slot_at, clock_timestamp()) + make_interval(secs => %(span)s)
RETURNING GREATEST(0, EXTRACT(EPOCH FROM (next_slot_at - clock_timestamp())) - %(span)s)::float8
"""

DISCORD_GLOBAL_LIMIT = 50
MAX_REQUEUES = 5
MAX_SLOTS_PER_RESERVATION = 16


class PostgresRateLimiter:
    """A request-rate limit shared by every process that uses the same database and bucket name."""

    def __init__(self, conninfo: str, bucket: str, requests_per_second: float) -> None:
        self._conninfo = conninfo
        self.bucket = bucket
        self.interval = 1.0 / requests_per_second
        # Sending up to `late_tolerance` after its slot keeps any one-second window at or under Discord's 50:
        # a second holds at most rate * (1 + tolerance) + 1 sends.
        self.late_tolerance = max(self.interval, (DISCORD_GLOBAL_LIMIT - 1 - requests_per_second) / requests_per_second)
        self._connection: psycopg.AsyncConnection | None = None
        self._waiting: list[asyncio.Future[float]] = []
        self._reserver: asyncio.Task | None = None
        self.waited_seconds = 0.0
        self.late_requeues = 0

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        return self._connection

    async def _reserve(self, slots: int) -> float:
        """Reserve `slots` consecutive slots; returns the seconds until the first one."""
        connection = await self._connect()
        cursor = await connection.execute(RESERVE_SLOTS_SQL, {"bucket": self.bucket, "span": slots * self.interval})
        row = await cursor.fetchone()
        return float(row[0]) if row else 0.0

    async def _serve_reservations(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_SLOTS_PER_RESERVATION]
            del self._waiting[: len(batch)]
            try:
                first = await self._reserve(len(batch))
            except BaseException as error:
                for future in batch:
                    if not future.done():
                        future.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            for position, future in enumerate(batch):
                if not future.done():
                    future.set_result(first + position * self.interval)

    async def _slot_delay(self) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._reserver is None or self._reserver.done():
            self._reserver = asyncio.create_task(self._serve_reservations())
        return await future

    async def acquire(self) -> float:
        """Wait until this process may send one request; returns the seconds waited.

        A busy event loop can wake a sleeper late, and late sleepers wake together: sending them all at once
        would crowd several slots into one instant. A request that wakes later than `late_tolerance` gives its
        slot up and queues again, so the requests that go out stay within Discord's limit.
        """
        started = time.monotonic()
        for _ in range(MAX_REQUEUES):
            delay = await self._slot_delay()
            slot = time.monotonic() + delay
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - slot <= self.late_tolerance:
                break
            self.late_requeues += 1
        waited = time.monotonic() - started
        self.waited_seconds += waited
        return waited

    async def close(self) -> None:
        if self._reserver is not None and not self._reserver.done():
            self._reserver.cancel()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
