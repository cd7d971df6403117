"""Where each tenant's sync stands, read from `sync_progress`, `channel_sync_jobs` and `channels`.

These are the numbers `discord-sync sync status` prints; the Dagster run status is added by the command.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa

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

# One row per channel with a checkpoint: its progress plus its latest attempt (or the attempt of one run). Without a
# run, status and error are the channel's current ones: a channel skipped for its permissions has no attempt.
_CHANNEL_STATES = sa.text(
    """
    SELECT p.channel_id, coalesce(c.name, '?') AS name, c.type,
           CASE WHEN CAST(:run_id AS text) IS NULL THEN p.status ELSE j.status END AS status, p.last_message_id,
           p.messages_synced AS messages, j.messages AS run_messages, j.messages_per_second,
           CASE WHEN CAST(:run_id AS text) IS NULL THEN p.last_error ELSE j.error END AS error, j.run_id,
           p.last_synced_at
    FROM sync_progress p
    LEFT JOIN channels c ON c.tenant_id = p.tenant_id AND c.id = p.channel_id
    LEFT JOIN LATERAL (
        SELECT status, messages, messages_per_second, error, run_id
        FROM channel_sync_jobs j
        WHERE j.tenant_id = p.tenant_id AND j.channel_id = p.channel_id
          AND (CAST(:run_id AS text) IS NULL OR j.run_id = :run_id)
        ORDER BY j.started_at DESC, j.id DESC
        LIMIT 1
    ) j ON true
    WHERE p.tenant_id = :tenant
      AND (CAST(:run_id AS text) IS NULL OR j.run_id IS NOT NULL)
    ORDER BY c.name NULLS LAST, p.channel_id
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
    """One channel's checkpoint and its latest sync attempt (or its attempt in the run asked about)."""

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
    last_synced_at: datetime | None

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


def channel_states(conn: sa.Connection, tenant_id: str, run_id: str | None = None) -> list[ChannelState]:
    """The tenant's channels; with `run_id`, only those the run attempted, with that attempt's numbers."""
    rows = conn.execute(_CHANNEL_STATES, {"tenant": tenant_id, "run_id": run_id}).mappings()
    return [ChannelState(**{**row, "status": ChannelSyncStatus(row["status"])}) for row in rows]
