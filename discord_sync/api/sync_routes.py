"""`/api/tenants/{id}/sync...`: start, watch (live progress), history, cancel and reset a tenant's sync."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Query, Request

from discord_sync.api.auth import admin_tenant, api_key, database, visible_tenant
from discord_sync.api.errors import ApiError
from discord_sync.api.responses import errors
from discord_sync.api.run_control import run_control
from discord_sync.api.schemas import (
    ChannelProgress,
    Progress,
    ResetRequest,
    RunCanceled,
    RunState,
    SyncCanceled,
    SyncHistory,
    SyncRunSummary,
    SyncStarted,
    SyncStatus,
)
from discord_sync.control.runs import ACTIVE_STATUSES, RunControl, RunControlError, TenantRun
from discord_sync.run_names import REQUESTED_BY_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.store.api_keys import ApiKey
from discord_sync.store.channels import known_channel
from discord_sync.store.status import channel_states
from discord_sync.store.sync_runs import SyncRun, get_run, run_history
from discord_sync.store.sync_status import RunOutcome
from discord_sync.store.tenants import Tenant

router = APIRouter(prefix="/api/tenants/{tenant_id}/sync", tags=["sync"])
log = logging.getLogger("discord_sync.api")


def _start(request: Request, tenant_id: str, key: ApiKey, tags: dict[str, str]) -> TenantRun:
    """Queue a run (or find the queued/running one) and return it; the audit log gets its id."""
    runs = run_control(request)
    try:
        run_id = runs.start_tenant_sync(tenant_id, tags={**tags, REQUESTED_BY_TAG: key.id})
    except RunControlError as error:
        # The reason (a missing setting, a code location that fails to load) is for the operators: it can name
        # files and variables. The caller learns that it is not their request's fault.
        log.error("could not queue a sync of tenant %s: %s", tenant_id, error)
        raise ApiError(
            503, "dagster_unavailable", "the sync could not be queued now; the operators can see why in the API's log"
        ) from None
    request.state.audit_run_id = run_id
    found = [run for run in runs.tenant_runs(tenant_id, limit=10) if run.run_id == run_id]
    return found[0] if found else TenantRun(run_id=run_id, tenant_id=tenant_id, status="queued", created_at=None)


@router.post(
    "",
    status_code=202,
    response_model=SyncStarted,
    responses=errors(401, 404, 503),
    summary="Queue a sync; if one is already queued or running, answer with that run (never two at once)",
)
def start_sync(
    request: Request,
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    key: Annotated[ApiKey, Depends(api_key)],
) -> SyncStarted:
    run = _start(request, tenant.id, key, {})
    return SyncStarted(run_id=run.run_id, status=run.status)


def _run_state(run: TenantRun | None, row: SyncRun | None) -> RunState | None:
    if run is None and row is None:
        return None
    outcome = row.outcome if row else None
    if run is None:
        # A run outside this Dagster instance (e.g. materialized in-process): its own row is all there is.
        assert row is not None
        status = {RunOutcome.RUNNING: "started", RunOutcome.FAILED: "failure"}.get(row.outcome, "success")
        return RunState(
            run_id=row.run_id,
            status=status,
            outcome=outcome,
            started_at=row.started_at,
            finished_at=row.finished_at,
            progress_at=row.updated_at,
        )
    if outcome == RunOutcome.RUNNING and not run.is_active:
        outcome = RunOutcome.FAILED  # the run ended (crashed, canceled) before it could record its end
    return RunState(
        run_id=run.run_id,
        status=run.status,
        outcome=outcome,
        started_at=row.started_at if row else run.started_at,
        finished_at=row.finished_at if row and row.finished_at else run.finished_at,
        progress_at=row.updated_at if row else None,
    )


def _progress(row: SyncRun | None) -> Progress | None:
    if row is None:
        return None
    return Progress(
        channels_total=row.channels_total,
        channels_done=row.channels_complete + row.channels_skipped + row.channels_failed,
        channels_unchanged=row.channels_unchanged,
        channels_skipped=row.channels_skipped,
        channels_failed=row.channels_failed,
        channels_running=row.channels_running,
        messages=row.messages,
        messages_per_second=row.messages_per_second,
        discord_requests=row.discord_requests,
        rate_limit_hits=row.rate_limit_hits,
        limiter_wait_seconds=row.limiter_wait_seconds,
    )


@router.get(
    "/status",
    response_model=SyncStatus,
    responses=errors(401, 404),
    summary="The latest run and its live progress, and every channel of the tenant with its state",
)
def sync_status(
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> SyncStatus:
    latest = runs.tenant_runs(tenant.id, limit=1)
    run = latest[0] if latest else None
    with engine.connect() as conn:
        if run is not None:
            row = get_run(conn, run.run_id)
        else:
            rows = run_history(conn, tenant.id, limit=1)
            row = rows[0] if rows else None
        run_id = run.run_id if run else row.run_id if row else None
        # Every channel of the tenant, the latest run's numbers beside those it touched: a quiet run (nothing new)
        # or a queued one still shows where each channel stands.
        states = channel_states(conn, tenant.id, run_id, only_run=False)
    return SyncStatus(
        tenant_id=tenant.id,
        run=_run_state(run, row),
        progress=_progress(row),
        channels=[
            ChannelProgress(
                id=str(state.channel_id),
                name=state.name,
                status=state.status,
                last_message_id=str(state.last_message_id) if state.last_message_id is not None else None,
                last_synced_at=state.last_synced_at,
                reason=state.reason,
                run_status=state.run_status if run_id is not None else None,
                messages=(state.run_messages or 0) if run_id is not None else 0,
                messages_stored=state.messages,
                messages_per_second=state.messages_per_second if run_id is not None else None,
                error=state.error,
            )
            for state in states
        ],
    )


@router.get(
    "/history",
    response_model=SyncHistory,
    responses=errors(401, 404, 422),
    summary="Past runs, newest first: start, end, outcome, counts and errors (paged)",
)
def sync_history(
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    engine: Annotated[sa.Engine, Depends(database)],
    limit: Annotated[int, Query(ge=1, le=100, description="runs per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="runs to skip")] = 0,
) -> SyncHistory:
    with engine.connect() as conn:
        rows = run_history(conn, tenant.id, limit=limit + 1, offset=offset)
    return SyncHistory(
        runs=[SyncRunSummary.of(row) for row in rows[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) > limit else None,
    )


@router.post(
    "/cancel",
    response_model=SyncCanceled,
    responses=errors(401, 404),
    summary="Stop the tenant's queued, starting and running syncs",
)
def cancel_sync(
    request: Request,
    tenant: Annotated[Tenant, Depends(visible_tenant)],
    runs: Annotated[RunControl, Depends(run_control)],
) -> SyncCanceled:
    active = runs.tenant_runs(tenant.id, statuses=ACTIVE_STATUSES)
    done: list[RunCanceled] = []
    try:
        for run in active:
            cancellation = runs.cancel_tenant_run(run.run_id)
            if cancellation is not None:
                done.append(RunCanceled(**asdict(cancellation)))
    except RunControlError as error:
        log.error("could not cancel the syncs of tenant %s: %s", tenant.id, error)
        request.state.audit_run_id = ",".join(run.run_id for run in done) or None
        raise ApiError(
            503, "dagster_unavailable", "the sync could not be canceled now; the operators can see why in the API's log"
        ) from None
    request.state.audit_run_id = ",".join(run.run_id for run in done) or None
    return SyncCanceled(canceled=[run.run_id for run in done], runs=done)


def _known_channel(engine: sa.Engine, tenant_id: str, channel_id: str) -> int:
    with engine.connect() as conn:
        found = known_channel(conn, tenant_id, int(channel_id))
    if found is None:
        raise ApiError(404, "not_found", f"the tenant has no channel {channel_id}")
    return found


@router.post(
    "/reset",
    status_code=202,
    response_model=SyncStarted,
    responses=errors(400, 401, 403, 404, 409, 413, 415, 422, 503),
    summary="Re-sync the tenant (or one channel) from scratch, keeping every stored message (admin)",
)
def reset_sync(
    request: Request,
    tenant: Annotated[Tenant, Depends(admin_tenant)],
    key: Annotated[ApiKey, Depends(api_key)],
    engine: Annotated[sa.Engine, Depends(database)],
    runs: Annotated[RunControl, Depends(run_control)],
    body: Annotated[ResetRequest | None, Body()] = None,
) -> SyncStarted:
    if body is not None and body.channel_id is not None:
        tags = {RESET_CHANNEL_TAG: str(_known_channel(engine, tenant.id, body.channel_id))}
    else:
        tags = {RESET_TAG: "true"}
    busy = runs.tenant_runs(tenant.id, statuses=ACTIVE_STATUSES, limit=1)
    if busy:
        raise ApiError(409, "sync_in_progress", f"run {busy[0].run_id} is syncing this tenant; reset when it ends")
    run = _start(request, tenant.id, key, tags)
    if not all(run.tags.get(tag) == value for tag, value in tags.items()):
        raise ApiError(409, "sync_in_progress", f"run {run.run_id} started meanwhile; reset when it ends")
    return SyncStarted(run_id=run.run_id, status=run.status)
