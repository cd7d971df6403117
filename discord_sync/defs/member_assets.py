"""The tenant-partitioned assets of who is in the community and who reacted: `members` and `roles` (one pass over
Discord gives both) and `message_reactors` (opt-in per tenant).

Both run in every tenant sync but cost nothing when there is nothing to do: members are listed only when
`SYNC_MEMBERS_EVERY_HOURS` has passed since the last member sync (read from `member_syncs`, no request), and
reactors only for tenants with `who_reacted` on, within `SYNC_REACTORS_REQUEST_BUDGET` requests.
"""

import dagster as dg

from discord_sync.defs.assets import SYNC_RETRY, _tenant
from discord_sync.defs.member_steps import sync_tenant_members, sync_tenant_reactors
from discord_sync.defs.partitions import tenant_partitions
from discord_sync.defs.resources import DiscordResource, PostgresResource, SyncResource
from discord_sync.run_names import lane_of
from discord_sync.source.protocol import SourceError


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
    try:
        members_summary, roles_summary = sync_tenant_members(
            context.log, discord, sync, engine, tenant, lane_of(context.run.tags)
        )
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    yield dg.MaterializeResult(asset_key="members", metadata=members_summary)
    yield dg.MaterializeResult(asset_key="roles", metadata=roles_summary)


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
    try:
        summary = sync_tenant_reactors(context.log, discord, sync, engine, tenant_id, lane_of(context.run.tags))
    except SourceError as error:
        raise dg.Failure(f"tenant {tenant_id}: {error}", allow_retries=False) from None
    return dg.MaterializeResult(metadata=summary)
