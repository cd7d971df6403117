"""The one way a tenant sync writes messages: a batch of shaped rows, its deleted references applied with it.

A sync's windows write new history with the channel's checkpoint (`write_batch`, handed to the `ChannelSyncer`);
a refresh writes re-read pages of stored history without one (`write_reread`, in the refresh's own transaction,
which also reads what the page left out). Both apply the deletions a batch reveals (a reply whose original is
null) as `SYNC_DELETED_MESSAGES` says, in the same transaction as the rows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa

from discord_sync.shaping.rows import MessageRows
from discord_sync.store.deletions import apply_deletions
from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.store.writer import write_message_batch, write_messages


@dataclass(frozen=True)
class BatchWriter:
    """Writes one tenant's message batches to PostgreSQL; `deleted_messages` is `SYNC_DELETED_MESSAGES`."""

    engine: sa.Engine
    tenant_id: str
    deleted_messages: str

    def _apply_deleted_references(self, conn: sa.Connection, rows: MessageRows) -> int:
        if not rows.deleted_referenced_ids:
            return 0
        return apply_deletions(conn, self.tenant_id, rows.deleted_referenced_ids, self.deleted_messages)

    def write_batch_now(self, channel_id: int, rows: MessageRows, checkpoint: int, status: ChannelSyncStatus) -> None:
        """Write a batch of new history and move the channel's checkpoint with it, in one transaction."""
        with self.engine.begin() as conn:
            write_message_batch(conn, self.tenant_id, channel_id, rows, checkpoint=checkpoint, status=status)
            self._apply_deleted_references(conn, rows)

    async def write_batch(self, channel_id: int, rows: MessageRows, checkpoint: int, status: ChannelSyncStatus) -> None:
        """`write_batch_now` in a worker thread, so the event loop keeps fetching (the `ChannelSyncer`'s writer)."""
        await asyncio.to_thread(self.write_batch_now, channel_id, rows, checkpoint, status)

    def write_reread(self, conn: sa.Connection, rows: MessageRows) -> int:
        """Write a re-read page of stored history in the caller's transaction, no checkpoint moved; returns how many
        stored messages its deleted references deleted."""
        if rows.messages:
            write_messages(conn, self.tenant_id, rows, stored=True)
        return self._apply_deleted_references(conn, rows)
