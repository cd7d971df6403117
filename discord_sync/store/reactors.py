"""SQL of who reacted: the tenant's opt-in, which reactions need their reactors listed (their counts changed since
the last listing), and replacing a reaction's reactors with a new listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from discord_sync.store.schema import (
    message_emoji_reactions,
    message_reactor_syncs,
    message_reactors,
    messages,
    tenants,
)
from discord_sync.store.tenants import TenantError, validate_tenant_id


@dataclass(frozen=True)
class ReactionToList:
    """A reaction whose reactors are listed next: where it is, its emoji, and its counts now."""

    channel_id: int
    message_id: int
    emoji_key: str
    emoji_id: int | None
    emoji_name: str | None
    normal_count: int
    burst_count: int


def who_reacted(conn: sa.Connection, tenant_id: str) -> bool:
    """Whether the tenant opted into `message_reactors`."""
    value = conn.execute(sa.select(tenants.c.who_reacted).where(tenants.c.id == tenant_id)).scalar_one_or_none()
    if value is None:
        raise TenantError(f"no tenant {tenant_id!r}: list them with 'discord-sync tenant list'")
    return bool(value)


def set_who_reacted(conn: sa.Connection, tenant_id: str, enabled: bool) -> None:
    """Turn who-reacted on or off for a tenant (off keeps what was stored; nothing new is listed)."""
    validate_tenant_id(tenant_id)
    result = conn.execute(sa.update(tenants).where(tenants.c.id == tenant_id).values(who_reacted=enabled))
    if result.rowcount == 0:
        raise TenantError(f"no tenant {tenant_id!r}: list them with 'discord-sync tenant list'")


def reactions_to_list(conn: sa.Connection, tenant_id: str, since: datetime, limit: int) -> list[ReactionToList]:
    """Reactions on the tenant's live messages created since `since` whose counts differ from those their reactors
    were last listed at (or never listed), newest message first."""
    r, s, m = message_emoji_reactions, message_reactor_syncs, messages
    normal = (r.c.count - r.c.burst_count).label("normal_count")
    rows: Sequence[sa.Row] = conn.execute(
        sa.select(m.c.channel_id, r.c.message_id, r.c.emoji_key, r.c.emoji_id, r.c.emoji_name, normal, r.c.burst_count)
        .select_from(
            r.join(m, (m.c.tenant_id == r.c.tenant_id) & (m.c.id == r.c.message_id)).outerjoin(
                s,
                (s.c.tenant_id == r.c.tenant_id)
                & (s.c.message_id == r.c.message_id)
                & (s.c.emoji_key == r.c.emoji_key),
            )
        )
        .where(
            r.c.tenant_id == tenant_id,
            m.c.created_at >= since,
            m.c.deleted_at.is_(None),
            sa.or_(
                s.c.message_id.is_(None),
                s.c.normal_count != r.c.count - r.c.burst_count,
                s.c.burst_count != r.c.burst_count,
            ),
        )
        .order_by(r.c.message_id.desc(), r.c.emoji_key)
        .limit(limit)
    ).all()
    return [ReactionToList(*row) for row in rows]


def replace_reactors(
    conn: sa.Connection, tenant_id: str, reaction: ReactionToList, normal: list[str], burst: list[str]
) -> None:
    """Store a complete listing of one reaction's reactors (member hashes) and the counts it was taken at."""
    key = (
        (message_reactors.c.tenant_id == tenant_id)
        & (message_reactors.c.message_id == reaction.message_id)
        & (message_reactors.c.emoji_key == reaction.emoji_key)
    )
    conn.execute(sa.delete(message_reactors).where(key))
    rows = [
        {
            "tenant_id": tenant_id,
            "message_id": reaction.message_id,
            "emoji_key": reaction.emoji_key,
            "member_hash": member_hash,
            "burst": is_burst,
        }
        for is_burst, hashes in ((False, normal), (True, burst))
        for member_hash in dict.fromkeys(hashes)
    ]
    if rows:
        conn.execute(insert(message_reactors).values(rows))
    values = {"normal_count": reaction.normal_count, "burst_count": reaction.burst_count, "synced_at": sa.func.now()}
    conn.execute(
        insert(message_reactor_syncs)
        .values(tenant_id=tenant_id, message_id=reaction.message_id, emoji_key=reaction.emoji_key, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "message_id", "emoji_key"], set_=values)
    )


def forget_gone_reactions(conn: sa.Connection, tenant_id: str) -> int:
    """Remove the reactors (and listing records) of reactions no longer on their message (their count fell to 0,
    or the message is gone from the copy); returns how many reactor rows went."""
    r = message_emoji_reactions
    removed = 0
    for table in (message_reactors, message_reactor_syncs):
        gone = ~sa.exists().where(
            r.c.tenant_id == table.c.tenant_id, r.c.message_id == table.c.message_id, r.c.emoji_key == table.c.emoji_key
        )
        result = conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id, gone))
        if table is message_reactors:
            removed = result.rowcount
    return removed
