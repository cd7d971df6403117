"""Which channels a tenant's sync must fetch: those it may read whose newest message is past their checkpoint.

A channel whose newest message (from discovery) is not newer than its checkpoint costs no request at all; nor does
one the bot's permissions do not let it read (recorded `skipped` with the reason; its stored messages stay).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.progress import channels_with_checkpoints, mark_complete, mark_not_readable
from discord_sync.store.sync_status import ChannelSyncStatus
from discord_sync.sync.windows import ChannelPlan


def split_plans(rows: Iterable[Any]) -> tuple[list[ChannelPlan], list[int], dict[int, str]]:
    """From channels with their checkpoints: the plans to fetch, the channels with nothing new to mark complete
    (never recorded, or skipped before and readable now), and the channels the bot may not read, with why."""
    plans: list[ChannelPlan] = []
    unchanged_unrecorded: list[int] = []
    not_readable: dict[int, str] = {}
    for row in rows:
        checkpoint = row.checkpoint or 0
        if row.unreadable_reason is not None:
            not_readable[row.id] = row.unreadable_reason
        elif row.last_message_id is not None and row.last_message_id > checkpoint:
            plans.append(ChannelPlan(row.id, row.name, checkpoint, row.last_message_id))
        elif row.status is None or row.status == ChannelSyncStatus.SKIPPED:
            unchanged_unrecorded.append(row.id)
    return plans, unchanged_unrecorded, not_readable


def plan_channels(conn: sa.Connection, tenant_id: str) -> tuple[list[ChannelPlan], int, int]:
    """Channels with messages newer than their checkpoint, how many readable message-bearing channels are
    unchanged, and how many the bot may not read.

    Unchanged channels get a `complete` progress row if they had none, unreadable ones a `skipped` row with the
    reason, so every known channel is accounted for.
    """
    rows = channels_with_checkpoints(conn, tenant_id, MESSAGE_BEARING_TYPES)
    plans, unchanged_unrecorded, not_readable = split_plans(rows)
    mark_complete(conn, tenant_id, unchanged_unrecorded)
    mark_not_readable(conn, tenant_id, not_readable)
    return plans, len(rows) - len(plans) - len(not_readable), len(not_readable)
