"""A tenant's sync runs as the HTTP API shows them: plain values (`TenantRun`), start, cancel, daemon liveness.

Starting and cancelling go through `control/runs.py` (Dagster's GraphQL API on the webserver); reading runs with
their timestamps uses the instance's public `get_run_records`. Callers need no Dagster object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import DagsterRunStatus, RunsFilter

from discord_sync.control import runs

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
    records = runs.dagster_instance().get_run_records(
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
    """Queue a sync of the tenant and return its run id; if one is already queued or running, return that one's
    (`control.runs.start_tenant_sync` holds the per-tenant lock that makes this safe across API workers)."""
    try:
        return runs.start_tenant_sync(tenant_id, tags=tags)
    except runs.RunControlError as error:
        raise RunStartError(str(error)) from None


def cancel_tenant_run(run_id: str) -> bool:
    """Take a queued run out of the queue or ask a running one to stop; False if it is unknown or already ended."""
    if runs.dagster_instance().get_run_by_id(run_id) is None:
        return False
    try:
        return runs.cancel_tenant_run(run_id)
    except runs.RunControlError as error:
        raise RunStartError(str(error)) from None


def daemon_is_alive() -> bool:
    """Whether a Dagster daemon (which launches queued runs) reported a heartbeat in the last two minutes."""
    return runs.daemon_is_alive()
