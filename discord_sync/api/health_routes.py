"""`/healthz` (no key): whether the database and the Dagster daemon answer; 503 when the database does not."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from discord_sync.api.run_control import run_control
from discord_sync.api.schemas import Health
from discord_sync.control.runs import RunControl

router = APIRouter(tags=["operations"])
log = logging.getLogger("discord_sync.api")


def _database_answers(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1")).scalar() == 1
    except sa.exc.SQLAlchemyError as error:
        log.warning("health check: the database does not answer (%s)", type(error).__name__)
        return False


def _daemon_answers(runs: RunControl) -> bool:
    try:
        return runs.daemon_is_alive()
    except Exception as error:  # Dagster's storage is the same database: report, do not fail the probe
        log.warning("health check: cannot read the daemon's heartbeat (%s)", type(error).__name__)
        return False


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database does not answer"}},
    summary="Database and Dagster daemon reachable (no key needed)",
)
def healthz(request: Request) -> JSONResponse:
    database = _database_answers(request.app.state.engine)
    daemon = database and _daemon_answers(run_control(request))
    health = Health(
        status="ok" if database and daemon else "degraded" if database else "down", database=database, daemon=daemon
    )
    return JSONResponse(health.model_dump(), status_code=200 if database else 503)
