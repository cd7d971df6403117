"""Keeps the sum of every process's requests under Discord's global limit, by design rather than by 429s.

Discord allows 50 requests per second per bot token, across every process that uses it. discord.py only reacts
to 429s, and only inside one process. Here each request first reserves a slot in PostgreSQL (the one place all
tenant runs share, on one machine or many): a GCRA row per bot holds the earliest time of the next free slot;
reserving moves it on by 1/rate and tells the caller how long to wait. The clock is the database's, so machines
with skewed clocks still agree. Requests waiting at the same moment share one round trip: it reserves a run of
consecutive slots, so the limiter's pace never depends on the database's latency.

Two lanes share the budget (`run_names`: a run's lane). An hourly request takes the next free slot, however far
ahead. A bulk request (initial sync, reset, reconcile) may reserve only while the next free slot is at most
`BULK_HORIZON_SECONDS` away, so bulk work never stacks a queue of reservations in front of hourly work: an hourly
request waits at most that horizon plus one small bulk batch. And while hourly requests had to queue in the last
`HOURLY_ACTIVE_SECONDS`, bulk requests also keep to `bulk_share` of the rate (a second slot pointer for bulk work,
advanced by 1 / (rate x share) per request), so hourly work finds free slots sooner. Hourly work that finds free
slots costs bulk work nothing: the budget is never left idle while either lane has work. All of this state is in the
bucket's one row, changed in one statement under its row lock: every process agrees, and the slots handed out stay
1/rate apart whatever the lane.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import psycopg

from discord_sync.run_names import BULK_LANE, HOURLY_LANE

CREATE_BUCKET_SQL = "INSERT INTO request_rate_limiter (bucket) VALUES (%(bucket)s) ON CONFLICT (bucket) DO NOTHING"

# One statement: lock the bucket's row, read the clock after the lock is held, decide, move the pointers. A bulk
# reservation that is refused changes nothing and says how long to wait before asking again.
RESERVE_SLOTS_SQL = """
WITH locked AS (
    SELECT next_slot_at, bulk_next_slot_at, hourly_seen_at
    FROM request_rate_limiter WHERE bucket = %(bucket)s FOR UPDATE
), clocked AS (
    SELECT locked.*, clock_timestamp() AS now FROM locked
), decided AS (
    SELECT now, next_slot_at, bulk_next_slot_at,
        GREATEST(next_slot_at, now) AS start,
        COALESCE(hourly_seen_at > now - make_interval(secs => %(active_window)s), false) AS hourly_active,
        NOT %(bulk)s OR (
            GREATEST(next_slot_at, now) <= now + make_interval(secs => %(horizon)s)
            AND COALESCE(bulk_next_slot_at, now) <= now + make_interval(secs => %(horizon)s)
        ) AS granted
    FROM clocked
), updated AS (
    UPDATE request_rate_limiter AS r SET
        next_slot_at = d.start + make_interval(secs => %(span)s),
        bulk_next_slot_at = CASE WHEN %(bulk)s
            THEN GREATEST(COALESCE(d.bulk_next_slot_at, d.now), d.start)
                + make_interval(secs => CASE WHEN d.hourly_active THEN %(bulk_span)s ELSE %(span)s END)
            ELSE r.bulk_next_slot_at END,
        hourly_seen_at = CASE WHEN NOT %(bulk)s AND d.start > d.now + make_interval(secs => %(waiting)s)
            THEN d.now ELSE r.hourly_seen_at END
    FROM decided AS d
    WHERE r.bucket = %(bucket)s AND d.granted
    RETURNING r.bucket
)
SELECT granted,
    GREATEST(0, EXTRACT(EPOCH FROM (start - now)))::float8,
    GREATEST(0, EXTRACT(EPOCH FROM (
        GREATEST(next_slot_at, COALESCE(bulk_next_slot_at, now)) - now)) - %(horizon)s)::float8,
    (SELECT count(*) FROM updated)
FROM decided
"""

DISCORD_GLOBAL_LIMIT = 50
MAX_REQUEUES = 5
MAX_SLOTS_PER_RESERVATION = 16
# Bulk work reserves in small batches and never further ahead than this, so an hourly request arriving behind it
# waits at most about BULK_HORIZON_SECONDS + MAX_BULK_SLOTS_PER_RESERVATION slots.
MAX_BULK_SLOTS_PER_RESERVATION = 4
BULK_HORIZON_SECONDS = 0.25
# Hourly work counts as waiting for this long after a reservation of its had to queue (its slot more than
# HOURLY_WAITING_SLOTS away): hourly work that finds free slots costs bulk work nothing.
HOURLY_ACTIVE_SECONDS = 1.0
HOURLY_WAITING_SLOTS = 2
DEFAULT_BULK_SHARE = 0.9


@dataclass(frozen=True)
class Reservation:
    """The answer to one reservation: granted (wait `delay` for the first slot) or refused (ask again after
    `retry_after`)."""

    granted: bool
    delay: float
    retry_after: float


class PostgresRateLimiter:
    """A request-rate limit shared by every process that uses the same database and bucket name."""

    def __init__(
        self,
        conninfo: str,
        bucket: str,
        requests_per_second: float,
        *,
        lane: str = HOURLY_LANE,
        bulk_share: float = DEFAULT_BULK_SHARE,
    ) -> None:
        if lane not in (HOURLY_LANE, BULK_LANE):
            raise ValueError(f"unknown lane {lane!r}: expected {HOURLY_LANE!r} or {BULK_LANE!r}")
        if not 0 < bulk_share <= 1:
            raise ValueError(f"bulk_share must be in (0, 1], got {bulk_share}")
        self._conninfo = conninfo
        self.bucket = bucket
        self.lane = lane
        self.bulk_share = bulk_share
        self.interval = 1.0 / requests_per_second
        # Sending up to `late_tolerance` after its slot keeps any one-second window at or under Discord's 50:
        # a second holds at most rate * (1 + tolerance) + 1 sends.
        self.late_tolerance = max(self.interval, (DISCORD_GLOBAL_LIMIT - 1 - requests_per_second) / requests_per_second)
        self._connection: psycopg.AsyncConnection | None = None
        self._waiting: list[asyncio.Future[float]] = []
        self._reserver: asyncio.Task | None = None
        self.waited_seconds = 0.0
        self.late_requeues = 0
        # Bulk reservations refused because hourly work was ahead (or bulk had used its share).
        self.deferrals = 0

    async def _connect(self) -> psycopg.AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            await self._connection.execute(CREATE_BUCKET_SQL, {"bucket": self.bucket})
        return self._connection

    async def reserve(self, slots: int) -> Reservation:
        """Ask once for `slots` consecutive slots in this limiter's lane."""
        connection = await self._connect()
        cursor = await connection.execute(
            RESERVE_SLOTS_SQL,
            {
                "bucket": self.bucket,
                "span": slots * self.interval,
                "bulk_span": slots * self.interval / self.bulk_share,
                "bulk": self.lane == BULK_LANE,
                "horizon": BULK_HORIZON_SECONDS,
                "active_window": HOURLY_ACTIVE_SECONDS,
                "waiting": HOURLY_WAITING_SLOTS * self.interval,
            },
        )
        row = await cursor.fetchone()
        if row is None:  # the row was deleted under us (a test resetting the table): make it again
            await connection.execute(CREATE_BUCKET_SQL, {"bucket": self.bucket})
            return Reservation(granted=False, delay=0.0, retry_after=0.0)
        return Reservation(granted=bool(row[0]), delay=float(row[1]), retry_after=float(row[2]))

    async def _reserve(self, slots: int) -> float:
        """Reserve `slots` consecutive slots, asking again while a bulk reservation is refused; returns the seconds
        until the first one."""
        while True:
            reservation = await self.reserve(slots)
            if reservation.granted:
                return reservation.delay
            self.deferrals += 1
            # At least one batch's worth of time: asking more often would only load the database.
            await asyncio.sleep(max(reservation.retry_after, MAX_BULK_SLOTS_PER_RESERVATION * self.interval))

    async def _serve_reservations(self) -> None:
        batch_size = MAX_BULK_SLOTS_PER_RESERVATION if self.lane == BULK_LANE else MAX_SLOTS_PER_RESERVATION
        while self._waiting:
            batch = self._waiting[:batch_size]
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
