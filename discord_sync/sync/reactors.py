"""Who reacted, for tenants that opted in: each reaction on the last N days of messages whose counts changed since
its reactors were last listed is listed again (`GET .../reactions/{emoji}`, 100 per request, normal and burst
separately), newest message first, within a request budget per run so it never crowds out the message sync.
What the budget leaves is listed by the next runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.members import emoji_in_url, reactor_hashes
from discord_sync.source.protocol import ChannelUnavailable, MemberSource, RateLimitTooLong, TransientFailure
from discord_sync.store.reactors import (
    ReactionToList,
    forget_gone_reactions,
    reactions_to_list,
    replace_reactors,
    who_reacted,
)

REACTORS_PAGE = 100


@dataclass
class ReactorSyncReport:
    """What one who-reacted sync did."""

    enabled: bool
    reactions_listed: int = 0
    reactors_stored: int = 0
    reactions_left: bool = False
    reactors_removed: int = 0
    requests: int = 0
    errors: int = 0

    def metadata(self) -> dict[str, Any]:
        """For the asset's materialization."""
        return {
            "who_reacted": self.enabled,
            "reactions_listed": self.reactions_listed,
            "reactors_stored": self.reactors_stored,
            "budget_exhausted": self.reactions_left,
            "reactors_removed": self.reactors_removed,
            "reactor_requests": self.requests,
            "reactor_errors": self.errors,
        }


def pages_needed(reaction: ReactionToList) -> int:
    """Requests a complete listing of the reaction takes (a full last page needs one more to see the end)."""
    return sum(count // REACTORS_PAGE + 1 for count in (reaction.normal_count, reaction.burst_count) if count > 0)


def reactor_sync_enabled(engine: sa.Engine, tenant_id: str) -> bool:
    """Whether the tenant opted in (no Discord request)."""
    with engine.connect() as conn:
        return who_reacted(conn, tenant_id)


async def _list(source: MemberSource, reaction: ReactionToList, burst: bool) -> tuple[list[dict], int]:
    users: list[dict] = []
    after, requests = 0, 0
    emoji = emoji_in_url(reaction.emoji_key, reaction.emoji_id, reaction.emoji_name)
    while True:
        page = await source.list_reactors(
            reaction.channel_id, reaction.message_id, emoji, burst=burst, after=after, limit=REACTORS_PAGE
        )
        requests += 1
        users.extend(page)
        if len(page) < REACTORS_PAGE:
            return users, requests
        after = max(int(u["id"]) for u in page)


async def sync_reactors(
    source: MemberSource,
    engine: sa.Engine,
    tenant_id: str,
    anonymizer: Anonymizer,
    *,
    days: int,
    budget: int,
    now: datetime | None = None,
) -> ReactorSyncReport:
    """List the reactors of changed reactions of the last `days` days, at most `budget` requests."""
    report = ReactorSyncReport(enabled=True)
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    with engine.begin() as conn:
        report.reactors_removed = forget_gone_reactions(conn, tenant_id)
        # Each reaction takes at least one request: more than `budget` of them cannot be listed now.
        due = reactions_to_list(conn, tenant_id, since, budget + 1)
    refused_channels: set[int] = set()
    for reaction in due:
        if reaction.channel_id in refused_channels:
            continue
        if report.requests + pages_needed(reaction) > budget:
            report.reactions_left = True
            break
        try:
            normal, sent = await _list(source, reaction, False) if reaction.normal_count else ([], 0)
            report.requests += sent
            burst, sent = await _list(source, reaction, True) if reaction.burst_count else ([], 0)
            report.requests += sent
        except ChannelUnavailable:
            # Access lost is not "nobody reacted": what is stored stays; the channel is tried again next run.
            refused_channels.add(reaction.channel_id)
            report.errors += 1
            continue
        except (TransientFailure, RateLimitTooLong):
            report.errors += 1
            break
        with engine.begin() as conn:
            replace_reactors(
                conn, tenant_id, reaction, reactor_hashes(normal, anonymizer), reactor_hashes(burst, anonymizer)
            )
        report.reactions_listed += 1
        report.reactors_stored += len(normal) + len(burst)
    return report
