"""Cancelling a run in each active state through the HTTP API, over real HTTP, against the deployment's processes:
a code server, a webserver and a daemon (the queue launches each run as a run worker process of its own), the API,
the emulator as Discord.

Dagster's `terminateRun` refuses a run that is STARTING (its worker still coming up): the API answered 503 there.
Here a run is caught STARTING by holding its worker before Python imports anything (the worker process waits while
a file exists, as a slow container start would), cancelled through the API, then let go: the worker comes up, reads
the run, finds it canceled and does not execute it. A STARTED run is cancelled too (its worker is stopped through the
run launcher and records CANCELED); queued runs are covered by test_api's queue test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from discord_sync.defs.schedules import hourly_batch_tags
from discord_sync.emulator import EmulatorProcess, GuildSpec
from discord_sync.run_names import BATCH_JOB_NAME
from discord_sync.store.api_keys import create_key
from discord_sync.store.schema import sync_runs
from discord_sync_tests.sync_harness import TEST_TOKEN
from discord_sync_tests.topology import Topology, running_topology

pytestmark = pytest.mark.e2e

# Loaded by every Python process started with this folder on PYTHONPATH: a run worker (a multiprocessing child of the
# code server, `spawn_main` on its command line) waits while the hold file exists, before importing anything.
HOLD_WORKERS = """
import os, time
hold = os.environ.get("DISCORD_SYNC_TEST_HOLD_RUN_WORKERS", "")
try:
    with open("/proc/self/cmdline", "rb") as cmdline:
        is_run_worker = b"spawn_main" in cmdline.read()
except OSError:
    is_run_worker = False
while hold and is_run_worker and os.path.exists(hold):
    time.sleep(0.1)
"""


@pytest.fixture
def emulator() -> Iterator[EmulatorProcess]:
    guild = GuildSpec(seed=21, layout="uniform", channels=4, threads_per_channel=0, messages_per_channel=200)
    with EmulatorProcess.start([guild], token=TEST_TOKEN, latency_ms=20) as emulator:
        yield emulator


@pytest.fixture
def topology(database_url, emulator, tmp_path) -> Iterator[Topology]:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HOLD_WORKERS)
    with running_topology(
        tmp_path,
        emulator.base_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])),
        DISCORD_SYNC_TEST_HOLD_RUN_WORKERS=str(tmp_path / "hold"),
    ) as topology:
        yield topology


def wait_for(description: str, condition, topology: Topology, timeout: float = 150):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{description} within {timeout} s; logs in {topology.logs}")


def test_a_starting_run_and_a_running_run_are_canceled_through_the_api(topology, emulator, engine, tmp_path):
    hold = tmp_path / "hold"
    hold.touch()
    instance = DagsterInstance.from_config(str(tmp_path / "dagster_home"))
    with engine.begin() as conn:
        _, admin_key = create_key(conn, tenant_id=None, name="cancel test")
    api = httpx.Client(base_url=topology.api_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120)

    def latest_run() -> dict | None:
        answer = api.get("/api/tenants/acme/sync/status")
        assert answer.status_code == 200, answer.text
        return answer.json()["run"]

    # The new tenant's initial sync: queued by the sensor, launched by the queue, its worker held: STARTING.
    created = api.post("/api/tenants", json={"id": "acme", "name": "Acme", "guild_id": str(emulator.guild_ids[0])})
    assert created.status_code == 201, created.text
    starting = wait_for(
        "the initial sync STARTING", lambda: (r := latest_run()) and r["status"] == "starting" and r, topology
    )
    first = starting["run_id"]

    canceled = api.post("/api/tenants/acme/sync/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json() == {
        "canceled": [first],
        "runs": [{"run_id": first, "was": "starting", "status": "canceled", "action": "marked_canceled"}],
    }
    assert instance.get_run_by_id(first).status == DagsterRunStatus.CANCELED

    # The worker comes up, loads the code, reads the run again and does not execute it.
    hold.unlink()

    def worker_gave_up() -> bool:
        return any(
            "canceled before execution could start" in (record.message or "") for record in instance.all_logs(first)
        )

    wait_for("the held worker to see the cancellation", worker_gave_up, topology)
    events = {record.dagster_event.event_type for record in instance.all_logs(first) if record.dagster_event}
    assert DagsterEventType.RUN_START not in events and DagsterEventType.STEP_START not in events
    assert instance.get_run_by_id(first).status == DagsterRunStatus.CANCELED
    with engine.connect() as conn:
        assert conn.execute(sa.select(sync_runs.c.run_id).where(sync_runs.c.tenant_id == "acme")).all() == []

    # A running sync (Discord slowed to 0.5 s a request, so it is still running): its worker is stopped through
    # the run launcher and records CANCELED itself.
    emulator.client.set_latency(500)
    second = api.post("/api/tenants/acme/sync")
    assert second.status_code == 202, second.text
    second_id = second.json()["run_id"]
    wait_for("the second sync STARTED", lambda: (r := latest_run()) and r["status"] == "started", topology)
    time.sleep(2)  # into the first step, waiting on Discord
    asked, asked_at = time.monotonic(), time.time()
    canceled = api.post("/api/tenants/acme/sync/cancel")
    assert canceled.status_code == 200, canceled.text
    [run] = canceled.json()["runs"]
    assert (run["run_id"], run["was"], run["action"]) == (second_id, "started", "stop_requested")
    assert run["status"] in ("canceling", "canceled")
    again = api.post("/api/tenants/acme/sync/cancel")
    assert again.status_code == 200, again.text
    assert again.json()["runs"] in (
        [],
        [{**run, "was": "canceling", "status": "canceling", "action": "already_canceling"}],
    )
    try:
        wait_for(
            "the running sync CANCELED",
            lambda: instance.get_run_by_id(second_id).status == DagsterRunStatus.CANCELED,
            topology,
            timeout=60,
        )
    except AssertionError as error:
        events = [
            f"{r.timestamp - asked_at:.1f}s {(r.message or '')[:100]} {getattr(getattr(r.dagster_event, 'event_specific_data', None), 'error', '')}"
            for r in instance.all_logs(second_id)
        ]
        (topology.logs / "canceled-run-events.txt").write_text("\n".join(events))
        raise AssertionError(
            f"{error}; the run is {instance.get_run_by_id(second_id).status}: {events[-25:]}"
        ) from None
    print(f"a STARTED run was CANCELED {time.monotonic() - asked:.1f} s after the cancel")
    assert api.post("/api/tenants/acme/sync/cancel").json() == {"canceled": [], "runs": []}

    # An hourly batch run holding the tenant: canceled through the tenant's cancel, its step is not retried.
    batch_id = topology.client.submit_job_execution(
        BATCH_JOB_NAME,
        tags=hourly_batch_tags("acme", "acme"),
    )
    wait_for("the batch STARTED", lambda: instance.get_run_by_id(batch_id).status == DagsterRunStatus.STARTED, topology)
    time.sleep(2)  # into its step, waiting on Discord
    canceled = api.post("/api/tenants/acme/sync/cancel")
    assert canceled.status_code == 200, canceled.text
    assert [r["run_id"] for r in canceled.json()["runs"]] == [batch_id]
    wait_for(
        "the batch CANCELED",
        lambda: instance.get_run_by_id(batch_id).status == DagsterRunStatus.CANCELED,
        topology,
        timeout=60,
    )
    # Dagster itself turns the interrupt into one retry of the step (dagster-io/dagster#15026); the retried step
    # finds the run canceling and fails for good, rather than counting each tenant failed and retrying again.
    retries = instance.all_logs(batch_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY)
    assert len(retries) <= 1, [record.message for record in retries]
