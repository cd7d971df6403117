"""Asset checks per tenant partition, run after each sync of `messages` (and from the UI on any tenant).

- every visible channel synced or explained: a channel the bot can read messages in has a `complete` checkpoint,
  or a `skipped`/`failed` one that says why (`last_error`);
- no raw user id in the tenant's rows: the audit of `store/raw_id_audit.py` over every text-bearing column the
  database catalog lists, reading only what was written since its last passing run.
"""

# No `from __future__ import annotations`: Dagster validates the `context` annotation as a real type.

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource
from discord_sync.run_names import RAW_ID_FULL_SCAN_TAG
from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.raw_id_audit import audit_tenant
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
    return channels_explained_result(postgres.engine(), _tenant(context))


def channels_explained_result(engine: sa.Engine, tenant_id: str) -> dg.AssetCheckResult:
    """The result of `every_channel_synced_or_explained` for one tenant."""
    with engine.connect() as conn:
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


class RawUserIdAuditConfig(dg.Config):
    """`full_scan`: read every stored row of the tenant, not only those written since the last passing audit."""

    full_scan: bool = False


@dg.asset_check(
    asset="messages",
    partitions_def=tenant_partitions,
    description=(
        "No raw user id in any text, varchar or JSON column of the tenant's rows (the columns come from the "
        "database catalog): no <@id> mention, no discord.com/users/<id> link, every user-hash column a hash. "
        f"Reads the rows written since its last passing run; a full scan with run config full_scan: true or the "
        f"run tag {RAW_ID_FULL_SCAN_TAG}=true."
    ),
)
def no_raw_user_ids(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, config: RawUserIdAuditConfig
) -> dg.AssetCheckResult:
    """Fail if any user id escaped anonymization, with counts per column and a few offending rows' keys."""
    tenant_id = _tenant(context)
    full_scan = config.full_scan or context.run.tags.get(RAW_ID_FULL_SCAN_TAG, "").lower() == "true"
    return raw_user_ids_result(postgres.engine(), tenant_id, full_scan=full_scan)


def raw_user_ids_result(engine: sa.Engine, tenant_id: str, *, full_scan: bool = False) -> dg.AssetCheckResult:
    """The result of `no_raw_user_ids` for one tenant."""
    result = audit_tenant(engine, tenant_id, full_scan=full_scan)
    return dg.AssetCheckResult(
        passed=result.total == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{result.total} row value(s) of {tenant_id} hold a raw user id: run `discord-sync scrub-mentions "
            f"--tenant {tenant_id}`"
            if result.total
            else None
        ),
        metadata={
            "scope": "full scan" if result.since is None else f"rows written since {result.since.isoformat()}",
            "rows_read": sum(result.rows_read.values()),
            "rows_read_by_table": dg.MetadataValue.json(result.rows_read),
            "findings": dg.MetadataValue.json(result.findings),
            "sample": dg.MetadataValue.json(result.sample),
        },
    )


def tenant_check_evaluations(engine: sa.Engine, tenant_id: str) -> list[dg.AssetCheckEvaluation]:
    """Both checks' results for one tenant of a batch run, as evaluations of its partition: a batch run has no
    check steps (a check step of a partition range has no single partition), so its `messages` step records them
    after each tenant's sync, as a tenant's own run would."""
    results = {
        every_channel_synced_or_explained.check_key.name: channels_explained_result(engine, tenant_id),
        no_raw_user_ids.check_key.name: raw_user_ids_result(engine, tenant_id),
    }
    return [
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("messages"),
            check_name=name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
            partition=tenant_id,
        )
        for name, result in results.items()
    ]


tenant_asset_checks = [every_channel_synced_or_explained, no_raw_user_ids]
