"""The tenant-partitioned assets: the channel catalog, then messages with their reactions and attachments.

`channels` discovers everything the bot can read in the tenant's guild and returns it as a DataFrame, which the
Postgres IO manager upserts. `messages`, `reactions` and `attachments` are one multi-asset because one pass over
Discord produces all three: it streams batches into PostgreSQL as it fetches (bounded memory, exact resume) and
reports what it wrote in each asset's materialization metadata.

A run of the hourly batch job covers a range of tenant partitions: its `messages` step (`sync_batch`) refreshes each
tenant's catalog and syncs its messages, several tenants at once, and records each tenant's materializations and
checks on its own partition; a tenant that fails gets none and is retried alone.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from discord_sync.defs.asset_checks import tenant_check_evaluations
from discord_sync.defs.community_metrics import tenant_metrics_materializations
from discord_sync.defs.member_steps import sync_tenant_members, sync_tenant_reactors
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import DiscordResource, PostgresResource, SyncResource
from discord_sync.run_names import (
    BATCH_JOB_NAME,
    FAILED_TENANTS_TAG,
    PURGE_TAG,
    RECONCILE_TAG,
    RESET_CHANNEL_TAG,
    RESET_TAG,
    lane_of,
)
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.source.protocol import ChannelListing, SourceError
from discord_sync.store.schema import metadata
from discord_sync.store.tenants import TenantError, get_tenant
from discord_sync.store.writer import upsert_frame
from discord_sync.sync.catalog import catalog_frame, discovery_memory, previous_catalog, remember_discovery
from discord_sync.sync.report import TenantSyncReport
from discord_sync.sync.tenant_batch import TenantOutcome, run_tenant_batch
from discord_sync.sync.tenant_run import TenantSync

SYNC_RETRY = dg.RetryPolicy(max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL)


def _tenant(engine: sa.Engine, tenant_id: str):
    try:
        with engine.connect() as conn:
            return get_tenant(conn, tenant_id)
    except TenantError as error:
        raise dg.Failure(str(error), allow_retries=False) from None


@dg.asset(
    partitions_def=tenant_partitions,
    retry_policy=SYNC_RETRY,
    group_name="discord",
    kinds={"discord", "postgres"},
)
def channels(
    context: dg.AssetExecutionContext, discord: DiscordResource, sync: SyncResource, postgres: PostgresResource
) -> dg.Output[pd.DataFrame]:
    """The tenant's channel catalog: channels, categories, threads, forum and media posts, each with whether the
    bot's permissions let it read it.

    Channels that disappeared are kept with `deleted_at` set, so their history stays queryable. Archived threads
    are listed only where something changed, and completely on a schedule (`discovery.py`).
    """
    tenant_id = context.partition_key
    try:
        frame, catalog = discover_tenant(
            context.log, discord, sync, postgres.engine(), tenant_id, lane_of(context.run.tags)
        )
    except TenantError as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    return dg.Output(frame, metadata=catalog)


def discover_tenant(
    log: Any, discord: DiscordResource, sync: SyncResource, engine: sa.Engine, tenant_id: str, lane: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Discover one tenant's channels: the catalog frame to upsert and the `channels` materialization's metadata.
    Raises `TenantError` for an unknown tenant, `SourceError` when Discord refuses."""
    with engine.connect() as conn:
        tenant = get_tenant(conn, tenant_id)
    memory = discovery_memory(engine, tenant_id, timedelta(hours=sync.full_thread_listing_hours))

    async def discover() -> tuple[dict, ChannelListing, dict]:
        async with discord.source(lane=lane) as source:
            guild = await source.describe_community(tenant.guild_id)
            return guild, await source.list_channels(tenant.guild_id, memory), source.stats.as_metadata()

    guild, listing, stats = asyncio.run(discover())
    for problem in listing.errors:
        log.warning(f"tenant {tenant_id}: {problem}")
    now = datetime.now(UTC)
    previous = previous_catalog(engine, tenant_id)
    frame, disappeared = catalog_frame(tenant_id, listing, previous, Anonymizer(sync.anonymization_key), now)
    remember_discovery(engine, tenant_id, listing.memory)
    threads = int(frame["is_thread"].sum()) if len(frame) else 0
    log.info(
        f"tenant {tenant_id}: guild {guild.get('name')!r} has {len(frame) - disappeared - threads} channels and "
        f"{threads} threads/posts readable; {disappeared} disappeared since the last sync"
    )
    return frame, {
        "guild_name": str(guild.get("name", "")),
        "channels": len(frame) - disappeared - threads,
        "threads_and_posts": threads,
        "channels_disappeared": disappeared,
        "listings_refused": len(listing.errors),
        "channels_not_readable": len(listing.unreadable),
        "archived_listings": listing.requests.get("listings", 0),
        "archived_listing_pages": listing.requests.get("archived_pages", 0),
        "threads_read_by_id": listing.requests.get("threads_read", 0),
        **stats,
    }


def _synced_table(key: str, description: str) -> dg.AssetSpec:
    """One of the tables a tenant's message sync fills, after the channel catalog. Skippable: a batch run reports
    each tenant's materializations itself, per partition, and yields no output for the whole range."""
    return dg.AssetSpec(
        key,
        deps=["channels"],
        description=description,
        group_name="discord",
        kinds={"discord", "postgres"},
        skippable=True,
    )


class AllChannelsFailed(RuntimeError):
    """Every channel of a tenant failed: the tenant's sync failed (a retry may succeed)."""

    def __init__(self, tenant_id: str, report: TenantSyncReport) -> None:
        failures = "; ".join(f"{o.plan.name} ({o.plan.channel_id}): {o.error}" for o in report.outcomes[:5])
        super().__init__(f"tenant {tenant_id}: every channel failed, e.g. {failures}")
        self.summary = report.metadata()


def _materializations(tenant_id: str | None, summary: dict[str, Any]) -> list[dg.AssetMaterialization]:
    """What one tenant's successful message sync materializes: `messages`, `reactions`, `attachments`."""
    return [
        dg.AssetMaterialization("messages", partition=tenant_id, metadata=summary),
        dg.AssetMaterialization(
            "reactions", partition=tenant_id, metadata={"reactions_synced": summary["reactions_synced"]}
        ),
        dg.AssetMaterialization(
            "attachments", partition=tenant_id, metadata={"attachments_synced": summary["attachments_synced"]}
        ),
    ]


@dg.multi_asset(
    specs=[
        _synced_table("messages", "Messages with anonymized authors and mentions, replies linked."),
        _synced_table("reactions", "Emoji reaction counts per message (Unicode and custom emoji)."),
        _synced_table("attachments", "Attachment metadata and URLs per message."),
    ],
    partitions_def=tenant_partitions,
    retry_policy=SYNC_RETRY,
)
def messages(
    context: dg.AssetExecutionContext, discord: DiscordResource, sync: SyncResource, postgres: PostgresResource
):
    """Fetch every changed channel's new messages in parallel and stream them into PostgreSQL.

    A run tagged `discord_sync/reset=true` forgets the tenant's checkpoints and attempts first (stored messages stay,
    are read again, and deletions are confirmed by a re-read); `discord_sync/reset_channel=<id>` does so for one
    channel; `discord_sync/purge=true` beside either also deletes the stored messages first. Recent history is re-read as the refresh policy
    says (edits, reactions, deletions); `discord_sync/reconcile=true` re-reads the whole stored history.

    A run of the batch job (`sync_tenant_batch`, a range of tenant partitions) syncs each tenant of the range instead
    (`sync_batch`).
    """
    if context.job_name == BATCH_JOB_NAME:
        sync_batch(context, discord, sync, postgres)
        return
    tenant_id = context.partition_key
    engine = postgres.engine()
    _tenant(engine, tenant_id)
    tags = context.run.tags
    reset = tags.get(RESET_TAG, "").lower() == "true"
    reset_channel = tags.get(RESET_CHANNEL_TAG)
    if reset_channel is not None and not reset_channel.isdigit():
        raise dg.Failure(
            f"tag {RESET_CHANNEL_TAG} must be a channel id (digits), got {reset_channel!r}", allow_retries=False
        )
    purge = tags.get(PURGE_TAG, "").lower() == "true"
    if purge and not (reset or reset_channel):
        raise dg.Failure(
            f"tag {PURGE_TAG} deletes stored messages only as part of a reset: add {RESET_TAG}=true or "
            f"{RESET_CHANNEL_TAG}=<channel id>",
            allow_retries=False,
        )
    try:
        summary = sync_tenant_messages(
            context.log,
            discord,
            sync,
            engine,
            tenant_id,
            context.run.run_id,
            lane_of(tags),
            reset=reset,
            reset_channel=int(reset_channel) if reset_channel else None,
            reconcile=tags.get(RECONCILE_TAG, "").lower() == "true",
            purge=purge,
        )
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    except AllChannelsFailed as error:
        raise dg.Failure(str(error), metadata=error.summary, allow_retries=True) from None
    for event in _materializations(None, summary):
        yield dg.MaterializeResult(asset_key=event.asset_key, metadata=event.metadata)


def sync_tenant_messages(
    log: Any,
    discord: DiscordResource,
    sync: SyncResource,
    engine: sa.Engine,
    tenant_id: str,
    run_id: str,
    lane: str,
    **how: Any,
) -> dict[str, Any]:
    """Sync one tenant's new messages (a reset, purge or reconcile as `how` says) and return the `messages`
    materialization's metadata. Raises `SourceError` when Discord refuses, `AllChannelsFailed` when no channel
    could be synced."""
    sync_run = TenantSync(
        engine=engine,
        tenant_id=tenant_id,
        run_id=run_id,
        anonymizer=Anonymizer(sync.anonymization_key),
        options=sync.options(),
        log=log,
        refresh_policy=sync.refresh_policy(),
    )
    report = sync_run.run(lambda: discord.source(lane=lane), **how)
    if report.all_failed:
        raise AllChannelsFailed(tenant_id, report)
    return report.metadata()


def batch_sync_run_id(run_id: str, tenant_id: str) -> str:
    """The id a tenant's sync in a batch run has in `sync_runs`: one run holds several tenants' syncs."""
    return f"{run_id}:{tenant_id}"


# A batch run's Dagster storage connections: one held, and a few more while tenants' warnings are written at once.
EVENT_LOG_CONNECTIONS_OVERFLOW = 4


def hold_event_log_connections(instance: dg.DagsterInstance) -> None:
    """Let this run worker keep its connections to Dagster's PostgreSQL storage between events, as the webserver
    does. Outside the webserver dagster-postgres opens a new connection for every event it writes (no setting says
    otherwise: dagster-io/dagster#20325, #33935); here that is 12 ms an event against 2.6 ms on a held connection,
    and a batch run writes about fifteen events per tenant. The run worker's process ends with the run, and its
    connections with it."""
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=EVENT_LOG_CONNECTIONS_OVERFLOW)


class BatchTenantLog:
    """Where a batch tenant's lines go. Its progress lines (catalog, each channel started and finished, the sync's
    totals, the metrics) go to the `discord_sync.batch` Python logger at DEBUG, which the run's event log leaves out
    at `python_log_level: INFO` (dagster.yaml): a hundred tenants' lines would be most of a batch run's event writes,
    and each tenant's materializations carry the same figures. Its warnings and errors stay in the run's log."""

    _progress = logging.getLogger("discord_sync.batch")

    def __init__(self, run_log: Any) -> None:
        self._run_log = run_log

    def info(self, message: str) -> None:
        self._progress.debug(message)

    debug = info

    def warning(self, message: str) -> None:
        self._run_log.warning(message)

    def error(self, message: str) -> None:
        self._run_log.error(message)


def sync_batch(
    context: dg.AssetExecutionContext, discord: DiscordResource, sync: SyncResource, postgres: PostgresResource
) -> None:
    """Sync every tenant of the run's partition range side by side (`run_tenant_batch`), each its channel catalog
    then its new messages, members (when due), reactors (when opted in) and community metrics, and record each
    tenant's own materializations of `channels`, `messages`, `reactions`, `attachments` and the metric assets for
    its partition (`members` and `roles` when they were listed, `message_reactors` when the tenant opted in), with
    its checks. A tenant that fails gets none: it is logged, named in the run's
    `discord_sync/failed_tenants` tag and retried alone (`batch_retry_sensor`); the others are not held back.
    Only when every tenant fails does the run fail (Discord or the database down: the whole batch is retried)."""
    hold_event_log_connections(context.instance)
    engine = postgres.engine()
    lane = lane_of(context.run.tags)
    run_id = context.run.run_id
    log = BatchTenantLog(context.log)

    def sync_one(tenant_id: str) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
        frame, catalog = discover_tenant(log, discord, sync, engine, tenant_id, lane)
        with engine.begin() as conn:
            catalog["rows_upserted"] = upsert_frame(conn, metadata.tables["channels"], frame, skip_unchanged=False)
        summary = sync_tenant_messages(
            log, discord, sync, engine, tenant_id, batch_sync_run_id(run_id, tenant_id), lane
        )
        # Members on their cadence and who reacted (opt-in), as the per-tenant job's own assets do: nothing is asked
        # of Discord when neither is due, and then nothing is recorded either (their partitions keep showing the
        # last listing).
        members, roles = sync_tenant_members(log, discord, sync, engine, _tenant(engine, tenant_id), lane)
        reactors = sync_tenant_reactors(log, discord, sync, engine, tenant_id, lane)
        events: list[dg.AssetMaterialization | dg.AssetCheckEvaluation] = [
            dg.AssetMaterialization("channels", partition=tenant_id, metadata=catalog),
            *_materializations(tenant_id, summary),
        ]
        if members["status"] != "not_due":
            events.append(dg.AssetMaterialization("members", partition=tenant_id, metadata=members))
            events.append(dg.AssetMaterialization("roles", partition=tenant_id, metadata=roles))
        if reactors["who_reacted"]:
            events.append(dg.AssetMaterialization("message_reactors", partition=tenant_id, metadata=reactors))
        # Its community metrics too: a tenant whose metrics fail fails in the batch and is retried alone.
        events += tenant_metrics_materializations(log, engine, tenant_id)
        return events + tenant_check_evaluations(engine, tenant_id)

    tenant_ids = list(context.partition_keys)
    context.log.info(f"batch of {len(tenant_ids)} tenants: {tenant_ids[0]} .. {tenant_ids[-1]}")

    def record(outcome: TenantOutcome[list[dg.AssetMaterialization | dg.AssetCheckEvaluation]]) -> None:
        """A tenant's materializations and checks as soon as it is done, while the others sync."""
        if not outcome.ok:
            context.log.error(f"tenant {outcome.tenant_id} failed in its batch (retried alone): {outcome.error}")
        for event in outcome.value or []:
            context.log_event(event)

    outcomes = run_tenant_batch(tenant_ids, sync_one, on_done=record)
    run = context.instance.get_run_by_id(run_id)
    if run is not None and run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED):
        # The tenants left failed because the run is being canceled (the Discord resource opens no session then):
        # neither a retry of the step nor a retry of each tenant, the run ends CANCELED.
        raise dg.Failure(f"the batch run was canceled after {sum(o.ok for o in outcomes)} tenants", allow_retries=False)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        context.instance.add_run_tags(run_id, {FAILED_TENANTS_TAG: ",".join(o.tenant_id for o in failed)})
    if len(failed) == len(outcomes):
        raise dg.Failure(
            f"every tenant of the batch failed, e.g. {failed[0].tenant_id}: {failed[0].error}", allow_retries=True
        )
    context.log.info(f"batch done: {len(outcomes) - len(failed)} tenants synced, {len(failed)} failed")
