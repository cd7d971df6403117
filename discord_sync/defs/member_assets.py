"""The tenant-partitioned assets of who is in the community and who reacted: `members` and `roles` (one pass over
Discord gives both) and `message_reactors` (opt-in per tenant).

Both run in every tenant sync but cost nothing when there is nothing to do: members are listed only when
`SYNC_MEMBERS_EVERY_HOURS` has passed since the last member sync (read from `member_syncs`, no request), and
reactors only for tenants with `who_reacted` on, within `SYNC_REACTORS_REQUEST_BUDGET` requests.
"""

import asyncio
from datetime import timedelta

import dagster as dg

from discord_sync.defs.assets import SYNC_RETRY, _tenant
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import DiscordResource, PostgresResource, SyncResource
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.source.protocol import SourceError
from discord_sync.sync.members import MemberSyncReport, members_due, sync_members
from discord_sync.sync.reactors import ReactorSyncReport, reactor_sync_enabled, sync_reactors


def _spec(key: str, description: str, deps: list[str]) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=deps, description=description, group_name="discord", kinds={"discord", "postgres"})


@dg.multi_asset(
    specs=[
        _spec(
            "members", "The guild's members, anonymized: hash, join time, roles, bot, pending, boosting.", ["channels"]
        ),
        _spec("roles", "The guild's roles: name, colour, position, permissions, managed, mentionable.", ["channels"]),
    ],
    partitions_def=tenant_partitions,
    retry_policy=SYNC_RETRY,
)
def members(
    context: dg.AssetExecutionContext, discord: DiscordResource, sync: SyncResource, postgres: PostgresResource
):
    """List the guild's roles and members when the member cadence is due; otherwise skip without a request.

    Without the Server Members intent only the roles are read and `member_syncs.reason` says why members are not."""
    tenant_id = context.partition_key
    engine = postgres.engine()
    tenant = _tenant(engine, tenant_id)
    if not members_due(engine, tenant_id, timedelta(hours=sync.members_every_hours)):
        report = MemberSyncReport(status="not_due")
    else:

        async def run() -> MemberSyncReport:
            async with discord.source(postgres.url()) as source:
                return await sync_members(
                    source, engine, tenant_id, tenant.guild_id, Anonymizer(sync.anonymization_key)
                )

        try:
            report = asyncio.run(run())
        except SourceError as error:
            raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    if report.status in ("no_intent", "failed"):
        context.log.warning(f"tenant {tenant_id}: members not synced: {report.reason}")
    summary = report.metadata()
    yield dg.MaterializeResult(asset_key="members", metadata=summary)
    yield dg.MaterializeResult(
        asset_key="roles", metadata={"roles": report.roles, "roles_deleted_now": report.roles_deleted}
    )


@dg.asset(
    partitions_def=tenant_partitions,
    retry_policy=SYNC_RETRY,
    deps=["reactions"],
    group_name="discord",
    kinds={"discord", "postgres"},
)
def message_reactors(
    context: dg.AssetExecutionContext, discord: DiscordResource, sync: SyncResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Who reacted to the last `SYNC_REACTORS_DAYS` days of messages, for tenants that opted in: reactions whose
    counts changed since their last listing, within `SYNC_REACTORS_REQUEST_BUDGET` requests per run."""
    tenant_id = context.partition_key
    engine = postgres.engine()
    _tenant(engine, tenant_id)
    if not reactor_sync_enabled(engine, tenant_id) or sync.reactors_request_budget == 0:
        return dg.MaterializeResult(metadata=ReactorSyncReport(enabled=False).metadata())

    async def run() -> ReactorSyncReport:
        async with discord.source(postgres.url()) as source:
            return await sync_reactors(
                source,
                engine,
                tenant_id,
                Anonymizer(sync.anonymization_key),
                days=sync.reactors_days,
                budget=sync.reactors_request_budget,
            )

    try:
        report = asyncio.run(run())
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    if report.reactions_left:
        context.log.info(f"tenant {tenant_id}: reactor budget used up; the rest is listed by the next runs")
    return dg.MaterializeResult(metadata=report.metadata())
