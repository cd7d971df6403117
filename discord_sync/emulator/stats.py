"""Request log and counters the control API reports (invalid requests, 429s, peak requests per second)."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

INVALID_STATUSES = frozenset({401, 403, 429})
LOG_LIMIT = 200_000


class RequestStats:
    """Counts every Discord API request; the log keeps the newest `LOG_LIMIT` entries so memory stays bounded."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self.requests = 0
        self.status_counts: Counter[int] = Counter()
        self.by_route: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()
        self.peak = 0

    def record(self, method: str, path: str, query: str, route: str, status: int, at: float | None = None) -> None:
        """Count one answered request that arrived at `at` (Unix seconds; default now)."""
        now = time.time() if at is None else at
        self.requests += 1
        self.status_counts[status] += 1
        self.by_route[f"{method} {route}"] += 1
        second = int(now)
        self.per_second[second] += 1
        self.peak = max(self.peak, self.per_second[second])
        if len(self.per_second) > 120:
            for old in [s for s in self.per_second if s < second - 60]:
                del self.per_second[old]
        self.log.append({"method": method, "path": path, "query": query, "status": status, "at": now})

    def counters(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "requests": self.requests,
            "invalid_requests": sum(n for s, n in self.status_counts.items() if s in INVALID_STATUSES),
            "status_counts": {str(s): n for s, n in sorted(self.status_counts.items())},
            "rate_limited": self.status_counts.get(429, 0),
            "peak_requests_per_second": self.peak,
            "requests_by_route": dict(self.by_route),
        }
