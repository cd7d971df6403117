"""Faults injected for reliability tests; each applies to the next `count` requests whose path matches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rate_limit", "server_error", "drop_connection", "slow", "revoke_token", "remove_bot")


@dataclass
class Fault:
    """One injected fault. `route` is a regular expression searched in the request path (None matches all)."""

    kind: str
    count: int = 1
    route: str | None = None
    retry_after: float = 0.5
    is_global: bool = False
    status: int = 500
    delay: float = 1.0
    guild_id: int | None = None
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        self._pattern = re.compile(self.route) if self.route else None

    def matches(self, path: str) -> bool:
        """Whether this fault still has uses left and applies to `path`."""
        return self.count > 0 and (self._pattern is None or bool(self._pattern.search(path)))


class FaultPlan:
    """The injected faults plus the lasting ones (revoked token, guilds the bot was removed from)."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.token_revoked = False
        self.removed_guilds: set[int] = set()

    def inject(self, kind: str, **options: Any) -> None:
        """Add a fault; `revoke_token` and `remove_bot` take effect at once and last until `clear`."""
        if kind == "revoke_token":
            self.token_revoked = True
        elif kind == "remove_bot":
            self.removed_guilds.add(int(options["guild_id"]))
        else:
            self.pending.append(Fault(kind=kind, **options))

    def take(self, path: str) -> list[Fault]:
        """Consume one use of every `slow` fault that applies plus at most one fault that ends the request."""
        taken: list[Fault] = []
        ended = False
        for fault in self.pending:
            ends_request = fault.kind != "slow"
            if fault.matches(path) and not (ends_request and ended):
                fault.count -= 1
                taken.append(fault)
                ended = ended or ends_request
        self.pending = [f for f in self.pending if f.count > 0]
        return taken

    def clear(self) -> None:
        """Remove every fault, lasting ones included."""
        self.pending = []
        self.token_revoked = False
        self.removed_guilds = set()
