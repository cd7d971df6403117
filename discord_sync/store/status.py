"""Where each tenant's sync stands, read from `sync_progress`, `channel_sync_jobs` and `channels`.

These are the numbers `discord-sync sync status` prints; the Dagster run status is added by the command.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa

from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.sync_status import ChannelSyncStatus

# The statuses travel as bound parameters named after themselves (`:complete`, ...).
_STATUS_PARAMETERS = {status.value: status.value for status in ChannelSyncStatus}

_TENANT_OVERVIEW = sa.text(
    """
    SELECT t.id AS tenant_id,
           count(p.channel_id) FILTER (WHERE p.status = :complete) AS complete,
           count(p.channel_id) FILTER (WHERE p.status = :failed) AS failed,
           count(p.channel_id) FILTER (WHERE p.status = :skipped) AS skipped,
           count(p.channel_id) FILTER (WHERE p.status IN (:pending, :running)) AS pending,
           CAST(coalesce(sum(p.messages_synced), 0) AS bigint) AS messages,
           max(p.last_synced_at) AS last_synced_at
    FROM tenants t
    LEFT JOIN sync_progress p ON p.tenant_id = t.id
    WHERE (CAST(:tenant AS text) IS NULL OR t.id = :tenant)
    GROUP BY t.id
    ORDER BY t.id
    """
)

# One row per channel: every channel with a checkpoint and every live message-bearing channel of the catalog (a
# channel never synced yet is `pending`), with its progress, why it is not synced (its error, why the bot cannot
# read it, or that it was deleted on Discord) and its latest attempt, or its attempt in one run. `:only_run` keeps
# only the channels that run attempted, and then status and error are that attempt's.
_CHANNEL_STATES = sa.text(
    """
    SELECT coalesce(p.channel_id, c.id) AS channel_id, coalesce(c.name, '?') AS name, c.type,
           CASE WHEN :only_run THEN j.status ELSE coalesce(p.status, :pending) END AS status,
           p.last_message_id,
           coalesce(p.messages_synced, 0) AS messages, j.messages AS run_messages, j.messages_per_second,
           CASE WHEN :only_run THEN j.error ELSE p.last_error END AS error, j.run_id, j.status AS run_status,
           p.last_synced_at,
           coalesce(
               p.last_error, c.unreadable_reason, parent.unreadable_reason,
               CASE WHEN c.deleted_at IS NOT NULL THEN 'deleted on Discord' END
           ) AS reason
    FROM (SELECT * FROM sync_progress WHERE tenant_id = :tenant) p
    FULL JOIN (SELECT * FROM channels WHERE tenant_id = :tenant) c ON c.id = p.channel_id
    LEFT JOIN channels parent ON parent.tenant_id = c.tenant_id AND parent.id = c.parent_id
    LEFT JOIN LATERAL (
        SELECT status, messages, messages_per_second, error, run_id
        FROM channel_sync_jobs j
        WHERE j.tenant_id = :tenant AND j.channel_id = coalesce(p.channel_id, c.id)
          AND (CAST(:run_id AS text) IS NULL OR j.run_id = :run_id)
        ORDER BY j.started_at DESC, j.id DESC
        LIMIT 1
    ) j ON true
    WHERE (p.channel_id IS NOT NULL OR (c.deleted_at IS NULL AND c.type = ANY(:message_types)))
      AND (NOT :only_run OR j.run_id IS NOT NULL)
    ORDER BY c.name NULLS LAST, channel_id
    """
)


@dataclass(frozen=True)
class TenantState:
    """One tenant's channels by checkpoint status, messages stored and when a channel last finished syncing."""

    tenant_id: str
    complete: int
    failed: int
    skipped: int
    pending: int
    messages: int
    last_synced_at: datetime | None

    def as_json(self) -> dict:
        data = asdict(self)
        data["last_synced_at"] = self.last_synced_at.isoformat() if self.last_synced_at else None
        return data


@dataclass(frozen=True)
class ChannelState:
    """One channel's checkpoint, last sync and status with why it is not synced (`reason`), and its latest sync
    attempt (or its attempt in the run asked about: `run_id`, `run_status`, `run_messages`; None where none)."""

    channel_id: int
    name: str
    type: int | None
    status: ChannelSyncStatus
    last_message_id: int | None
    messages: int
    run_messages: int | None
    messages_per_second: float | None
    error: str | None
    run_id: str | None
    run_status: str | None
    last_synced_at: datetime | None
    reason: str | None

    def as_json(self) -> dict:
        data = asdict(self)
        # Snowflakes as strings: JSON numbers lose precision past 2**53 in most consumers.
        data["channel_id"] = str(self.channel_id)
        data["last_message_id"] = str(self.last_message_id) if self.last_message_id is not None else None
        data["last_synced_at"] = self.last_synced_at.isoformat() if self.last_synced_at else None
        return data


def tenant_states(conn: sa.Connection, tenant_id: str | None = None) -> list[TenantState]:
    """Every tenant's state (or one tenant's)."""
    rows = conn.execute(_TENANT_OVERVIEW, {"tenant": tenant_id, **_STATUS_PARAMETERS}).mappings()
    return [TenantState(**row) for row in rows]


def channel_states(
    conn: sa.Connection, tenant_id: str, run_id: str | None = None, *, only_run: bool = True
) -> list[ChannelState]:
    """The tenant's channels, each with its checkpoint, status and reason, and its latest attempt's numbers.

    With `run_id`: the numbers of that run's attempt, and only the channels the run attempted (with that attempt's
    status and error), unless `only_run` is False: then every channel, the run's numbers beside those it touched.
    """
    rows = conn.execute(
        _CHANNEL_STATES,
        {
            "tenant": tenant_id,
            "run_id": run_id,
            "only_run": run_id is not None and only_run,
            "message_types": sorted(MESSAGE_BEARING_TYPES),
            "pending": ChannelSyncStatus.PENDING.value,
        },
    ).mappings()
    return [ChannelState(**{**row, "status": ChannelSyncStatus(row["status"])}) for row in rows]
