"""A tenant's sync runs as the HTTP API shows them: plain values (`TenantRun`), start, cancel, daemon liveness.

Starting and cancelling go through `control/runs.py` (Dagster's GraphQL API on the webserver); reading runs with
their timestamps uses the instance's public `get_run_records`. Callers need no Dagster object.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from discord_sync.control import runs
from discord_sync.store.database import resolve_database_url, shared_engine

# What "queued or running" means for "never two syncs of a tenant at once".
ACTIVE_STATUSES = ("queued", "not_started", "starting", "started", "canceling")


class RunStartError(RuntimeError):
    """A sync could not be queued (the code location failed to load, or a setting the job needs is missing)."""


@dataclass(frozen=True)
class TenantRun:
    """One Dagster run of a tenant's sync, in plain values: status is Dagster's, lower case (`queued`, `started`...)."""

    run_id: str
    tenant_id: str
    status: str
    created_at: datetime | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


_instances: dict[tuple[str, str], DagsterInstance] = {}
_instances_lock = threading.Lock()


def _instance() -> DagsterInstance:
    """The deployment's instance (`DAGSTER_HOME`), opened once per process: opening one costs a storage
    connection and a read of `dagster.yaml`, too much for every API request."""
    key = (os.environ.get("DAGSTER_HOME", ""), os.environ.get("DATABASE_URL", ""))
    with _instances_lock:
        if key not in _instances:
            _instances[key] = DagsterInstance.get()
        return _instances[key]


def _time(timestamp: float | datetime | None) -> datetime | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, datetime):
        return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(timestamp, UTC)


def _statuses(statuses: Sequence[str] | None) -> list[DagsterRunStatus]:
    return [DagsterRunStatus(status.upper()) for status in statuses or []]


def tenant_runs(tenant_id: str, *, statuses: Sequence[str] | None = None, limit: int | None = None) -> list[TenantRun]:
    """The tenant's runs, newest first; `statuses` (lower case, e.g. `ACTIVE_STATUSES`) narrows them."""
    records = _instance().get_run_records(
        filters=RunsFilter(tags={"dagster/partition": tenant_id}, statuses=_statuses(statuses)), limit=limit
    )
    return [
        TenantRun(
            run_id=record.dagster_run.run_id,
            tenant_id=tenant_id,
            status=record.dagster_run.status.value.lower(),
            created_at=_time(record.create_timestamp),
            started_at=_time(record.start_time),
            finished_at=_time(record.end_time),
            tags=dict(record.dagster_run.tags),
        )
        for record in records
    ]


def start_tenant_sync(tenant_id: str, *, tags: Mapping[str, str] | None = None) -> str:
    """Queue a sync of the tenant and return its run id; if one is already queued or running, return that one's.

    A PostgreSQL advisory lock per tenant makes check-then-submit atomic across API workers and processes, so two
    requests at once still queue one run.
    """
    engine = shared_engine(resolve_database_url())
    with engine.begin() as conn:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('discord_sync.start_sync'), hashtext(:tenant))"),
            {"tenant": tenant_id},
        )
        active = tenant_runs(tenant_id, statuses=ACTIVE_STATUSES, limit=1)
        if active:
            return active[0].run_id
        try:
            return runs.start_tenant_sync(tenant_id, tags=tags)
        except runs.RunControlError as error:
            raise RunStartError(str(error)) from None


def cancel_tenant_run(run_id: str) -> bool:
    """Take a queued run out of the queue or ask a running one to stop; False if it is unknown or already ended."""
    if _instance().get_run_by_id(run_id) is None:
        return False
    try:
        return runs.cancel_tenant_run(run_id)
    except runs.RunControlError as error:
        raise RunStartError(str(error)) from None


def daemon_is_alive() -> bool:
    """Whether a Dagster daemon (which launches queued runs) reported a heartbeat in the last two minutes."""
    return runs.daemon_is_alive()
