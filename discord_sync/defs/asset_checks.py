"""Asset checks per tenant partition, run after each sync of `messages` (and from the UI on any tenant).

- every visible channel synced or explained: a channel the bot can read messages in has a `complete` checkpoint,
  or a `skipped`/`failed` one that says why (`last_error`);
- no raw user id in the tenant's rows: author and mention hashes look like hashes, and no message text still holds
  a `<@123>` mention.
"""

# No `from __future__ import annotations`: Dagster validates the `context` annotation as a real type.

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource
from discord_sync.shaping.anonymize import HASH_HEX_CHARS
from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.sync_status import ChannelSyncStatus

SAMPLE_SIZE = 20

_UNEXPLAINED_CHANNELS = sa.text(
    """
    SELECT c.id, c.name, c.type, p.status, p.last_error
    FROM channels c
    LEFT JOIN sync_progress p ON p.tenant_id = c.tenant_id AND p.channel_id = c.id
    WHERE c.tenant_id = :tenant
      AND c.deleted_at IS NULL
      AND c.type = ANY(:types)
      AND NOT coalesce(p.status = :complete OR (p.status IN (:skipped, :failed) AND p.last_error IS NOT NULL), false)
    ORDER BY c.id
    """
)

_HASH = f"^[0-9a-f]{{{HASH_HEX_CHARS}}}$"
# A raw snowflake mention; a scrubbed one holds a 32-character hash, which {1,20} digits can never match.
_RAW_MENTION = "<@!?[0-9]{1,20}>"

_RAW_USER_IDS = sa.text(
    """
    SELECT
      count(*) FILTER (WHERE author_hash IS NOT NULL AND author_hash !~ :hash) AS bad_author_hashes,
      count(*) FILTER (WHERE EXISTS (SELECT 1 FROM unnest(mentioned_user_hashes) h WHERE h !~ :hash))
        AS bad_mention_hashes,
      count(*) FILTER (WHERE content ~ :mention) AS raw_mentions_in_content,
      (SELECT count(*) FROM channels c WHERE c.tenant_id = :tenant AND c.owner_hash !~ :hash) AS bad_owner_hashes
    FROM messages
    WHERE tenant_id = :tenant
    """
)

_RAW_USER_ID_SAMPLE = sa.text(
    """
    SELECT id FROM messages
    WHERE tenant_id = :tenant
      AND ((author_hash IS NOT NULL AND author_hash !~ :hash) OR content ~ :mention
           OR EXISTS (SELECT 1 FROM unnest(mentioned_user_hashes) h WHERE h !~ :hash))
    ORDER BY id LIMIT :limit
    """
)


def unexplained_channels(conn: sa.Connection, tenant_id: str) -> list[sa.Row]:
    """Visible message-bearing channels with no `complete` checkpoint and no recorded reason for that."""
    return list(
        conn.execute(
            _UNEXPLAINED_CHANNELS,
            {
                "tenant": tenant_id,
                "types": sorted(MESSAGE_BEARING_TYPES),
                "complete": ChannelSyncStatus.COMPLETE.value,
                "skipped": ChannelSyncStatus.SKIPPED.value,
                "failed": ChannelSyncStatus.FAILED.value,
            },
        )
    )


def raw_user_id_counts(conn: sa.Connection, tenant_id: str) -> dict[str, int]:
    """How many of the tenant's rows hold something that is not a user hash where a user hash belongs."""
    row = conn.execute(_RAW_USER_IDS, {"tenant": tenant_id, "hash": _HASH, "mention": _RAW_MENTION}).mappings().one()
    return {key: int(value) for key, value in row.items()}


def _tenant(context: dg.AssetCheckExecutionContext) -> str:
    return context.partition_key


@dg.asset_check(
    asset="messages",
    partitions_def=tenant_partitions,
    description="Every visible channel is synced (complete) or its skip/failure is explained in last_error.",
)
def every_channel_synced_or_explained(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Fail with the list of channels that the last sync neither finished nor explained."""
    tenant_id = _tenant(context)
    with postgres.engine().connect() as conn:
        rows = unexplained_channels(conn, tenant_id)
    sample = [
        {"channel_id": str(r.id), "name": r.name, "type": r.type, "status": r.status or "no checkpoint"}
        for r in rows[:SAMPLE_SIZE]
    ]
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(rows)} channel(s) of {tenant_id} neither synced nor explained" if rows else None,
        metadata={"unexplained_channels": len(rows), "sample": dg.MetadataValue.json(sample)},
    )


@dg.asset_check(
    asset="messages",
    partitions_def=tenant_partitions,
    description="No raw user id in the tenant's rows: every author/mention/owner is a keyed hash, no <@123> in text.",
)
def no_raw_user_ids(context: dg.AssetCheckExecutionContext, postgres: PostgresResource) -> dg.AssetCheckResult:
    """Fail if any user id escaped anonymization, with counts per place and a few offending message ids."""
    tenant_id = _tenant(context)
    with postgres.engine().connect() as conn:
        counts = raw_user_id_counts(conn, tenant_id)
        offenders = list(
            conn.execute(
                _RAW_USER_ID_SAMPLE,
                {"tenant": tenant_id, "hash": _HASH, "mention": _RAW_MENTION, "limit": SAMPLE_SIZE},
            ).scalars()
        )
    total = sum(counts.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{total} row(s) of {tenant_id} hold a raw user id" if total else None,
        metadata={**counts, "sample_message_ids": dg.MetadataValue.json([str(i) for i in offenders])},
    )


tenant_asset_checks = [every_channel_synced_or_explained, no_raw_user_ids]
