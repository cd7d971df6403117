"""SQL of the members sync: members and roles upserted, leaves marked, and per tenant the state of member syncs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from discord_sync.store.schema import member_syncs, members, roles


@dataclass(frozen=True)
class MemberSyncState:
    """The tenant's last member sync: its status, why members are not synced, and when."""

    status: str
    reason: str | None
    last_attempt_at: datetime
    last_complete_at: datetime | None


def member_sync_state(conn: sa.Connection, tenant_id: str) -> MemberSyncState | None:
    """The tenant's `member_syncs` row, or None before its first member sync."""
    row = conn.execute(sa.select(member_syncs).where(member_syncs.c.tenant_id == tenant_id)).first()
    if row is None:
        return None
    return MemberSyncState(row.status, row.reason, row.last_attempt_at, row.last_complete_at)


def record_member_sync(
    conn: sa.Connection,
    tenant_id: str,
    *,
    status: str,
    reason: str | None,
    attempted_at: datetime,
    completed_at: datetime | None,
    members_listed: int,
    requests: int,
) -> None:
    """Write the outcome of a member sync; a sync that did not complete keeps the last complete listing's time."""
    values = {
        "status": status,
        "reason": reason,
        "last_attempt_at": attempted_at,
        "members_listed": members_listed,
        "requests": requests,
        "updated_at": sa.func.now(),
    }
    statement = insert(member_syncs).values(tenant_id=tenant_id, last_complete_at=completed_at, **values)
    if completed_at is not None:
        values["last_complete_at"] = completed_at
    conn.execute(statement.on_conflict_do_update(index_elements=["tenant_id"], set_=values))


def upsert_members(conn: sa.Connection, rows: list[dict]) -> None:
    """Insert or refresh members as listed now (`left_at` cleared: a member listed again is back)."""
    if not rows:
        return
    statement = insert(members).values(rows)
    excluded = statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "member_hash"],
            set_={
                "joined_at": excluded.joined_at,
                "role_ids": excluded.role_ids,
                "is_bot": excluded.is_bot,
                "pending": excluded.pending,
                "premium_since": excluded.premium_since,
                "last_seen_at": excluded.last_seen_at,
                "left_at": None,
            },
        )
    )


def mark_left(conn: sa.Connection, tenant_id: str, listing_started_at: datetime) -> int:
    """After a complete listing that began at `listing_started_at`: every member it did not list has left.
    Returns how many were newly marked."""
    result = conn.execute(
        sa.update(members)
        .where(
            members.c.tenant_id == tenant_id,
            members.c.left_at.is_(None),
            members.c.last_seen_at < listing_started_at,
        )
        .values(left_at=listing_started_at)
    )
    return result.rowcount


def store_roles(conn: sa.Connection, tenant_id: str, rows: list[dict], seen_at: datetime) -> int:
    """Upsert the guild's roles as seen now and mark those no longer there deleted; returns how many were deleted
    now."""
    if rows:
        statement = insert(roles).values(rows)
        excluded = statement.excluded
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "id"],
                set_={name: excluded[name] for name in rows[0] if name not in ("tenant_id", "id")},
            )
        )
    result = conn.execute(
        sa.update(roles)
        .where(roles.c.tenant_id == tenant_id, roles.c.deleted_at.is_(None), roles.c.last_seen_at < seen_at)
        .values(deleted_at=seen_at)
    )
    return result.rowcount
