"""The tenant-partitioned assets: the channel catalog, then messages with their reactions and attachments.

`channels` discovers everything the bot can read in the tenant's guild and returns it as a DataFrame, which the
Postgres IO manager upserts. `messages`, `reactions` and `attachments` are one multi-asset because one pass over
Discord produces all three: it streams batches into PostgreSQL as it fetches (bounded memory, exact resume) and
reports what it wrote in each asset's materialization metadata.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import DiscordResource, PostgresResource, SyncResource
from discord_sync.run_names import PURGE_TAG, RECONCILE_TAG, RESET_CHANNEL_TAG, RESET_TAG, lane_of
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.source.protocol import ChannelListing, SourceError
from discord_sync.store.tenants import TenantError, get_tenant
from discord_sync.sync.catalog import catalog_frame, discovery_memory, previous_catalog, remember_discovery
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
    engine = postgres.engine()
    tenant = _tenant(engine, tenant_id)
    memory = discovery_memory(engine, tenant_id, timedelta(hours=sync.full_thread_listing_hours))

    async def discover() -> tuple[dict, ChannelListing, dict]:
        async with discord.source(lane=lane_of(context.run.tags)) as source:
            guild = await source.describe_community(tenant.guild_id)
            return guild, await source.list_channels(tenant.guild_id, memory), source.stats.as_metadata()

    try:
        guild, listing, stats = asyncio.run(discover())
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    for problem in listing.errors:
        context.log.warning(f"tenant {tenant_id}: {problem}")
    now = datetime.now(UTC)
    previous = previous_catalog(engine, tenant_id)
    frame, disappeared = catalog_frame(tenant_id, listing, previous, Anonymizer(sync.anonymization_key), now)
    remember_discovery(engine, tenant_id, listing.memory)
    threads = int(frame["is_thread"].sum()) if len(frame) else 0
    context.log.info(
        f"tenant {tenant_id}: guild {guild.get('name')!r} has {len(frame) - disappeared - threads} channels and "
        f"{threads} threads/posts readable; {disappeared} disappeared since the last sync"
    )
    return dg.Output(
        frame,
        metadata={
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
        },
    )


def _synced_table(key: str, description: str) -> dg.AssetSpec:
    """One of the tables a tenant's message sync fills, after the channel catalog."""
    return dg.AssetSpec(
        key, deps=["channels"], description=description, group_name="discord", kinds={"discord", "postgres"}
    )


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
    """
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
    sync_run = TenantSync(
        engine=engine,
        tenant_id=tenant_id,
        run_id=context.run.run_id,
        anonymizer=Anonymizer(sync.anonymization_key),
        options=sync.options(),
        log=context.log,
        refresh_policy=sync.refresh_policy(),
    )
    try:
        report = sync_run.run(
            lambda: discord.source(lane=lane_of(tags)),
            reset=reset,
            reset_channel=int(reset_channel) if reset_channel else None,
            reconcile=tags.get(RECONCILE_TAG, "").lower() == "true",
            purge=purge,
        )
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    summary = report.metadata()
    if report.all_failed:
        failures = "; ".join(f"{o.plan.name} ({o.plan.channel_id}): {o.error}" for o in report.outcomes[:5])
        raise dg.Failure(
            f"tenant {tenant_id}: every channel failed, e.g. {failures}", metadata=summary, allow_retries=True
        )
    yield dg.MaterializeResult(asset_key="messages", metadata=summary)
    yield dg.MaterializeResult(asset_key="reactions", metadata={"reactions_synced": summary["reactions_synced"]})
    yield dg.MaterializeResult(asset_key="attachments", metadata={"attachments_synced": summary["attachments_synced"]})
