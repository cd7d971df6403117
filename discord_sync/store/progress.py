"""Every write to a channel's sync state: checkpoints (`sync_progress`) and per-run attempts (`channel_sync_jobs`).

A `channel_sync_jobs` row records one attempt at one channel inside one Dagster run ("attempt" in the code, so that
"job" keeps meaning the Dagster job). The checkpoint of a written batch is stored by `writer.write_message_batch`,
in the batch's own transaction, through `store_checkpoint` below.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from discord_sync.store.schema import (
    channel_sync_jobs,
    channels,
    sync_progress,
)
from discord_sync.store.sync_status import ChannelSyncStatus


def channels_with_checkpoints(conn: sa.Connection, tenant_id: str, channel_types: Iterable[int]) -> Sequence[Any]:
    """The tenant's live channels of the given types, each with its checkpoint, status (None: never synced) and
    why the bot may not read it (its own reason, else its parent's: a thread follows its parent; None: readable)."""
    parents = channels.alias("parents")
    return conn.execute(
        sa.select(
            channels.c.id,
            channels.c.name,
            channels.c.last_message_id,
            sync_progress.c.last_message_id.label("checkpoint"),
            sync_progress.c.status,
            sa.func.coalesce(channels.c.unreadable_reason, parents.c.unreadable_reason).label("unreadable_reason"),
        )
        .select_from(
            channels.outerjoin(
                sync_progress,
                (sync_progress.c.tenant_id == channels.c.tenant_id) & (sync_progress.c.channel_id == channels.c.id),
            ).outerjoin(parents, (parents.c.tenant_id == channels.c.tenant_id) & (parents.c.id == channels.c.parent_id))
        )
        .where(
            channels.c.tenant_id == tenant_id,
            channels.c.deleted_at.is_(None),
            channels.c.type.in_(list(channel_types)),
        )
        .order_by(channels.c.id)
    ).all()


def mark_complete(conn: sa.Connection, tenant_id: str, channel_ids: list[int]) -> None:
    """Give channels that need no request a `complete` row, so every visible channel is accounted for: those never
    recorded, and skipped ones that are readable again with nothing new."""
    if not channel_ids:
        return
    statement = pg_insert(sync_progress).values(
        [
            {
                "tenant_id": tenant_id,
                "channel_id": c,
                "status": ChannelSyncStatus.COMPLETE,
                "last_synced_at": sa.func.now(),
            }
            for c in channel_ids
        ]
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "channel_id"],
            set_={"status": ChannelSyncStatus.COMPLETE, "last_error": None, "updated_at": sa.func.now()},
            where=sync_progress.c.status == ChannelSyncStatus.SKIPPED,
        )
    )


def mark_not_readable(conn: sa.Connection, tenant_id: str, reasons: dict[int, str]) -> None:
    """Record channels the bot's permissions do not let it read as `skipped`, with why; checkpoints stay."""
    if not reasons:
        return
    statement = pg_insert(sync_progress).values(
        [
            {"tenant_id": tenant_id, "channel_id": c, "status": ChannelSyncStatus.SKIPPED, "last_error": r}
            for c, r in reasons.items()
        ]
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "channel_id"],
            set_={
                "status": ChannelSyncStatus.SKIPPED,
                "last_error": statement.excluded.last_error,
                "updated_at": sa.func.now(),
            },
            where=(sync_progress.c.status != ChannelSyncStatus.SKIPPED)
            | sync_progress.c.last_error.is_distinct_from(statement.excluded.last_error),
        )
    )


CHECKPOINT_SQL = sa.text(
    """
    INSERT INTO sync_progress (tenant_id, channel_id, last_message_id, status, messages_synced, last_synced_at,
                               last_error, updated_at)
    VALUES (:tenant_id, :channel_id, :last_message_id, :status, :messages, now(), NULL, now())
    ON CONFLICT (tenant_id, channel_id) DO UPDATE SET
        last_message_id = GREATEST(sync_progress.last_message_id, EXCLUDED.last_message_id),
        status = EXCLUDED.status,
        messages_synced = sync_progress.messages_synced + EXCLUDED.messages_synced,
        last_synced_at = now(),
        last_error = NULL,
        updated_at = now()
    """
)


def store_checkpoint(
    conn: sa.Connection,
    tenant_id: str,
    channel_id: int,
    checkpoint: int | None,
    status: ChannelSyncStatus,
    *,
    new_messages: int,
) -> None:
    """Move a channel's checkpoint forward with the batch being committed, in the batch's transaction.

    GREATEST ignores NULL: a batch that does not extend the contiguous prefix leaves the checkpoint as it is.
    `new_messages` (the batch's messages that were not stored yet) adds to `messages_synced`, so that column counts
    each stored message once however often it is re-fetched.
    """
    conn.execute(
        CHECKPOINT_SQL,
        {
            "tenant_id": tenant_id,
            "channel_id": channel_id,
            "last_message_id": checkpoint,
            "status": status,
            "messages": new_messages,
        },
    )


def start_attempt(conn: sa.Connection, tenant_id: str, channel_id: int, run_id: str | None) -> int:
    """Record that a run starts syncing a channel; returns the attempt's id."""
    attempt_id = conn.execute(
        channel_sync_jobs.insert()
        .values(tenant_id=tenant_id, channel_id=channel_id, run_id=run_id, status=ChannelSyncStatus.RUNNING)
        .returning(channel_sync_jobs.c.id)
    ).scalar_one()
    conn.execute(
        pg_insert(sync_progress)
        .values(tenant_id=tenant_id, channel_id=channel_id, status=ChannelSyncStatus.RUNNING)
        .on_conflict_do_update(
            index_elements=["tenant_id", "channel_id"],
            set_={"status": ChannelSyncStatus.RUNNING, "updated_at": sa.func.now()},
        )
    )
    return attempt_id


def finish_attempt(
    conn: sa.Connection,
    tenant_id: str,
    channel_id: int,
    attempt_id: int | None,
    *,
    status: ChannelSyncStatus,
    error: str | None,
    messages_written: int,
    requests: int,
    messages_per_second: float,
    checkpoint: int,
) -> None:
    """Record how a channel's attempt ended; its checkpoint catches up with everything the attempt committed."""
    conn.execute(
        channel_sync_jobs.update()
        .where(channel_sync_jobs.c.id == attempt_id)
        .values(
            status=status,
            finished_at=sa.func.now(),
            messages=messages_written,
            requests=requests,
            messages_per_second=messages_per_second,
            error=error,
            last_message_id=checkpoint or None,
            progress_at=sa.func.now(),
        )
    )
    conn.execute(
        sync_progress.update()
        .where(sync_progress.c.tenant_id == tenant_id, sync_progress.c.channel_id == channel_id)
        .values(
            status=status,
            last_error=error,
            updated_at=sa.func.now(),
            last_synced_at=sa.func.now(),
            last_message_id=sa.func.greatest(sync_progress.c.last_message_id, checkpoint or None),
        )
    )


def record_attempts_progress(conn: sa.Connection, progress: list[dict[str, Any]]) -> None:
    """Store running attempts' live numbers in one round trip: each dict has `attempt_id`, `messages`,
    `messages_per_second`, `requests` and `last_message_id` (the newest message stored so far)."""
    if not progress:
        return
    conn.execute(
        channel_sync_jobs.update()
        .where(channel_sync_jobs.c.id == sa.bindparam("p_attempt_id"), channel_sync_jobs.c.status == "running")
        .values(
            messages=sa.bindparam("p_messages"),
            messages_per_second=sa.bindparam("p_messages_per_second"),
            requests=sa.bindparam("p_requests"),
            last_message_id=sa.bindparam("p_last_message_id"),
            progress_at=sa.func.now(),
        ),
        [{f"p_{key}": value for key, value in row.items()} for row in progress],
    )
