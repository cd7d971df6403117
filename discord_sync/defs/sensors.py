"""The new-tenant sensor: a tenant added to `tenants` (by the CLI or plain SQL) becomes a partition and gets synced.

Each tick that has something to do compares the `tenants` table with the `tenants` dynamic partitions and
reconciles both ways: a tenant without a partition gets one and an initial sync run; a partition without a tenant
is deleted. No cursor over the change log decides what happened, because a cursor can be overtaken: two tenants
inserted in two transactions can commit in the opposite order of their `seq`, and the one with the lower `seq`
would become visible behind the cursor and be missed for good. The change log (`tenant_changes`, filled by a
trigger on `tenants`) only wakes the sensor: its highest `seq` and its row count are the cursor, and a late commit
changes the count even when it does not raise the highest `seq`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.jobs import sync_tenant_job
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource
from discord_sync.run_names import INITIAL_SYNC_TAG, TENANT_PARTITIONS_NAME, with_lane
from discord_sync.store.schema import tenant_changes, tenants

# Bounds one tick's work; a backlog (say a bulk insert of tenants) drains over the following ticks.
MAX_TENANTS_PER_TICK = 500

__all__ = ["INITIAL_SYNC_TAG", "ChangeLogMark", "ReconcilePlan", "new_tenant_sensor", "plan_reconcile"]


@dataclass(frozen=True)
class ChangeLogMark:
    """How far `tenant_changes` has got: its highest `seq` and its row count. Any commit to it changes one of them
    (a late commit of a lower `seq` changes the count), so an unchanged mark means nothing changed."""

    max_seq: int
    count: int
    # The last tick left work for the next one (more than MAX_TENANTS_PER_TICK tenants to add or remove).
    more: bool = False

    def encode(self) -> str:
        """The sensor cursor for this mark."""
        return f"{self.max_seq}:{self.count}" + (":more" if self.more else "")

    @staticmethod
    def decode(cursor: str | None) -> ChangeLogMark | None:
        """The mark a cursor holds; None without one. A cursor from before marks (a plain `seq`) gives a mark that
        matches no log, so the next tick reconciles."""
        if cursor and cursor.isdigit():
            return ChangeLogMark(int(cursor), -1)
        parts = (cursor or "").split(":")
        if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts[:2]):
            return None
        return ChangeLogMark(int(parts[0]), int(parts[1]), more=parts[2:] == ["more"])

    def same_log(self, other: ChangeLogMark | None) -> bool:
        return other is not None and (self.max_seq, self.count) == (other.max_seq, other.count)


@dataclass(frozen=True)
class ReconcilePlan:
    """What one tick does: partitions to add and delete, the initial syncs to request (tenant -> created_at), and
    whether tenants were left for the next tick."""

    add: list[str]
    remove: list[str]
    initial_syncs: dict[str, datetime]
    more: bool


def read_change_log_mark(conn: sa.Connection) -> ChangeLogMark:
    """The highest `seq` and the row count of `tenant_changes` (one cheap aggregate)."""
    row = conn.execute(sa.select(sa.func.coalesce(sa.func.max(tenant_changes.c.seq), 0), sa.func.count())).one()
    return ChangeLogMark(max_seq=int(row[0]), count=int(row[1]))


def read_tenant_creations(conn: sa.Connection) -> dict[str, datetime]:
    """Every tenant's id with the time it was created (ids only: a set of 5,000 is one small query)."""
    return {row.id: row.created_at for row in conn.execute(sa.select(tenants.c.id, tenants.c.created_at))}


def read_added_since(conn: sa.Connection, after_seq: int, limit: int = MAX_TENANTS_PER_TICK) -> set[str]:
    """Tenants with an `added` change after `after_seq`: among them, those removed and added again between two
    ticks, whose partition never went away but whose data did, so they need a new initial sync."""
    rows = conn.execute(
        sa.select(tenant_changes.c.tenant_id)
        .where(tenant_changes.c.seq > after_seq, tenant_changes.c.change == "added")
        .order_by(tenant_changes.c.seq.desc())
        .limit(limit)
    )
    return {row.tenant_id for row in rows}


def plan_reconcile(
    creations: Mapping[str, datetime],
    partitions: Iterable[str],
    added_since: Iterable[str] = (),
    limit: int = MAX_TENANTS_PER_TICK,
) -> ReconcilePlan:
    """Compare tenants with partitions: add the missing ones (each with an initial sync), delete the orphans, and
    request an initial sync for tenants added again since the last tick; at most `limit` of each per tick."""
    existing = set(partitions)
    missing = sorted(set(creations) - existing)
    orphans = sorted(existing - set(creations))
    add, remove = missing[:limit], orphans[:limit]
    initial = {tenant: creations[tenant] for tenant in add}
    initial.update({tenant: creations[tenant] for tenant in added_since if tenant in creations})
    return ReconcilePlan(
        add=add, remove=remove, initial_syncs=initial, more=len(missing) > limit or len(orphans) > limit
    )


def initial_sync_run_key(tenant_id: str, created_at: datetime) -> str:
    """The run key of a tenant's initial sync: one per creation of the tenant, so Dagster launches it once even
    when several ticks ask for it, and a tenant removed and added again gets a new one."""
    return f"initial:{tenant_id}:{created_at.isoformat()}"


@dg.sensor(
    job=sync_tenant_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns each new tenant into a partition and launches its initial full sync; removes removed ones.",
)
def new_tenant_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    """When `tenant_changes` moved, reconcile the `tenants` table with the partitions and request initial syncs."""
    previous = ChangeLogMark.decode(context.cursor)
    with postgres.engine().connect() as conn:
        mark = read_change_log_mark(conn)
        if previous is not None and mark.same_log(previous) and not previous.more:
            return dg.SkipReason(f"tenant changes unchanged (seq {mark.max_seq}, {mark.count} rows)")
        creations = read_tenant_creations(conn)
        added_since = read_added_since(conn, previous.max_seq) if previous is not None else set()

    plan = plan_reconcile(creations, context.instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME), added_since)
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if plan.add:
        requests.append(tenant_partitions.build_add_request(plan.add))
    if plan.remove:
        requests.append(tenant_partitions.build_delete_request(plan.remove))
    run_requests = [
        dg.RunRequest(
            partition_key=tenant,
            run_key=initial_sync_run_key(tenant, created_at),
            tags=with_lane({INITIAL_SYNC_TAG: "true"}),
        )
        for tenant, created_at in sorted(plan.initial_syncs.items())
    ]
    context.log.info(
        f"tenants {len(creations)}: partitions added {plan.add}, removed {plan.remove}, "
        f"initial syncs {sorted(plan.initial_syncs)}" + (" (more next tick)" if plan.more else "")
    )
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=requests,
        cursor=ChangeLogMark(mark.max_seq, mark.count, more=plan.more).encode(),
    )
