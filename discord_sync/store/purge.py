"""Resets: clearing a tenant's sync state so everything is read again, and the explicit, destructive purge.

A reset (`clear_sync_state`) forgets checkpoints and attempts only: every stored row stays, the next sync reads
everything again and upserts it, and a re-read confirms deletions as a reconcile does. A purge
(`purge_stored_messages`, `discord-sync sync reset --purge`) also deletes the stored messages with their reactions
and attachments, including history no re-sync can bring back: tombstones, messages of deleted channels and of
channels the bot can no longer read. `count_purge` says what a purge would delete, before it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from discord_sync.store.schema import (
    channel_sync_jobs,
    channels,
    message_attachments,
    message_emoji_reactions,
    messages,
    sync_progress,
)


@dataclass(frozen=True)
class ClearedState:
    """What a reset forgot: checkpoints (`sync_progress` rows) and attempts (`channel_sync_jobs` rows)."""

    checkpoints: int
    attempts: int


@dataclass(frozen=True)
class PurgeCounts:
    """What a purge deletes (or deleted). `tombstones`, `of_deleted_channels` and `of_unreadable_channels` are the
    messages among `messages` that no re-sync can fetch again (a message may be in more than one of them)."""

    messages: int
    tombstones: int
    of_deleted_channels: int
    of_unreadable_channels: int
    reactions: int
    attachments: int

    def describe(self) -> str:
        """One line for the confirmation prompt and the logs."""
        return (
            f"{self.messages} stored messages ({self.tombstones} tombstones of messages deleted on Discord, "
            f"{self.of_deleted_channels} of deleted channels, {self.of_unreadable_channels} of channels the bot "
            f"cannot read now: these cannot be fetched again), {self.reactions} reaction rows and "
            f"{self.attachments} attachment rows"
        )


def clear_sync_state(conn: sa.Connection, tenant_id: str, channel_id: int | None = None) -> ClearedState:
    """Forget the checkpoints and attempts of the tenant (or of one channel), keeping every stored row, so the next
    sync reads everything from the beginning."""
    where_progress = sync_progress.c.tenant_id == tenant_id
    where_attempts = channel_sync_jobs.c.tenant_id == tenant_id
    if channel_id is not None:
        where_progress &= sync_progress.c.channel_id == channel_id
        where_attempts &= channel_sync_jobs.c.channel_id == channel_id
    checkpoints = conn.execute(sync_progress.delete().where(where_progress)).rowcount
    attempts = conn.execute(channel_sync_jobs.delete().where(where_attempts)).rowcount
    return ClearedState(checkpoints=checkpoints, attempts=attempts)


def _messages_in_scope(tenant_id: str, channel_id: int | None) -> sa.ColumnElement[bool]:
    where = messages.c.tenant_id == tenant_id
    if channel_id is not None:
        where &= messages.c.channel_id == channel_id
    return where


def count_purge(conn: sa.Connection, tenant_id: str, channel_id: int | None = None) -> PurgeCounts:
    """What `purge_stored_messages` would delete now, by kind."""
    parents = channels.alias("parents")
    in_scope = _messages_in_scope(tenant_id, channel_id)
    own = channels.alias("own")
    # A thread follows its parent: it is unreadable when either says so; a channel missing from the catalog counts
    # as deleted.
    unreadable = sa.func.coalesce(own.c.unreadable_reason, parents.c.unreadable_reason).is_not(None)
    deleted_channel = own.c.id.is_(None) | own.c.deleted_at.is_not(None)
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(messages.c.deleted_at.is_not(None)),
            sa.func.count().filter(deleted_channel),
            sa.func.count().filter(unreadable),
        )
        .select_from(
            messages.outerjoin(
                own, (own.c.tenant_id == messages.c.tenant_id) & (own.c.id == messages.c.channel_id)
            ).outerjoin(parents, (parents.c.tenant_id == own.c.tenant_id) & (parents.c.id == own.c.parent_id))
        )
        .where(in_scope)
    ).one()
    children = []
    for child in (message_emoji_reactions, message_attachments):
        where_child = child.c.tenant_id == tenant_id
        if channel_id is not None:
            where_child &= child.c.message_id.in_(sa.select(messages.c.id).where(in_scope))
        children.append(conn.execute(sa.select(sa.func.count()).select_from(child).where(where_child)).scalar_one())
    return PurgeCounts(
        messages=row[0],
        tombstones=row[1],
        of_deleted_channels=row[2],
        of_unreadable_channels=row[3],
        reactions=children[0],
        attachments=children[1],
    )


def purge_stored_messages(conn: sa.Connection, tenant_id: str, channel_id: int | None = None) -> PurgeCounts:
    """Delete the tenant's (or one channel's) stored messages with their reactions and attachments, and its
    checkpoints and attempts; returns what was deleted. Destructive: only an explicit purge calls it."""
    counts = count_purge(conn, tenant_id, channel_id)
    in_scope = _messages_in_scope(tenant_id, channel_id)
    # Reactions and attachments hang on their message without a foreign key (schema.py): they go first.
    for child in (message_emoji_reactions, message_attachments):
        where_child = child.c.tenant_id == tenant_id
        if channel_id is not None:
            where_child &= child.c.message_id.in_(sa.select(messages.c.id).where(in_scope))
        conn.execute(child.delete().where(where_child))
    conn.execute(messages.delete().where(in_scope))
    clear_sync_state(conn, tenant_id, channel_id)
    return counts
