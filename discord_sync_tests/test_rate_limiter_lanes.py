"""The request limiter's two lanes on a real PostgreSQL: hourly requests go ahead of bulk work, bulk work keeps to
its share while hourly work is present, and the slots of both lanes together never exceed the rate."""

from __future__ import annotations

import asyncio
import time

import pytest

from discord_sync.source.rate_limiter import (
    BULK_HORIZON_SECONDS,
    DISCORD_GLOBAL_LIMIT,
    MAX_BULK_SLOTS_PER_RESERVATION,
    PostgresRateLimiter,
)
from discord_sync.store.database import libpq_url

RATE = 40.0
INTERVAL = 1 / RATE
SHARE = 0.5


def limiter(database_url: str, lane: str) -> PostgresRateLimiter:
    """A limiter as one run process has it: its own connection, the shared bucket, its run's lane."""
    return PostgresRateLimiter(libpq_url(database_url), "test:global", RATE, lane=lane, bulk_share=SHARE)


async def fill_bulk_until_refused(bulk: PostgresRateLimiter) -> int:
    """Reserve bulk batches back to back until the limiter refuses one; the slots granted."""
    granted = 0
    for _ in range(1000):
        reservation = await bulk.reserve(MAX_BULK_SLOTS_PER_RESERVATION)
        if not reservation.granted:
            assert reservation.retry_after > 0
            return granted
        granted += MAX_BULK_SLOTS_PER_RESERVATION
    raise AssertionError("bulk work was never refused: it could queue without bound in front of hourly work")


def test_an_hourly_request_waits_at_most_the_bulk_horizon_behind_a_bulk_backlog(database_url):
    async def scenario() -> tuple[int, float, float]:
        bulk, hourly, old_style = (limiter(database_url, lane) for lane in ("bulk", "hourly", "hourly"))
        try:
            granted = await fill_bulk_until_refused(bulk)
            hourly_delay = (await hourly.reserve(1)).delay
            # The same backlog reserved without lanes (as every request did before): the next request waits behind
            # all of it.
            for _ in range(10):
                await old_style.reserve(MAX_BULK_SLOTS_PER_RESERVATION)
            behind_backlog = (await hourly.reserve(1)).delay
            return granted, hourly_delay, behind_backlog
        finally:
            for each in (bulk, hourly, old_style):
                await each.close()

    granted, hourly_delay, behind_backlog = asyncio.run(scenario())

    assert granted >= 1
    bound = BULK_HORIZON_SECONDS + MAX_BULK_SLOTS_PER_RESERVATION * INTERVAL
    assert hourly_delay <= bound + 0.05
    assert behind_backlog >= 10 * MAX_BULK_SLOTS_PER_RESERVATION * INTERVAL  # hourly work itself is never refused


def test_bulk_keeps_to_its_share_only_while_hourly_requests_queue(database_url, engine):
    async def bulk_pointer_step(hourly_first: bool) -> float:
        bulk, hourly = limiter(database_url, "bulk"), limiter(database_url, "hourly")
        try:
            await asyncio.sleep(1.5)  # past the previous scenario's reservations and hourly waiting
            if hourly_first:
                await hourly.reserve(6)  # a backlog: the next hourly request has to queue
                await hourly.reserve(1)
            else:
                await hourly.reserve(1)  # hourly work that finds a free slot costs bulk nothing
            first = await bulk.reserve(MAX_BULK_SLOTS_PER_RESERVATION)
            assert first.granted
            with engine.connect() as conn:
                row = conn.exec_driver_sql(
                    "SELECT EXTRACT(EPOCH FROM bulk_next_slot_at - next_slot_at)::float8 "
                    "FROM request_rate_limiter WHERE bucket = 'test:global'"
                ).one()
            return float(row[0])
        finally:
            await bulk.close()
            await hourly.close()

    alone = asyncio.run(bulk_pointer_step(hourly_first=False))
    beside_hourly = asyncio.run(bulk_pointer_step(hourly_first=True))

    span = MAX_BULK_SLOTS_PER_RESERVATION * INTERVAL
    assert alone == pytest.approx(0, abs=1e-6)  # bulk may use the whole rate
    # Beside hourly work that queues, each bulk slot costs 1/share of a slot on bulk's own pointer.
    assert beside_hourly == pytest.approx(span / SHARE - span, abs=1e-3)


def test_both_lanes_saturating_share_the_rate_and_never_exceed_it(database_url):
    async def saturate(seconds: float) -> tuple[list[float], list[float], float]:
        bulk, hourly = limiter(database_url, "bulk"), limiter(database_url, "hourly")
        sends: dict[str, list[float]] = {"bulk": [], "hourly": []}
        deadline = time.monotonic() + seconds

        async def worker(lane: str, each: PostgresRateLimiter) -> None:
            while time.monotonic() < deadline:
                await each.acquire()
                sends[lane].append(time.monotonic())

        try:
            await asyncio.gather(
                *(worker("bulk", bulk) for _ in range(30)), *(worker("hourly", hourly) for _ in range(5))
            )
        finally:
            await bulk.close()
            await hourly.close()
        return sends["bulk"], sends["hourly"], deadline

    bulk_all, hourly_all, deadline = asyncio.run(saturate(4.0))

    peak = max(sum(1 for t in bulk_all + hourly_all if start <= t < start + 1.0) for start in bulk_all + hourly_all)
    assert peak <= DISCORD_GLOBAL_LIMIT
    # While both lanes want slots: after the deadline the hourly workers stop and the bulk backlog drains alone.
    bulk_sends = [t for t in bulk_all if t < deadline]
    hourly_sends = [t for t in hourly_all if t < deadline]
    every = bulk_sends + hourly_sends
    # Thirty bulk workers against five hourly ones: without lanes bulk would take 30/35 of the slots.
    assert len(bulk_sends) <= SHARE * len(every) + 2 * MAX_BULK_SLOTS_PER_RESERVATION
    assert len(hourly_sends) >= (1 - SHARE) * len(every) - 2 * MAX_BULK_SLOTS_PER_RESERVATION


def test_an_unknown_lane_or_share_is_refused():
    with pytest.raises(ValueError, match="unknown lane 'fast'"):
        PostgresRateLimiter("postgresql://unused", "b", RATE, lane="fast")
    with pytest.raises(ValueError, match="bulk_share"):
        PostgresRateLimiter("postgresql://unused", "b", RATE, lane="bulk", bulk_share=0)
