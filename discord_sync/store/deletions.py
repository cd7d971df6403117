"""Messages deleted on Discord, applied to the copy as `SYNC_DELETED_MESSAGES` says.

`tombstone` (the default) keeps the message's id, channel, type, created_at and reply link, sets `deleted_at`, and
removes what the person wrote: content, author, mentions, embeds, stickers, poll, forwarded content, and the
message's reactions and attachments. `delete` removes the row with its reactions and attachments. `keep` only
sets `deleted_at`. Only the sync's re-reads decide that a message is deleted (`sync/refresh.py`); this module
applies the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from discord_sync.settings import DELETION_POLICIES
from discord_sync.store.schema import message_attachments, message_emoji_reactions, messages


def _live(tenant_id: str, message_ids: Sequence[int]) -> sa.ColumnElement[bool]:
    return sa.and_(
        messages.c.tenant_id == tenant_id, messages.c.id.in_(list(message_ids)), messages.c.deleted_at.is_(None)
    )


def _remove_children(conn: sa.Connection, tenant_id: str, message_ids: Sequence[int]) -> None:
    for child in (message_emoji_reactions, message_attachments):
        conn.execute(child.delete().where(child.c.tenant_id == tenant_id, child.c.message_id.in_(list(message_ids))))


def apply_deletions(conn: sa.Connection, tenant_id: str, message_ids: Sequence[int], policy: str) -> int:
    """Apply `policy` to the stored, not yet deleted messages among `message_ids`; returns how many it changed."""
    if policy not in DELETION_POLICIES:
        raise ValueError(f"unknown deletion policy {policy!r}; expected one of {', '.join(DELETION_POLICIES)}")
    if not message_ids:
        return 0
    found = list(conn.execute(sa.select(messages.c.id).where(_live(tenant_id, message_ids))).scalars())
    if not found:
        return 0
    if policy == "delete":
        _remove_children(conn, tenant_id, found)
        conn.execute(messages.delete().where(messages.c.tenant_id == tenant_id, messages.c.id.in_(found)))
        return len(found)
    values: dict = {"deleted_at": sa.func.now(), "synced_at": sa.func.now()}
    if policy == "tombstone":
        _remove_children(conn, tenant_id, found)
        values.update(
            content="",
            author_hash=None,
            mention_everyone=False,
            mentioned_user_hashes=[],
            mentioned_role_ids=[],
            embeds=None,
            sticker_items=None,
            poll=None,
            forwarded=None,
        )
    conn.execute(messages.update().where(messages.c.tenant_id == tenant_id, messages.c.id.in_(found)).values(**values))
    return len(found)


def stored_live_ids(conn: sa.Connection, tenant_id: str, channel_id: int, after: int, upto: int) -> set[int]:
    """Ids of the channel's stored messages in `after < id <= upto` not marked deleted."""
    return set(
        conn.execute(
            sa.select(messages.c.id).where(
                messages.c.tenant_id == tenant_id,
                messages.c.channel_id == channel_id,
                messages.c.id > after,
                messages.c.id <= upto,
                messages.c.deleted_at.is_(None),
            )
        ).scalars()
    )
