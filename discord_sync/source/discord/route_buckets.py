"""Keeps each route's requests inside the bucket Discord announced for it, so parallel windows draw no 429s.

Besides the global 50 requests/s, Discord limits each route and major parameter (a channel's message reads, for
one) with a bucket whose size it does not publish in advance: every answer carries `X-RateLimit-Limit` and
`X-RateLimit-Reset-After`. discord.py tracks `X-RateLimit-Remaining` per bucket, but with several requests of one
channel in flight it over-sends when a window rolls over (12% of requests answered 429 with five windows on a
20 per second bucket). Here, once a route's bucket is known, a request waits until sending it keeps the route's
sends in any stretch of `margin` x the bucket's period at or under its limit. A sliding window that strict keeps
Discord's fixed window satisfied however the two line up, and the margin covers the time between this stamp and
the request's arrival. A route with no known bucket (its first request) goes at once, and counts once the bucket
is known; discord.py lets only one request through until that first answer arrives.

State is per process: a channel is only ever synced by the one run that holds its tenant's lock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

PERIOD_MARGIN = 1.05


UNKNOWN_BUCKET_MEMORY = 64  # sends remembered on a route whose bucket no answer has announced yet


@dataclass
class _Route:
    limit: int | None = None
    period: float = 0.0
    sent: deque[float] = field(default_factory=deque)
    reserved: int = 0


class RouteBuckets:
    """Per-route pacing from the `X-RateLimit-*` headers of the route's answers."""

    def __init__(self, margin: float = PERIOD_MARGIN) -> None:
        self.margin = margin
        self._routes: dict[str, _Route] = {}
        self.waited_seconds = 0.0

    def learn(self, route: str, limit: str | None, reset_after: str | None) -> None:
        """Record what an answer on `route` said of its bucket. The period is the longest `Reset-After` seen:
        the first answer of a fresh window reports the whole window."""
        try:
            limit_value, reset_value = int(limit), float(reset_after)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return
        if limit_value < 1 or reset_value <= 0:
            return
        known = self._routes.setdefault(route, _Route())
        known.limit = limit_value
        known.period = max(known.period, reset_value)

    async def reserve(self, route: str) -> bool:
        """Wait until one more request on `route` fits its bucket and hold its place; False if the bucket is not
        known yet (nothing held). Then call `sent(route, held)` when the request leaves, or `release` if it never
        does."""
        known = self._routes.get(route)
        if known is None or known.limit is None:
            return False
        started = time.monotonic()
        while True:
            now = time.monotonic()
            span = known.period * self.margin
            while known.sent and known.sent[0] <= now - span:
                known.sent.popleft()
            if len(known.sent) + known.reserved < known.limit:
                break
            if known.sent:
                await asyncio.sleep(max(0.001, known.sent[0] + span - now))
            else:
                await asyncio.sleep(0.01)
        known.reserved += 1
        self.waited_seconds += time.monotonic() - started
        return True

    def sent(self, route: str, held: bool) -> None:
        """Count a request that leaves now; requests sent before the bucket was known count too."""
        known = self._routes.setdefault(route, _Route())
        if held:
            known.reserved -= 1
        known.sent.append(time.monotonic())
        if known.limit is None and len(known.sent) > UNKNOWN_BUCKET_MEMORY:
            known.sent.popleft()

    def release(self, route: str, held: bool) -> None:
        if held:
            self._routes[route].reserved -= 1
