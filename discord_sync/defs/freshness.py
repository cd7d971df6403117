"""Freshness: a tenant whose last successful sync is older than `SYNC_FRESHNESS_HOURS` shows red and alerts.

The check `tenant_sync_is_fresh` on `messages` (one result per tenant partition) runs after every sync, where it
passes, and the freshness sensor re-evaluates every tenant every few minutes: a tenant that went stale gets a
failed check (red in the UI's asset checks) and one webhook alert, until a sync makes it fresh again. A tenant
never synced counts from the moment it was added.
"""

# No `from __future__ import annotations`: Dagster validates the context and resource annotations as real types.

import json
import time
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.alert_webhook import AlertWebhook
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource, SyncFreshness
from discord_sync.run_names import TENANT_PARTITIONS_NAME
from discord_sync.store.tenants import tenants_added_at

MESSAGES = dg.AssetKey("messages")
CHECK_NAME = "tenant_sync_is_fresh"
FRESHNESS_SENSOR_INTERVAL_SECONDS = 300


@dataclass(frozen=True)
class TenantFreshness:
    """Where one tenant stands: when it last synced successfully (if ever), and whether that is too long ago."""

    tenant_id: str
    last_success: float | None
    age_hours: float
    stale: bool
    run_id: str | None

    def description(self, max_age_hours: float) -> str:
        since = "its last successful sync" if self.last_success is not None else "it was added, and it never synced"
        return (
            f"tenant {self.tenant_id}: {self.age_hours:.1f} h since {since} "
            f"(stale after {max_age_hours:g} h, SYNC_FRESHNESS_HOURS)"
        )


def judge_freshness(
    tenant_id: str, *, last_success: float | None, added_at: float, now: float, max_age_hours: float, run_id: str | None
) -> TenantFreshness:
    """A tenant is stale once `max_age_hours` passed since its last successful sync (or since it was added)."""
    reference = last_success if last_success is not None else added_at
    age_hours = max(0.0, now - reference) / 3600
    return TenantFreshness(tenant_id, last_success, age_hours, age_hours > max_age_hours, run_id)


def _last_success(instance: dg.DagsterInstance, tenant_id: str) -> tuple[float | None, str | None]:
    """When `messages` was last materialized for the tenant (a sync that succeeded), and by which run."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=MESSAGES, asset_partitions=[tenant_id]), limit=1
    )
    if not result.records:
        return None, None
    record = result.records[0]
    return record.timestamp, record.run_id


def tenant_freshness(
    instance: dg.DagsterInstance, engine: sa.Engine, tenant_ids: list[str], *, max_age_hours: float, now: float
) -> list[TenantFreshness]:
    """Judge each tenant that is both a partition and a row of `tenants` (a removed one is not stale)."""
    with engine.connect() as conn:
        added = tenants_added_at(conn)
    judged = []
    for tenant_id in tenant_ids:
        if tenant_id not in added:
            continue
        last_success, run_id = _last_success(instance, tenant_id)
        judged.append(
            judge_freshness(
                tenant_id,
                last_success=last_success,
                added_at=added[tenant_id].timestamp(),
                now=now,
                max_age_hours=max_age_hours,
                run_id=run_id,
            )
        )
    return judged


def _evaluation(state: TenantFreshness, max_age_hours: float) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=MESSAGES,
        check_name=CHECK_NAME,
        partition=state.tenant_id,
        passed=not state.stale,
        severity=dg.AssetCheckSeverity.ERROR,
        description=state.description(max_age_hours),
        metadata={"hours_since_last_success": round(state.age_hours, 2), "max_age_hours": max_age_hours},
    )


@dg.asset_check(
    asset="messages",
    name=CHECK_NAME,
    partitions_def=tenant_partitions,
    description="The tenant's last successful sync is newer than SYNC_FRESHNESS_HOURS (2 h by default).",
)
def tenant_sync_is_fresh(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, freshness: SyncFreshness
) -> dg.AssetCheckResult:
    """Fail when the tenant's last successful sync is older than the set age."""
    states = tenant_freshness(
        context.instance,
        postgres.engine(),
        [context.partition_key],
        max_age_hours=freshness.max_age_hours,
        now=time.time(),
    )
    if not states:
        return dg.AssetCheckResult(passed=True, description=f"tenant {context.partition_key} was removed")
    [state] = states
    return dg.AssetCheckResult(
        passed=not state.stale,
        severity=dg.AssetCheckSeverity.ERROR,
        description=state.description(freshness.max_age_hours),
        metadata={"hours_since_last_success": round(state.age_hours, 2), "max_age_hours": freshness.max_age_hours},
    )


def stale_alert_payload(state: TenantFreshness, max_age_hours: float) -> dict[str, str | float | None]:
    """The JSON body of a stale-tenant alert (same shape as a run-failure alert, plus the age)."""
    return {
        "alert": "tenant_stale",
        "tenant": state.tenant_id,
        "run_id": state.run_id,
        "error": state.description(max_age_hours),
        "hours_since_last_success": round(state.age_hours, 2),
    }


@dg.sensor(
    minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks tenants whose last successful sync is older than SYNC_FRESHNESS_HOURS red and alerts once.",
)
def tenant_freshness_sensor(
    context: dg.SensorEvaluationContext,
    postgres: PostgresResource,
    freshness: SyncFreshness,
    alert_webhook: AlertWebhook,
) -> dg.SensorResult:
    """Fail the freshness check of each newly stale tenant and post it to the webhook; the cursor holds who is stale."""
    already_stale = set(json.loads(context.cursor)) if context.cursor else set()
    states = tenant_freshness(
        context.instance,
        postgres.engine(),
        sorted(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME)),
        max_age_hours=freshness.max_age_hours,
        now=time.time(),
    )
    newly_stale = [s for s in states if s.stale and s.tenant_id not in already_stale]
    for state in newly_stale:
        sent = alert_webhook.post(payload=stale_alert_payload(state, freshness.max_age_hours))
        context.log.warning(
            f"{state.description(freshness.max_age_hours)}; alert {'sent' if sent else 'not configured'}"
        )
    stale_now = sorted(s.tenant_id for s in states if s.stale)
    if not newly_stale:
        return dg.SensorResult(
            skip_reason=f"{len(stale_now)} stale tenant(s), none newly stale", cursor=json.dumps(stale_now)
        )
    return dg.SensorResult(
        asset_events=[_evaluation(state, freshness.max_age_hours) for state in newly_stale],
        cursor=json.dumps(stale_now),
    )
