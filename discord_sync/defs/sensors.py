"""The new-tenant sensor: a tenant added to `tenants` (by the CLI or plain SQL) becomes a partition and gets synced.

A trigger on `tenants` appends every INSERT and DELETE to `tenant_changes`; the sensor's cursor is the last `seq`
it handled, so each tick reads only what changed since, never the whole `tenants` table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.jobs import sync_tenant_job
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource
from discord_sync.run_names import TENANT_PARTITIONS_NAME
from discord_sync.store.schema import TENANT_ID_PATTERN, tenant_changes

# Bounds one tick's work; a backlog (say a bulk insert of tenants) drains over the following ticks.
MAX_CHANGES_PER_TICK = 500

INITIAL_SYNC_TAG = "discord_sync/initial_sync"


@dataclass(frozen=True)
class TenantChange:
    """One row of `tenant_changes`: a tenant was added or removed."""

    seq: int
    tenant_id: str
    change: str


@dataclass(frozen=True)
class PartitionPlan:
    """What a batch of changes amounts to: tenants to add (with the seq that added them) and tenants to remove."""

    added: dict[str, int]
    removed: list[str]
    invalid: list[str]


def read_tenant_changes(
    conn: sa.Connection, *, after_seq: int, limit: int = MAX_CHANGES_PER_TICK
) -> list[TenantChange]:
    """The changes recorded after `after_seq`, oldest first."""
    rows = conn.execute(
        sa.select(tenant_changes.c.seq, tenant_changes.c.tenant_id, tenant_changes.c.change)
        .where(tenant_changes.c.seq > after_seq)
        .order_by(tenant_changes.c.seq)
        .limit(limit)
    )
    return [TenantChange(seq=row.seq, tenant_id=row.tenant_id, change=row.change) for row in rows]


def plan_partitions(changes: Iterable[TenantChange]) -> PartitionPlan:
    """Collapse a batch to each tenant's last change, so an add and a remove of one tenant never meet in one tick.

    Dagster refuses a tick that both adds and deletes the same partition key, and a tenant added then removed
    before the tick must not be synced.
    """
    last: dict[str, TenantChange] = {}
    invalid: list[str] = []
    for change in changes:
        if not re.fullmatch(TENANT_ID_PATTERN, change.tenant_id):
            invalid.append(change.tenant_id)
            continue
        last[change.tenant_id] = change
    added = {tenant: c.seq for tenant, c in last.items() if c.change == "added"}
    removed = [tenant for tenant, c in last.items() if c.change == "removed"]
    return PartitionPlan(added=added, removed=removed, invalid=invalid)


def _cursor_seq(cursor: str | None) -> int:
    try:
        return int(cursor) if cursor else 0
    except ValueError:
        return 0


@dg.sensor(
    job=sync_tenant_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns each new tenant into a partition and launches its initial full sync; removes removed ones.",
)
def new_tenant_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    """Read `tenant_changes` after the cursor; add/delete tenant partitions and request each new tenant's sync."""
    after_seq = _cursor_seq(context.cursor)
    with postgres.engine().connect() as conn:
        changes = read_tenant_changes(conn, after_seq=after_seq)
    if not changes:
        return dg.SkipReason(f"no tenant changes after seq {after_seq}")

    plan = plan_partitions(changes)
    for tenant_id in plan.invalid:
        context.log.warning(f"ignoring tenant change for {tenant_id!r}: not a valid tenant slug")

    existing = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    to_add = sorted(tenant for tenant in plan.added if tenant not in existing)
    if to_add:
        requests.append(tenant_partitions.build_add_request(to_add))
    to_remove = sorted(tenant for tenant in plan.removed if tenant in existing)
    if to_remove:
        requests.append(tenant_partitions.build_delete_request(to_remove))

    run_requests = [
        dg.RunRequest(
            partition_key=tenant,
            run_key=f"initial:{tenant}:{seq}",
            tags={INITIAL_SYNC_TAG: "true"},
        )
        for tenant, seq in sorted(plan.added.items())
    ]
    context.log.info(
        f"tenant changes {changes[0].seq}..{changes[-1].seq}: added {sorted(plan.added)}, removed {plan.removed}"
    )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=requests,
        cursor=str(changes[-1].seq),
    )
