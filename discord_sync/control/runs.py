"""Tenant sync runs on the Dagster instance: submit them through the run queue, find them, cancel them.

The ops CLI submits runs the way the UI's "Materialize" button does, without needing a webserver: it loads the
code location from `workspace.yaml` (a code server subprocess, as `dagster job launch` does), snapshots the
`sync_tenant` job, creates the run with the tenant's partition tag and hands it to the instance's run
coordinator. The run queue (`dagster.yaml`) then decides when the daemon launches it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.errors import DagsterUserCodeProcessError
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._core.utils import make_new_run_id
from dagster._core.workspace.context import BaseWorkspaceRequestContext, WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from discord_sync.defs.jobs import sync_tenant_job
from discord_sync.defs.partitions import tenant_partitions

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
CODE_LOCATION = "discord_sync"
SYNC_JOB = sync_tenant_job.name

UNFINISHED_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


class RunSubmissionError(RuntimeError):
    """The code location could not be loaded or the run could not be created; the message says why."""


def ensure_dagster_home() -> Path:
    """`DAGSTER_HOME` as set, else the repository root (where `dagster.yaml` lives); exported for child processes."""
    home = os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT))
    return Path(home)


@contextmanager
def dagster_instance() -> Iterator[DagsterInstance]:
    """The instance every Dagster process of this deployment shares (its storage is the product's Postgres)."""
    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        yield instance


def ensure_tenant_partitions(instance: DagsterInstance, tenant_ids: Sequence[str]) -> list[str]:
    """Add the tenants that are not partitions yet (the sensor may not have ticked); return those added."""
    existing = set(instance.get_dynamic_partitions(tenant_partitions.name))
    missing = [tenant for tenant in tenant_ids if tenant not in existing]
    if missing:
        instance.add_dynamic_partitions(tenant_partitions.name, missing)
    return missing


@contextmanager
def code_location_workspace(instance: DagsterInstance) -> Iterator[BaseWorkspaceRequestContext]:
    """Load the `discord_sync` code location from `workspace.yaml`, as the webserver and the daemon do."""
    with WorkspaceProcessContext(
        instance, WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]), version="", read_only=False
    ) as process_context:
        workspace = process_context.create_request_context()
        error = workspace.get_code_location_error(CODE_LOCATION)
        if error is not None:
            first_line = (error.message or "").strip().splitlines()[-1:] or ["unknown error"]
            raise RunSubmissionError(f"cannot load code location {CODE_LOCATION}: {first_line[0]}")
        yield workspace


def submit_tenant_sync(
    instance: DagsterInstance,
    workspace: BaseWorkspaceRequestContext,
    tenant_id: str,
    tags: Mapping[str, str] | None = None,
) -> DagsterRun:
    """Create a `sync_tenant` run for one tenant partition and submit it to the run queue."""
    location = workspace.get_code_location(CODE_LOCATION)
    repository = next(iter(location.get_repositories().values()))
    remote_job = repository.get_full_job(SYNC_JOB)
    try:
        plan = location.get_execution_plan(
            remote_job, run_config={}, step_keys_to_execute=None, known_state=None, instance=instance
        )
    except DagsterUserCodeProcessError as error:
        raise RunSubmissionError(f"cannot plan a {SYNC_JOB} run: {_user_code_reason(str(error))}") from None
    run = instance.create_run(
        job_name=SYNC_JOB,
        run_id=make_new_run_id(),
        run_config={},
        status=DagsterRunStatus.NOT_STARTED,
        tags={**remote_job.tags, **(tags or {}), PARTITION_NAME_TAG: tenant_id},
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=None,
        asset_check_selection=None,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=repository.asset_graph,
    )
    return instance.submit_run(run.run_id, workspace)


def _user_code_reason(message: str) -> str:
    """One line out of a code server's error dump (usually a missing environment variable)."""
    missing = re.search(r'environment variable "(\w+)" which is not set', message)
    if missing:
        return f"{missing.group(1)} is not set in this environment (the job's resources read it)"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def tenant_runs(
    instance: DagsterInstance,
    tenant_id: str,
    *,
    statuses: Sequence[DagsterRunStatus] | None = None,
    limit: int | None = None,
) -> Sequence[DagsterRun]:
    """The runs of the tenant's partition, newest first.

    Any job counts, not only `sync_tenant`: materializing the assets from the UI (or an asset backfill) runs
    Dagster's implicit asset job, with the same partition tag.
    """
    return instance.get_runs(
        filters=RunsFilter(tags={PARTITION_NAME_TAG: tenant_id}, statuses=list(statuses or [])), limit=limit
    )


def run_tenant(run: DagsterRun) -> str | None:
    """The tenant a run syncs (its partition key)."""
    return run.tags.get(PARTITION_NAME_TAG)


def cancel_run(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Take a queued run out of the queue, or ask a running one to stop; False if it had already ended."""
    if run.is_finished:
        return False
    return bool(instance.run_coordinator.cancel_run(run.run_id))


def daemon_is_alive(instance: DagsterInstance, *, within_seconds: float = 120.0) -> bool:
    """Whether a Dagster daemon (which launches queued runs) reported a heartbeat recently."""
    import time

    heartbeats = instance.get_daemon_heartbeats()
    return any(time.time() - beat.timestamp < within_seconds for beat in heartbeats.values())
