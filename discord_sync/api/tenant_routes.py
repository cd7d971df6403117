"""`/api/tenants`: create (admin), read with onboarding state, remove (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response

from discord_sync.api.auth import admin_key, admin_tenant, database, visible_tenant
from discord_sync.api.errors import ApiError
from discord_sync.api.onboarding import next_hourly_sync, onboarding_state
from discord_sync.api.responses import errors
from discord_sync.api.run_control import run_control
from discord_sync.api.schemas import SyncRunSummary, TenantCreate, TenantOut, TenantSettings
from discord_sync.control.runs import ACTIVE_STATUSES, RunControl
from discord_sync.store.api_keys import ApiKey
from discord_sync.store.reactors import set_who_reacted
from discord_sync.store.sync_runs import first_success, run_history
from discord_sync.store.tenants import Tenant, TenantError, add_tenant, get_tenant, remove_tenant

router = APIRouter(prefix="/api/tenants", tags=["tenants"])


def tenant_view(engine: sa.Engine, runs: RunControl, tenant: Tenant) -> TenantOut:
    """The tenant with its onboarding state, last sync, active run and next scheduled sync."""
    with engine.connect() as conn:
        latest = run_history(conn, tenant.id, limit=1)
        completed_at = first_success(conn, tenant.id)
    latest_runs = runs.tenant_runs(tenant.id, limit=1)
    active = runs.tenant_runs(tenant.id, statuses=ACTIVE_STATUSES, limit=1)
    last_sync = latest[0] if latest else None
    return TenantOut(
        id=tenant.id,
        name=tenant.name,
        platform=tenant.platform,
        guild_id=str(tenant.guild_id),
        created_at=tenant.created_at,
        who_reacted=tenant.who_reacted,
        onboarding=onboarding_state(
            first_success_at=completed_at, latest_sync=last_sync, latest_run=latest_runs[0] if latest_runs else None
        ),
        last_sync=SyncRunSummary.of(last_sync) if last_sync else None,
        active_run_id=active[0].run_id if active else None,
        next_sync_due=next_hourly_sync(datetime.now(UTC)),
    )


@router.post(
    "",
    status_code=201,
    response_model=TenantOut,
    responses=errors(400, 401, 403, 409, 413, 415, 422),
    summary="Add a tenant (admin); its initial sync is queued within seconds",
)
def create_tenant(
    body: TenantCreate,
    request: Request,
    _: Annotated[ApiKey, Depends(admin_key)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> TenantOut:
    request.state.audit_tenant_id = body.id
    try:
        with engine.begin() as conn:
            tenant = add_tenant(conn, body.id, body.guild_id, body.name)
    except (TenantError, sa.exc.IntegrityError):
        # The body is valid (checked above), so what remains is a duplicate id or guild.
        raise ApiError(
            409, "conflict", f"a tenant with id {body.id!r} or guild {body.guild_id} already exists"
        ) from None
    with engine.connect() as conn:
        created = get_tenant(conn, tenant.id)
    return tenant_view(engine, runs, created)


@router.get(
    "/{tenant_id}",
    response_model=TenantOut,
    responses=errors(401, 404),
    summary="A tenant, its onboarding state, its last sync and when the next is due",
)
def read_tenant(
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> TenantOut:
    return tenant_view(engine, runs, tenant)


@router.patch(
    "/{tenant_id}",
    response_model=TenantOut,
    responses=errors(400, 401, 404, 413, 415, 422),
    summary="Change a tenant's options (its own key or admin): `who_reacted`",
)
def update_tenant(
    body: TenantSettings,
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> TenantOut:
    if body.who_reacted is not None:
        with engine.begin() as conn:
            set_who_reacted(conn, tenant.id, body.who_reacted)
    with engine.connect() as conn:
        return tenant_view(engine, runs, get_tenant(conn, tenant.id))


@router.delete(
    "/{tenant_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404),
    summary="Remove a tenant and all of its synced data (admin), as `discord-sync tenant remove` does",
)
def delete_tenant(
    tenant: Annotated[Tenant, Depends(admin_tenant)], engine: Annotated[sa.Engine, Depends(database)]
) -> Response:
    with engine.begin() as conn:
        remove_tenant(conn, tenant.id)
    return Response(status_code=204)
