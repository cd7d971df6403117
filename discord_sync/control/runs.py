"""Tenant sync runs on the Dagster deployment: start them, back-fill them, find them, cancel them.

`RunControl`, built once from the `Settings` (by the HTTP API's app and by each CLI command), is the one way the
product controls runs, through Dagster's public interfaces only: launches, backfills and cancellations go to the
webserver's GraphQL API (`DAGSTER_WEBSERVER_URL`), as the UI's own buttons do, so the webserver plans the run from
the code location it already has loaded and the run queue (`dagster.yaml`) decides when the daemon starts it.
Reading runs, partitions and daemon heartbeats uses the public `DagsterInstance` methods on `DAGSTER_HOME`'s
instance. Runs come back as plain values (`TenantRun`); every failure is a `RunControlError`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster import DagsterInstance, DagsterRunStatus, RunRecord, RunsFilter
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from discord_sync.run_names import (
    BATCH_JOB_NAME,
    METRICS_SENSOR_NAME,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    SENSOR_NAME_TAG,
    SYNC_JOB_NAME,
    TENANT_PARTITIONS_NAME,
    with_lane,
)
from discord_sync.settings import Settings
from discord_sync.store.database import resolve_database_url, shared_engine
from discord_sync.store.tenant_locks import hold_tenant_start_lock

# A job's partition backfill is launched through its partition set, named by Dagster after the job.
SYNC_PARTITION_SET = f"{SYNC_JOB_NAME}_partition_set"
DAEMON_HEARTBEAT_SECONDS = 120.0
GRAPHQL_TIMEOUT_SECONDS = 60

# How many of the newest hourly batch runs are searched for a tenant's runs: at the default 100 tenants a batch,
# more than an hour of batches for 50,000 tenants.
BATCH_RUNS_SEARCHED = 500

# How many more run records `tenant_runs` reads than it returns, for the metrics runs it leaves out.
METRICS_RUNS_MARGIN = 5

# What "queued or running" means for "never two syncs of a tenant at once": Dagster's statuses, lower case.
ACTIVE_STATUSES = ("queued", "not_started", "starting", "started", "canceling")

# Cancelling: Dagster's `terminateRun` stops only QUEUED and STARTED runs (its CANCELABLE_RUN_STATUSES). A run that
# is NOT_STARTED or STARTING (its worker, a container or a process, is still coming up) is refused, so it is marked
# CANCELED at once (`MARK_AS_CANCELED_IMMEDIATELY`, the UI's "force termination"): its worker, once it has loaded
# the code, reads the run again and does not execute a canceled run. A worker that read the run just before it was
# marked starts all the same (it writes STARTED over CANCELED), so the run is watched this long after marking and,
# if it shows STARTED, stopped as a running one.
STARTING_RACE_SECONDS = 5.0
STARTING_RACE_POLL_SECONDS = 0.25
# How often a cancel re-reads a run whose status moved between reading it and asking the webserver (say QUEUED to
# STARTING when the daemon dequeued it meanwhile).
CANCEL_ATTEMPTS = 4

_REPOSITORIES_QUERY = """
query {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection { nodes { name location { name } pipelines { name } } }
    ... on Error { message }
  }
}
"""

_LOAD_ERRORS_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries { name locationOrLoadError { __typename ... on PythonError { message causes { message } } } }
    }
  }
}
"""

_LAUNCH_BACKFILL_MUTATION = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""


_TERMINATE_RUN_MUTATION = """
mutation($runId: String!, $policy: TerminateRunPolicy) {
  terminateRun(runId: $runId, terminatePolicy: $policy) {
    __typename
    ... on TerminateRunFailure { message }
    ... on Error { message }
  }
}
"""


class RunControlError(RuntimeError):
    """A run could not be started, found or canceled; the message says why and what to do."""


class CancelAction(StrEnum):
    """What a cancel did to one run."""

    # A QUEUED run left the queue: it is CANCELED and never runs.
    REMOVED_FROM_QUEUE = "removed_from_queue"
    # A STARTED run: the run launcher stops its worker (container, pod or process); the run is CANCELING until the
    # worker records CANCELED (or run monitoring does, once the worker is gone).
    STOP_REQUESTED = "stop_requested"
    # A run not yet executing (NOT_STARTED, STARTING), or one whose worker the run launcher could not find: marked
    # CANCELED at once; a worker that comes up later sees it and does not execute.
    MARKED_CANCELED = "marked_canceled"
    # Already CANCELING from an earlier request: nothing more to ask.
    ALREADY_CANCELING = "already_canceling"


@dataclass(frozen=True)
class Cancellation:
    """What a cancel did to one run: its status before (`was`) and after (`status`), Dagster's, lower case."""

    run_id: str
    was: str
    status: str
    action: CancelAction


@dataclass(frozen=True)
class TenantRun:
    """One Dagster run of a tenant's sync, in plain values: status is Dagster's, lower case (`queued`, `started`...)."""

    run_id: str
    tenant_id: str | None
    status: str
    created_at: datetime | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        """Queued or running (one of `ACTIVE_STATUSES`)."""
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class _Repository:
    """Where the sync job lives on the webserver: its code location and repository."""

    location: str
    name: str


def _unreachable(url: str) -> RunControlError:
    return RunControlError(
        f"cannot reach the Dagster webserver at {url} (DAGSTER_WEBSERVER_URL): start it (`dagster dev` or "
        "`dagster-webserver`) or point DAGSTER_WEBSERVER_URL at it"
    )


def _graphql(url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict:
    """POST one GraphQL document to the webserver at `url`; the `data` of the answer, or a `RunControlError`."""
    try:
        response = requests.post(
            f"{url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=GRAPHQL_TIMEOUT_SECONDS
        )
    except requests.ConnectionError:
        raise _unreachable(url) from None
    except requests.RequestException as error:
        raise RunControlError(f"the Dagster webserver at {url} did not answer: {error}") from None
    if response.status_code != 200:
        raise RunControlError(f"the Dagster webserver at {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise RunControlError(f"{url} answered, but not as a Dagster webserver (no GraphQL at /graphql)") from None
    if body.get("errors"):
        raise RunControlError(f"the Dagster webserver refused the request: {body['errors'][0].get('message')}")
    return body["data"]


def _client(url: str) -> DagsterGraphQLClient:
    """Dagster's typed GraphQL client on the webserver at `url`."""
    parts = urlsplit(url)
    return DagsterGraphQLClient(
        parts.hostname or "127.0.0.1",
        port_number=parts.port,
        use_https=parts.scheme == "https",
        path_prefix=parts.path.rstrip("/"),
        timeout=GRAPHQL_TIMEOUT_SECONDS,
    )


def _client_error(error: DagsterGraphQLClientError, url: str) -> RunControlError:
    if isinstance(error.__cause__, requests.ConnectionError):
        return _unreachable(url)
    return RunControlError(f"the Dagster webserver refused the request: {': '.join(map(str, error.args))}")


def _sync_repository(url: str) -> _Repository:
    """The code location and repository that define the sync job, as the webserver has them loaded."""
    result = _graphql(url, _REPOSITORIES_QUERY)["repositoriesOrError"]
    if result["__typename"] != "RepositoryConnection":
        raise RunControlError(f"the Dagster webserver cannot list its code locations: {result.get('message')}")
    for node in result["nodes"]:
        if any(job["name"] == SYNC_JOB_NAME for job in node["pipelines"]):
            return _Repository(location=node["location"]["name"], name=node["name"])
    raise RunControlError(f"the Dagster webserver has no job {SYNC_JOB_NAME}: {_load_errors(url)}")


def _load_errors(url: str) -> str:
    """Why the webserver's code locations did not load: the exception that stopped each."""
    workspace = _graphql(url, _LOAD_ERRORS_QUERY)["workspaceOrError"]
    reasons = []
    for entry in workspace.get("locationEntries", []):
        error = entry["locationOrLoadError"] or {}
        if error.get("__typename") != "PythonError":
            continue
        # Dagster wraps the exception that stopped the load; the innermost cause is the one to act on.
        root = ([error] + error.get("causes", []))[-1]["message"].strip() or "unknown error"
        reasons.append(f"code location {entry['name']} failed to load: {root.splitlines()[0]}")
    return "; ".join(reasons) or "is the discord_sync code location loaded (see Deployment in the UI)?"


def _time(timestamp: float | datetime | None) -> datetime | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, datetime):
        return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(timestamp, UTC)


def _tenant_run(record: RunRecord) -> TenantRun:
    run = record.dagster_run
    return TenantRun(
        run_id=run.run_id,
        tenant_id=run.tags.get(PARTITION_TAG),
        status=run.status.value.lower(),
        created_at=_time(record.create_timestamp),
        started_at=_time(record.start_time),
        finished_at=_time(record.end_time),
        tags=dict(run.tags),
    )


@cache
def _cached_instance(home: str, database_url: str) -> DagsterInstance:
    # One instance per deployment per process: opening one connects its storage, too slow to repeat per call.
    return DagsterInstance.get()


class RunControl:
    """Start, back-fill, find and cancel tenant sync runs on the deployment the settings point at."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.webserver_url = settings.dagster_webserver_url

    def _instance(self) -> DagsterInstance:
        """The instance of `DAGSTER_HOME` (its storage is the product's PostgreSQL)."""
        home = os.environ.get("DAGSTER_HOME", "")
        if not home:
            raise RunControlError(
                "DAGSTER_HOME is not set: set it to the folder holding the deployment's dagster.yaml, as for "
                "the webserver and the daemon"
            )
        return _cached_instance(home, resolve_database_url(self.settings))

    def _add_tenant_partitions(self, tenant_ids: Sequence[str]) -> None:
        """Make the tenants partitions if the sensor has not yet (a run of a missing partition would fail)."""
        instance = self._instance()
        existing = set(instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))
        missing = [tenant for tenant in tenant_ids if tenant not in existing]
        if missing:
            instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, missing)

    def tenant_runs(
        self, tenant_id: str, *, statuses: Sequence[str] | None = None, limit: int | None = None
    ) -> list[TenantRun]:
        """The runs of the tenant's partition, newest first, and the hourly batch runs that hold it; `statuses`
        (lower case, e.g. `ACTIVE_STATUSES`) narrows them.

        Any job counts, not only `sync_tenant`: materializing the assets from the UI (or an asset backfill) runs
        Dagster's implicit asset job, with the same partition tag. The runs the metrics' automation launches after a
        tenant's sync carry that tag too but sync nothing, so they are left out: a sync started while one is queued
        is a sync of its own, and the status shows the latest sync.
        """
        wanted = [DagsterRunStatus(status.upper()) for status in statuses or []]
        instance = self._instance()
        # A tenant's own run is followed by at most one metrics run, so a few more records than asked hold `limit`
        # syncs.
        records = [
            record
            for record in instance.get_run_records(
                filters=RunsFilter(tags={PARTITION_TAG: tenant_id}, statuses=wanted),
                limit=None if limit is None else 2 * limit + METRICS_RUNS_MARGIN,
            )
            if record.dagster_run.tags.get(SENSOR_NAME_TAG) != METRICS_SENSOR_NAME
        ]
        runs = [_tenant_run(record) for record in records] + self._batch_runs(instance, tenant_id, wanted)
        runs.sort(key=lambda run: run.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return runs[:limit] if limit is not None else runs

    def _batch_runs(self, instance: DagsterInstance, tenant_id: str, wanted: list[DagsterRunStatus]) -> list[TenantRun]:
        """The newest hourly batch runs whose partition range holds the tenant (a range has no partition tag: its
        ends are tags, its members the partitions between them, in the partitions' order)."""
        records = instance.get_run_records(
            filters=RunsFilter(job_name=BATCH_JOB_NAME, statuses=wanted), limit=BATCH_RUNS_SEARCHED
        )
        if not records:
            return []
        position = {key: index for index, key in enumerate(instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME))}
        mine = position.get(tenant_id)
        found = []
        for record in records:
            tags = record.dagster_run.tags
            start, end = position.get(tags.get(RANGE_START_TAG, "")), position.get(tags.get(RANGE_END_TAG, ""))
            if mine is not None and start is not None and end is not None and start <= mine <= end:
                found.append(replace(_tenant_run(record), tenant_id=tenant_id))
        return found

    def find_run(self, run_id: str) -> TenantRun | None:
        """The run with this id, or None."""
        records = self._instance().get_run_records(filters=RunsFilter(run_ids=[run_id]), limit=1)
        return _tenant_run(records[0]) if records else None

    def start_tenant_sync(self, tenant_id: str, *, tags: Mapping[str, str] | None = None) -> str:
        """Queue a `sync_tenant` run of the tenant and return its id; if one is already queued or running, return
        that run's id instead of starting a second.

        The tenant's start lock (`store.tenant_locks`) makes check-then-submit atomic across processes (API
        workers, the command line), so requests at once still queue one run. The run goes in the lane its tags
        imply (`run_names.with_lane`): bulk for a reset or reconcile, hourly for a plain sync.
        """
        with shared_engine(resolve_database_url(self.settings)).begin() as conn:
            hold_tenant_start_lock(conn, tenant_id)
            waiting = self.tenant_runs(tenant_id, statuses=ACTIVE_STATUSES, limit=1)
            if waiting:
                return waiting[0].run_id
            url = self.webserver_url
            repository = _sync_repository(url)
            self._add_tenant_partitions([tenant_id])
            try:
                return _client(url).submit_job_execution(
                    SYNC_JOB_NAME,
                    repository_location_name=repository.location,
                    repository_name=repository.name,
                    tags={**with_lane(tags), PARTITION_TAG: tenant_id},
                )
            except DagsterGraphQLClientError as error:
                raise _client_error(error, url) from None

    def start_backfill(self, tenant_ids: Sequence[str], *, tags: Mapping[str, str]) -> str:
        """Launch a partition backfill of `sync_tenant` over the tenants, every run carrying `tags`; the backfill
        id. The daemon turns it into one queued run per tenant; each waits for the tenant's current run, if any.
        The runs go in the lane `tags` imply (bulk for a reset or reconcile).
        """
        if not tenant_ids:
            raise RunControlError("a backfill needs at least one tenant")
        url = self.webserver_url
        repository = _sync_repository(url)
        self._add_tenant_partitions(tenant_ids)
        params = {
            "selector": {
                "partitionSetName": SYNC_PARTITION_SET,
                "repositorySelector": {
                    "repositoryLocationName": repository.location,
                    "repositoryName": repository.name,
                },
            },
            "partitionNames": list(tenant_ids),
            "tags": [{"key": key, "value": value} for key, value in with_lane(tags).items()],
        }
        result = _graphql(url, _LAUNCH_BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RunControlError(f"the backfill was refused ({result['__typename']}): {result.get('message', '')}")
        return result["backfillId"]

    def cancel_tenant_run(self, run_id: str) -> Cancellation | None:
        """Stop the run whatever its active status, and say what was done; None if it is unknown or had already
        ended.

        QUEUED: taken out of the queue (CANCELED). STARTED: its worker is stopped through the run launcher
        (CANCELING, then CANCELED). NOT_STARTED or STARTING, which Dagster's `terminateRun` refuses: marked CANCELED
        at once, then watched for `STARTING_RACE_SECONDS` in case its worker started anyway (then stopped as a
        STARTED one). CANCELING: left as it is. A run whose status moves meanwhile is read again.
        """
        instance = self._instance()
        for _ in range(CANCEL_ATTEMPTS):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                return None
            was = run.status
            if was == DagsterRunStatus.CANCELING:
                return Cancellation(run_id, "canceling", "canceling", CancelAction.ALREADY_CANCELING)
            if was == DagsterRunStatus.NOT_STARTED:
                # Created but never submitted to the queue or a launcher: no worker can be coming up.
                if self._terminate(run_id, force=True) is None:
                    return Cancellation(run_id, "not_started", self._status(run_id), CancelAction.MARKED_CANCELED)
                continue
            if was == DagsterRunStatus.STARTING:
                if self._terminate(run_id, force=True) is None:
                    return self._watch_marked_run(run_id, "starting")
                continue
            refusal = self._terminate(run_id, force=False)
            now = self._status(run_id)
            if refusal is None:
                action = (
                    CancelAction.REMOVED_FROM_QUEUE if was == DagsterRunStatus.QUEUED else CancelAction.STOP_REQUESTED
                )
                return Cancellation(run_id, was.value.lower(), now, action)
            if now == "canceling":
                # The launcher was asked and found no worker to stop (a container not yet created, or gone): nothing
                # runs that it can reach, so the run is marked CANCELED rather than left to run monitoring's timeout.
                if self._terminate(run_id, force=True) is None:
                    return self._watch_marked_run(run_id, was.value.lower())
            # Otherwise the status moved between reading and asking (QUEUED to STARTING): read it again.
        raise RunControlError(f"run {run_id} could not be canceled: its status kept changing ({self._status(run_id)})")

    def _status(self, run_id: str) -> str:
        run = self._instance().get_run_by_id(run_id)
        return run.status.value.lower() if run else "missing"

    def _terminate(self, run_id: str, *, force: bool) -> str | None:
        """Ask the webserver to terminate the run (`force`: mark it CANCELED at once); None when it did, else the
        reason it refused (the run's status did not allow it, or the launcher found nothing to stop)."""
        policy = "MARK_AS_CANCELED_IMMEDIATELY" if force else "SAFE_TERMINATE"
        result = _graphql(self.webserver_url, _TERMINATE_RUN_MUTATION, {"runId": run_id, "policy": policy})
        answer = result["terminateRun"]
        kind = answer["__typename"]
        if kind == "TerminateRunSuccess":
            return None
        if kind == "TerminateRunFailure":
            return str(answer.get("message", ""))
        if kind == "RunNotFoundError":
            return "not found"
        raise RunControlError(
            f"the Dagster webserver refused to terminate run {run_id} ({kind}): {answer.get('message')}"
        )

    def _watch_marked_run(self, run_id: str, was: str) -> Cancellation:
        """A run just marked CANCELED before it executed: if its worker read the run just before the mark, it writes
        STARTED within moments; such a run is then stopped as a running one."""
        deadline = time.monotonic() + STARTING_RACE_SECONDS
        while time.monotonic() < deadline:
            if self._status(run_id) == "started":
                if self._terminate(run_id, force=False) is not None:
                    self._terminate(run_id, force=True)
                return Cancellation(run_id, was, self._status(run_id), CancelAction.STOP_REQUESTED)
            time.sleep(STARTING_RACE_POLL_SECONDS)
        return Cancellation(run_id, was, self._status(run_id), CancelAction.MARKED_CANCELED)

    def daemon_is_alive(self) -> bool:
        """Whether a Dagster daemon (which launches queued runs and backfills) reported a heartbeat recently."""
        heartbeats = self._instance().get_daemon_heartbeats()
        return any(time.time() - beat.timestamp < DAEMON_HEARTBEAT_SECONDS for beat in heartbeats.values())
