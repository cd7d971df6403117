"""One tenant's members, roles and reactors, as both the per-tenant assets (`member_assets.py`) and the hourly batch
(`assets.sync_batch`) run them: cheap when nothing is due (no request), and raising `SourceError` when Discord
refuses, for the caller to fail the step or the batch's tenant."""

import asyncio
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from discord_sync.defs.resources import DiscordResource, SyncResource
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.tenants import Tenant
from discord_sync.sync.members import MemberSyncReport, members_due, sync_members
from discord_sync.sync.reactors import ReactorSyncReport, reactor_sync_enabled, sync_reactors


def sync_tenant_members(
    log: Any, discord: DiscordResource, sync: SyncResource, engine: sa.Engine, tenant: Tenant, lane: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """List the guild's roles and members when the member cadence is due (else no request); the `members` and
    `roles` materializations' metadata."""
    if not members_due(engine, tenant.id, timedelta(hours=sync.members_every_hours)):
        report = MemberSyncReport(status="not_due")
    else:

        async def run() -> MemberSyncReport:
            async with discord.source(lane=lane) as source:
                return await sync_members(
                    source, engine, tenant.id, tenant.guild_id, Anonymizer(sync.anonymization_key)
                )

        report = asyncio.run(run())
    if report.status in ("no_intent", "failed"):
        log.warning(f"tenant {tenant.id}: members not synced: {report.reason}")
    return report.metadata(), {"roles": report.roles, "roles_deleted_now": report.roles_deleted}


def sync_tenant_reactors(
    log: Any, discord: DiscordResource, sync: SyncResource, engine: sa.Engine, tenant_id: str, lane: str
) -> dict[str, Any]:
    """Who reacted, for a tenant that opted in, within the run's request budget; the `message_reactors`
    materialization's metadata."""
    if not reactor_sync_enabled(engine, tenant_id) or sync.reactors_request_budget == 0:
        return ReactorSyncReport(enabled=False).metadata()

    async def run() -> ReactorSyncReport:
        async with discord.source(lane=lane) as source:
            return await sync_reactors(
                source,
                engine,
                tenant_id,
                Anonymizer(sync.anonymization_key),
                days=sync.reactors_days,
                budget=sync.reactors_request_budget,
            )

    report = asyncio.run(run())
    if report.reactions_left:
        log.info(f"tenant {tenant_id}: reactor budget used up; the rest is listed by the next runs")
    return report.metadata()
