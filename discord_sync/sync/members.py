"""The members sync: the guild's roles, then, when the cadence is due and the application has the Server Members
intent, every member page by page (1,000 per request, `after` the highest user id so far); members no complete
listing lists any more are marked as having left.

Without the intent no member request is sent (Discord would refuse it with 403, and repeated refusals count
against the bot): the reason is recorded in `member_syncs` and the intent is checked again at the next cadence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.shaping.members import MemberPayloadError, member_row, role_row
from discord_sync.source.protocol import MemberSource, RateLimitTooLong, SourceError, TransientFailure
from discord_sync.store.members import (
    MemberSyncState,
    mark_left,
    member_sync_state,
    record_member_sync,
    store_roles,
    upsert_members,
)

MEMBERS_PAGE = 1000
# A listing that failed is tried again at the next run after this long, not only a full cadence later.
FAILED_RETRY = timedelta(hours=1)


class MemberSyncSource(MemberSource, Protocol):
    """The source as the members sync uses it: the member routes, the guild (its roles) and a request count."""

    async def guild(self, guild_id: int) -> dict:
        """The guild payload, roles included."""

    @property
    def requests_sent(self) -> int:
        """Requests sent by this session so far."""


@dataclass
class MemberSyncReport:
    """What one members sync did: `status` is `not_due` (nothing asked), `synced`, `no_intent` or `failed`."""

    status: str
    reason: str | None = None
    members_listed: int = 0
    members_left: int = 0
    roles: int = 0
    roles_deleted: int = 0
    requests: int = 0

    def metadata(self) -> dict[str, Any]:
        """For the asset's materialization."""
        return {
            "status": self.status,
            "reason": self.reason or "",
            "members_listed": self.members_listed,
            "members_left_now": self.members_left,
            "roles": self.roles,
            "roles_deleted_now": self.roles_deleted,
            "member_sync_requests": self.requests,
        }


def member_sync_due(state: MemberSyncState | None, now: datetime, every: timedelta) -> bool:
    """Whether the tenant's members are to be listed now: never yet, the cadence elapsed since the last decision,
    or a failed listing older than `FAILED_RETRY`."""
    if state is None:
        return True
    if state.status == "failed":
        return state.last_attempt_at <= now - min(every, FAILED_RETRY)
    return state.last_attempt_at <= now - every


def members_due(engine: sa.Engine, tenant_id: str, every: timedelta, now: datetime | None = None) -> bool:
    """`member_sync_due` for a tenant, read from `member_syncs` (no Discord request)."""
    with engine.connect() as conn:
        return member_sync_due(member_sync_state(conn, tenant_id), now or datetime.now(UTC), every)


async def sync_members(
    source: MemberSyncSource, engine: sa.Engine, tenant_id: str, guild_id: int, anonymizer: Anonymizer
) -> MemberSyncReport:
    """List the guild's roles and (with the intent) its members into `roles` and `members`, and record the outcome
    in `member_syncs`."""
    started_at = datetime.now(UTC)
    first_request = source.requests_sent
    report = MemberSyncReport(status="synced")
    try:
        access = await source.member_access()
        guild = await source.guild(guild_id)
        role_rows = [role_row(tenant_id, r, anonymizer, started_at) for r in guild.get("roles") or []]
        with engine.begin() as conn:
            report.roles_deleted = store_roles(conn, tenant_id, role_rows, started_at)
        report.roles = len(role_rows)
        if not access.listable:
            report.status, report.reason = "no_intent", access.reason
        else:
            after = 0
            while True:
                page = await source.list_members(guild_id, after, MEMBERS_PAGE)
                rows = [member_row(tenant_id, m, anonymizer, started_at) for m in page]
                with engine.begin() as conn:
                    upsert_members(conn, rows)
                report.members_listed += len(rows)
                if len(page) < MEMBERS_PAGE:
                    break
                after = max(int(m["user"]["id"]) for m in page)
            with engine.begin() as conn:
                report.members_left = mark_left(conn, tenant_id, started_at)
    except (SourceError, TransientFailure, RateLimitTooLong, MemberPayloadError) as error:
        # An incomplete listing marks nobody as left; the next run tries again after FAILED_RETRY.
        report.status, report.reason = "failed", str(error)
    report.requests = source.requests_sent - first_request
    with engine.begin() as conn:
        record_member_sync(
            conn,
            tenant_id,
            status=report.status,
            reason=report.reason,
            attempted_at=started_at,
            completed_at=started_at if report.status == "synced" else None,
            members_listed=report.members_listed,
            requests=report.requests,
        )
    return report
