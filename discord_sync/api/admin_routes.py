"""`/api/admin/queue` (admin): every tenant's queued and running syncs, and whether the Dagster daemon is alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from discord_sync.api.auth import admin_key, database
from discord_sync.api.responses import errors
from discord_sync.api.run_control import run_control
from discord_sync.api.schemas import Queue, QueuedRun
from discord_sync.control.runs import ACTIVE_STATUSES, RunControl
from discord_sync.store.api_keys import ApiKey
from discord_sync.store.tenants import list_tenants

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get(
    "/queue",
    response_model=Queue,
    responses=errors(401, 403),
    summary="Queued and running syncs of every tenant, their position and age, and the daemon's health",
)
def queue(
    _: Annotated[ApiKey, Depends(admin_key)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> Queue:
    with engine.connect() as conn:
        tenant_ids = [tenant.id for tenant in list_tenants(conn)]
    active = [run for tenant_id in tenant_ids for run in runs.tenant_runs(tenant_id, statuses=ACTIVE_STATUSES)]
    now = datetime.now(UTC)
    oldest_first = sorted(active, key=lambda run: run.created_at or now)
    waiting = [run for run in oldest_first if run.status == "queued"]
    return Queue(
        daemon_alive=runs.daemon_is_alive(),
        queued=len(waiting),
        running=len(active) - len(waiting),
        runs=[
            QueuedRun(
                tenant_id=run.tenant_id or "",
                run_id=run.run_id,
                status=run.status,
                position=waiting.index(run) + 1 if run in waiting else None,
                age_seconds=round((now - (run.created_at or now)).total_seconds(), 1),
                created_at=run.created_at,
            )
            for run in oldest_first
        ],
    )
