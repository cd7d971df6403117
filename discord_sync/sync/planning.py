"""Which channels a tenant's sync must fetch: those whose newest message is past their checkpoint.

A channel whose newest message (from discovery) is not newer than its checkpoint costs no request at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.progress import channels_with_checkpoints, mark_complete
from discord_sync.sync.windows import ChannelPlan


def split_plans(rows: Iterable[Any]) -> tuple[list[ChannelPlan], list[int]]:
    """From channels with their checkpoints: the plans to fetch, and the never-synced channels with nothing new."""
    plans: list[ChannelPlan] = []
    unchanged_unrecorded: list[int] = []
    for row in rows:
        checkpoint = row.checkpoint or 0
        if row.last_message_id is not None and row.last_message_id > checkpoint:
            plans.append(ChannelPlan(row.id, row.name, checkpoint, row.last_message_id))
        elif row.status is None:
            unchanged_unrecorded.append(row.id)
    return plans, unchanged_unrecorded


def plan_channels(conn: sa.Connection, tenant_id: str) -> tuple[list[ChannelPlan], int]:
    """Channels with messages newer than their checkpoint, and how many message-bearing channels are unchanged.

    Unchanged channels get a `complete` progress row if they had none, so every visible channel is accounted for.
    """
    rows = channels_with_checkpoints(conn, tenant_id, MESSAGE_BEARING_TYPES)
    plans, unchanged_unrecorded = split_plans(rows)
    mark_complete(conn, tenant_id, unchanged_unrecorded)
    return plans, len(rows) - len(plans)
