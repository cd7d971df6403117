"""What thread discovery remembers between runs: the `thread_discovery` rows and the known active threads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from discord_sync.store.schema import channels, thread_discovery

STATE_COLUMNS = (
    "parent_id",
    "parent_last_message_id",
    "public_archived_until",
    "private_archived_until",
    "joined_private_until",
    "last_full_listing_at",
)


def thread_listing_rows(conn: sa.Connection, tenant_id: str) -> Sequence[Any]:
    """The tenant's listing state per parent channel."""
    return conn.execute(
        sa.select(*[thread_discovery.c[c] for c in STATE_COLUMNS]).where(thread_discovery.c.tenant_id == tenant_id)
    ).all()


def known_active_threads(conn: sa.Connection, tenant_id: str) -> dict[int, int | None]:
    """Stored threads that were active (not archived) when last seen, by id, with their parent's id."""
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.parent_id).where(
            channels.c.tenant_id == tenant_id,
            channels.c.is_thread,
            channels.c.deleted_at.is_(None),
            sa.func.coalesce(channels.c.archived, sa.false()).is_(False),
        )
    ).all()
    return {row.id: row.parent_id for row in rows}


def replace_thread_listing_rows(conn: sa.Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None:
    """Store the listing state the last discovery left; parents not in `rows` (unreadable, gone) are forgotten."""
    conn.execute(thread_discovery.delete().where(thread_discovery.c.tenant_id == tenant_id))
    if rows:
        conn.execute(thread_discovery.insert(), [{"tenant_id": tenant_id, **row} for row in rows])
