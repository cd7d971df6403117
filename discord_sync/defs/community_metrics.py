"""Community metrics as tenant-partitioned assets downstream of the copy, materialized after each tenant's sync.

One multi-asset writes the metric tables (docs/metrics.md) in one transaction, for the days the tenant's last sync
changed (`store/community_metrics.py`). The hourly batch computes each synced tenant's metrics itself, right after
its sync, and records them on the tenant's partition (`assets.sync_batch`): an hour of many tenants costs no metrics
run at all. Each metric asset is also `AutomationCondition.eager()`, for every other way a tenant's
`messages`/`reactions` partition gets materialized (an initial sync, a reset, a tenant's own run, a batch tenant
whose metrics failed): the automation condition sensor (running by default) then requests the same tenant's
metrics partition once that run is over; there is no second schedule. Such a run goes through the run queue like a
sync, one per tenant at a time (`dagster.yaml`). Each materialization carries the tenant's latest figures as
numbers, which the UI plots across materializations.
"""

# No `from __future__ import annotations`: Dagster validates the `context` annotation as a real type.

from typing import Any

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import PostgresResource
from discord_sync.run_names import METRICS_SENSOR_NAME, PARTITION_TAG
from discord_sync.store.community_metrics import COUNTED, latest_figures, refresh_community_metrics

METRIC_ASSET_KEYS = (
    "channel_daily_activity",
    "daily_active_members",
    "weekly_retention",
    "responsiveness",
    "member_daily",
)

_DESCRIPTIONS = {
    "channel_daily_activity": "Messages, communicators, new communicators and reactions per channel and UTC day.",
    "daily_active_members": "Distinct communicators per day, over the last 7 and the last 28 days.",
    "weekly_retention": "New communicators of each week and how many of them posted again the next week.",
    "responsiveness": "Time to the first reply by someone else in threads and forum posts (median, p90, <24 h).",
    "member_daily": "Members joining and leaving per day, and how many of a day's new members posted within 7 days.",
}

# Which latest figures each asset's materialization shows.
_FIGURES = {
    "channel_daily_activity": ("latest_day", "messages_latest_day"),
    "daily_active_members": ("latest_day", "daily_active_members", "weekly_active_members", "active_members_28_days"),
    "weekly_retention": ("week_1_retention",),
    "responsiveness": ("threads_last_28_days", "answered_within_24h_share", "median_first_reply_hours"),
    "member_daily": ("joins_last_28_days", "leaves_last_28_days", "activation_rate"),
}


def after_a_tenants_own_sync() -> dg.AutomationCondition:
    """`eager()`, except that only updates of `messages`/`reactions`/`members` by a run of one tenant partition count
    (tag `dagster/partition`: an initial sync, a reset, `sync start`, a tenant retried alone, a materialization from
    the UI): an hourly batch, a run over a range of tenants, computes each tenant's metrics itself.

    One operand answers per partition from one read of the tick's new materializations, so no tick can see a
    batch's update without seeing whose it was. (Dagster's own `executed_with_root_target` looks only at an asset's
    one latest materialization, and `newly_updated() & ~all_new_updates_have_run_tags(...)` reads two windows that
    disagree at their edge while a batch records its tenants: both still let metrics runs through.)"""
    synced_by_a_tenants_own_run = dg.AutomationCondition.any_new_update_has_run_tags(tag_keys={PARTITION_TAG})
    return dg.AutomationCondition.eager().replace(
        "any_deps_updated",
        dg.AutomationCondition.any_deps_match(
            synced_by_a_tenants_own_run | dg.AutomationCondition.will_be_requested()
        ).with_label("any_deps_updated_by_a_tenants_own_run"),
    )


def _metric(key: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        # Joins and leaves come from the member listing; everything else from the messages and reactions.
        deps=["messages", "reactions", *(["members"] if key == "member_daily" else [])],
        description=_DESCRIPTIONS[key],
        group_name="metrics",
        kinds={"postgres"},
        automation_condition=after_a_tenants_own_sync(),
        # A run of several tenants records each tenant's materializations itself and yields no output.
        skippable=True,
    )


# When automation asks for the metrics of many tenants in one tick (after a wave of initial syncs, say), a backfill
# whose runs take up to this many tenants each, not one run per tenant.
METRICS_TENANTS_PER_RUN = 100


@dg.multi_asset(
    specs=[_metric(key) for key in METRIC_ASSET_KEYS],
    partitions_def=tenant_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=METRICS_TENANTS_PER_RUN),
)
def community_metrics(context: dg.AssetExecutionContext, postgres: PostgresResource):
    """Recompute each tenant's community metrics for the days its last sync changed, and report its latest figures
    (a run of several tenants, from automation after many syncs, records each tenant's own materializations)."""
    tenant_ids = list(context.partition_keys)
    for tenant_id in tenant_ids:
        events = tenant_metrics_materializations(context.log, postgres.engine(), tenant_id)
        for event in events:
            if len(tenant_ids) == 1:
                yield dg.MaterializeResult(asset_key=event.asset_key, metadata=event.metadata)
            else:
                context.log_event(event)


def tenant_metrics_materializations(log: Any, engine: sa.Engine, tenant_id: str) -> list[dg.AssetMaterialization]:
    """Recompute one tenant's changed days; each metric asset's materialization of the tenant's partition."""
    return [
        dg.AssetMaterialization(key, partition=tenant_id, metadata=metadata)
        for key, metadata in _refresh_tenant(log, engine, tenant_id).items()
    ]


def _refresh_tenant(log: Any, engine: sa.Engine, tenant_id: str) -> dict[str, dict[str, Any]]:
    """Recompute one tenant's changed days; each metric asset's materialization metadata."""
    with engine.begin() as conn:
        done = refresh_community_metrics(conn, tenant_id)
    with engine.connect() as conn:
        figures = latest_figures(conn, tenant_id)
    log.info(
        f"tenant {tenant_id}: metrics recomputed for {done.changed_days} changed day(s) "
        f"({done.activity_days} activity days, {done.active_member_days} active-member days, "
        f"{done.retention_weeks} weeks, {done.threads} threads)"
    )
    recomputed = {
        "changed_days": done.changed_days,
        "activity_days_recomputed": done.activity_days,
        "active_member_days_recomputed": done.active_member_days,
        "retention_weeks_recomputed": done.retention_weeks,
        "threads_recomputed": done.threads,
        "member_days_recomputed": done.member_days,
    }
    return {
        key: {**{name: figures[name] for name in _FIGURES[key] if figures[name] is not None}, **recomputed}
        for key in METRIC_ASSET_KEYS
    }


metrics_automation_sensor = dg.AutomationConditionSensorDefinition(
    METRICS_SENSOR_NAME,
    target=dg.AssetSelection.assets(*METRIC_ASSET_KEYS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a tenant's community metrics after its messages/reactions are materialized (eager).",
)

_MESSAGE_TOTALS = sa.text(
    f"""SELECT
         (SELECT coalesce(sum(messages), 0) FROM channel_daily_activity WHERE tenant_id = :tenant) AS counted,
         (SELECT count(*) FROM messages m WHERE m.tenant_id = :tenant AND {COUNTED}) AS copy,
         (SELECT count(*) FROM metric_changed_days WHERE tenant_id = :tenant) AS pending"""
)


@dg.asset_check(
    asset="channel_daily_activity",
    partitions_def=tenant_partitions,
    description="The daily message counts add up to the copy's messages that count (people's, not deleted).",
)
def daily_messages_add_up(context: dg.AssetCheckExecutionContext, postgres: PostgresResource) -> dg.AssetCheckResult:
    """Fail when the metric's messages differ from the copy's with no changed day still waiting to be computed (in
    a run of several tenants, when any tenant's do, naming them)."""
    totals = {}
    with postgres.engine().connect() as conn:
        for tenant_id in context.partition_keys:
            row = conn.execute(_MESSAGE_TOTALS, {"tenant": tenant_id}).mappings().one()
            totals[tenant_id] = (int(row["counted"]), int(row["copy"]), int(row["pending"]))
    # Days a sync changed after the refresh are recomputed by the next one: only a difference without them fails.
    wrong = {t: (counted, copy) for t, (counted, copy, pending) in totals.items() if counted != copy and not pending}
    counted, copy, pending = (sum(values) for values in zip(*totals.values(), strict=True))
    return dg.AssetCheckResult(
        passed=not wrong,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{t}: metrics count {c} messages, the copy {k}" for t, (c, k) in wrong.items()) or None,
        metadata={"metric_messages": counted, "copy_messages": copy, "changed_days_pending": pending},
    )


_ACTIVE_MEMBERS = sa.text(
    """SELECT count(*) FROM daily_active_members a
       WHERE a.tenant_id = :tenant AND a.daily <> (SELECT count(*) FROM daily_communicators dc
                                                   WHERE dc.tenant_id = :tenant AND dc.day = a.day)"""
)


@dg.asset_check(
    asset="daily_active_members",
    partitions_def=tenant_partitions,
    description="Each day's daily active members equal the communicators recorded for that day.",
)
def daily_active_members_add_up(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Fail with the number of days whose daily figure disagrees with `daily_communicators` (summed over the run's
    tenants)."""
    with postgres.engine().connect() as conn:
        wrong = sum(
            int(conn.execute(_ACTIVE_MEMBERS, {"tenant": tenant_id}).scalar_one())
            for tenant_id in context.partition_keys
        )
    return dg.AssetCheckResult(
        passed=wrong == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{wrong} day(s) disagree" if wrong else None,
        metadata={"days_disagreeing": wrong},
    )


metrics_asset_checks = [daily_messages_add_up, daily_active_members_add_up]
