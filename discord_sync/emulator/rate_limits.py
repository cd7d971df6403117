"""Discord-style rate limits: a global per-token limit and fixed-window buckets per route and major parameter.

Defaults: 50 requests per second globally (Discord's documented bot limit); message reads get their own
bucket per channel, `message_bucket=(50, 1.0)` by default, generous enough that a polite client never
waits; every other route gets 50 per second per route and major parameter.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Verdict:
    """Outcome of one admission check: headers to send, and a 429 body if the request is refused."""

    headers: dict[str, str]
    refusal: dict | None = None


@dataclass
class _Window:
    started: float
    count: int = 0


class RateLimiter:
    """Decides which requests pass and writes the `X-RateLimit-*` headers discord.py reads."""

    def __init__(
        self,
        global_limit: int = 50,
        message_bucket: tuple[int, float] = (50, 1.0),
        route_bucket: tuple[int, float] = (50, 1.0),
        enabled: bool = True,
    ) -> None:
        self.global_limit = global_limit
        self.message_bucket = message_bucket
        self.route_bucket = route_bucket
        self.enabled = enabled
        self._recent: dict[str, deque[float]] = {}
        self._windows: dict[str, _Window] = {}

    def check(self, token: str, route: str, major: str) -> Verdict:
        """Admit or refuse one request for `route` (a path template) and its major parameter."""
        now = time.monotonic()
        limit, per = self.message_bucket if route.endswith("/messages") else self.route_bucket
        bucket = hashlib.sha1(f"{route}:{limit}:{per}".encode()).hexdigest()[:16]
        if not self.enabled:
            return Verdict(headers={})
        recent = self._recent.setdefault(token, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= self.global_limit:
            retry_after = max(0.001, recent[0] + 1.0 - now)
            return Verdict(
                headers={"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global", **_retry_headers(retry_after)},
                refusal={
                    "message": "You are being rate limited.",
                    "retry_after": round(retry_after, 3),
                    "global": True,
                },
            )
        key = f"{token}:{bucket}:{major}"
        window = self._windows.get(key)
        if window is None or now >= window.started + per:
            window = self._windows[key] = _Window(started=now)
        reset_after = window.started + per - now
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        if window.count >= limit:
            headers.update(_retry_headers(reset_after), **{"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user"})
            return Verdict(
                headers=headers,
                refusal={
                    "message": "You are being rate limited.",
                    "retry_after": round(reset_after, 3),
                    "global": False,
                },
            )
        window.count += 1
        recent.append(now)
        headers["X-RateLimit-Remaining"] = str(limit - window.count)
        return Verdict(headers=headers)

    def forget_expired(self) -> None:
        """Drop windows that have ended, so a long run with many channels keeps bounded memory."""
        now = time.monotonic()
        longest = max(self.message_bucket[1], self.route_bucket[1])
        for key in [k for k, w in self._windows.items() if now >= w.started + longest]:
            del self._windows[key]


def _retry_headers(retry_after: float) -> dict[str, str]:
    # discord.py treats a 429 without `Via` as a Cloudflare ban, so the emulator says it came through Google's edge.
    return {"Retry-After": str(max(1, math.ceil(retry_after))), "Via": "1.1 google"}
