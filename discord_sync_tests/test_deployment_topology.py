"""The deployment shape of docker-compose.yml and the Helm values, as separate processes on this machine.

PostgreSQL; `dagster code-server start` as its own process; a webserver and a daemon that reach the code only
through the gRPC server named in their workspace file; two tenants added by an operator. Both initial syncs go
through the run queue as separate run processes sharing the request limiter in PostgreSQL (the emulator never sees
more than 50 requests in a second); the code server is killed mid-run and started again; nothing is lost, and the
next hourly tick (triggered as the UI's "launch all runs" of a schedule tick does) syncs both tenants again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from discord_sync.defs.schedules import HOURLY_SYNC_TAG
from discord_sync.defs.sensors import INITIAL_SYNC_TAG
from discord_sync.emulator import EmulatorProcess, GuildSpec
from discord_sync.store.api_keys import create_key
from discord_sync_tests.sync_harness import TEST_TOKEN, expected_message_ids, stored_message_ids
from discord_sync_tests.topology import FINISHED, LOCATION, Topology, running_topology

TENANTS = {"acme": 11, "beta": 12}  # tenant -> the seed of its emulated guild
RUN_TIMEOUT = 150
DISCORD_REQUESTS_PER_SECOND_LIMIT = 50

RUNS = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) { ... on Runs { results { runId status tags { key value } } } }
}
"""
SCHEDULE_TICK = """
mutation($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick {
      evaluationResult { runRequests { runKey tags { key value } runConfigYaml } skipReason error { message } }
    }
    ... on PythonError { message }
  }
}
"""
LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def emulator() -> Iterator[EmulatorProcess]:
    """Discord in its own process, with Discord's limits (50 requests/s for the bot) and 20 ms per request."""
    guilds = [
        GuildSpec(seed=seed, layout="uniform", channels=6, threads_per_channel=1, messages_per_channel=400)
        for seed in TENANTS.values()
    ]
    with EmulatorProcess.start(guilds, token=TEST_TOKEN, latency_ms=20) as emulator:
        yield emulator


@pytest.fixture
def topology(database_url, emulator, tmp_path) -> Iterator[Topology]:
    with running_topology(
        tmp_path,
        emulator.base_url,
        # Small pages: many requests from few messages, so the shared limiter, not the database, sets the pace.
        SYNC_MESSAGE_FETCH_SIZE="10",
        # 40/s for the bot: two runs with a limiter each would reach 80/s, so a peak of at most 50 shows that they
        # share one; the margin under 50 absorbs the emulator stamping a backlog as one burst on two busy cores
        # (as in test_sync's two-runs test).
        SYNC_GLOBAL_REQUESTS_PER_SECOND="40",
    ) as topology:
        yield topology


def add_tenant(topology: Topology, tenant: str, guild_id: int, admin_key: str) -> None:
    """Add a tenant as the product's backend does: POST /api/tenants with an admin key."""
    answer = httpx.post(
        f"{topology.api_url}/api/tenants",
        headers={"Authorization": f"Bearer {admin_key}"},
        json={"id": tenant, "name": tenant.title(), "guild_id": str(guild_id)},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["onboarding"]["state"] == "pending", answer.text


def runs(topology: Topology, tags: dict[str, str]) -> list[dict]:
    data = topology.graphql(RUNS, {"filter": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}})
    return data["runsOrError"]["results"]


def wait_for(description: str, condition, timeout: float = RUN_TIMEOUT, topology: Topology | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{description} within {timeout} s" + (f"; logs in {topology.logs}" if topology else ""))


RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

LAST_MATERIALIZATION = """
query($tenant: String!) {
  assetOrError(assetKey: {path: ["messages"]}) {
    ... on Asset { assetMaterializations(partitions: [$tenant], limit: 1) { runId partition } }
  }
}
"""


def trigger_hourly_tick(topology: Topology) -> list[str]:
    """Evaluate the hourly schedule for the coming hour in the code server and launch its runs into the queue."""
    selector = {
        "repositoryName": "__repository__",
        "repositoryLocationName": LOCATION,
        "scheduleName": "hourly_sync_schedule",
    }
    next_hour = (int(time.time()) // 3600 + 1) * 3600
    tick = topology.graphql(SCHEDULE_TICK, {"selector": selector, "timestamp": float(next_hour)})["scheduleDryRun"]
    assert tick["__typename"] == "DryRunInstigationTick", tick
    requests = tick["evaluationResult"]["runRequests"]
    run_ids = []
    for request in requests:
        tags = [*request["tags"], {"key": "dagster/schedule_name", "value": "hourly_sync_schedule"}]
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "jobName": "sync_tenant_batch",
            },
            "runConfigData": request["runConfigYaml"],
            "executionMetadata": {"tags": tags},
        }
        launched = topology.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_ids.append(launched["run"]["runId"])
    return run_ids


def run_status(topology: Topology, run_id: str) -> str:
    return topology.client.get_run_status(run_id).value


@pytest.mark.e2e
def test_two_tenants_sync_through_the_queue_share_the_limiter_and_survive_a_code_server_restart(
    topology, emulator, engine
):
    guilds = dict(zip(TENANTS, emulator.guild_ids, strict=True))
    truth = {tenant: expected_message_ids(emulator.client.ground_truth(guild)) for tenant, guild in guilds.items()}
    with engine.begin() as conn:
        _, admin_key = create_key(conn, tenant_id=None, name="topology test")
    for tenant, guild in guilds.items():
        add_tenant(topology, tenant, guild, admin_key)

    # The new-tenant sensor (in the daemon, evaluated in the code server) queues both initial syncs; the queue
    # launches them as two run processes that are in progress at once.
    def both_started() -> list[dict] | None:
        initial = runs(topology, {INITIAL_SYNC_TAG: "true"})
        return initial if len(initial) == 2 and all(r["status"] in ("STARTED", *FINISHED) for r in initial) else None

    wait_for("both initial syncs started", both_started, topology=topology)
    assert {r["status"] for r in both_started()} == {"STARTED"}, "the two tenants' syncs did not run side by side"
    wait_for("messages being written", lambda: _stored_total(engine) > 0, topology=topology)

    # Lose the code server mid-run; the runs in flight are their own processes (containers, in compose or K8s).
    assert _stored_total(engine) < sum(len(ids) for t in truth.values() for ids in t.values())
    leftover_workers = topology.kill_code_server()
    assert leftover_workers, "no run worker was in flight when the code server went"
    topology.start_code_server()

    initial = {_tag(r, "dagster/partition"): r["runId"] for r in both_started()}
    statuses = {
        t: wait_for(f"run {r} finished", lambda r=r: _finished(topology, r), topology=topology)
        for t, r in initial.items()
    }
    assert statuses == {"acme": "SUCCESS", "beta": "SUCCESS"}
    for tenant in TENANTS:
        assert stored_message_ids(engine, tenant) == truth[tenant], f"{tenant}: messages lost or duplicated"
    counters = emulator.client.counters()
    assert counters["peak_requests_per_second"] <= DISCORD_REQUESTS_PER_SECOND_LIMIT, counters
    print(f"initial syncs: {counters['requests']} requests, peak {counters['peak_requests_per_second']}/s")

    # New messages while the deployment was shaken; the next hourly tick, through the restarted code server,
    # brings both tenants up to date.
    for tenant in guilds:
        channel = next(iter(truth[tenant]))
        emulator.client.add_message(channel, f"after the restart ({tenant})")
    truth = {tenant: expected_message_ids(emulator.client.ground_truth(guild)) for tenant, guild in guilds.items()}
    # One batch run syncs both tenants; each is still its own partition with its own materialization.
    [hourly] = trigger_hourly_tick(topology)
    assert wait_for(f"run {hourly} finished", lambda: _finished(topology, hourly), topology=topology) == "SUCCESS"
    [batch] = runs(topology, {HOURLY_SYNC_TAG: "true"})
    assert (_tag(batch, RANGE_START), _tag(batch, RANGE_END)) == tuple(TENANTS)
    for tenant in TENANTS:
        assert stored_message_ids(engine, tenant) == truth[tenant]
        # The tenant's own materialization of `messages`, as the UI's partition view shows it.
        [last] = topology.graphql(LAST_MATERIALIZATION, {"tenant": tenant})["assetOrError"]["assetMaterializations"]
        assert (last["runId"], last["partition"]) == (hourly, tenant), last
    for pid in leftover_workers:
        _reap(pid)


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def _finished(topology: Topology, run_id: str) -> str | None:
    status = run_status(topology, run_id)
    return status if status in FINISHED else None


def _stored_total(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()


def _reap(pid: int) -> None:
    """A run worker orphaned by the killed gRPC server has no parent to wait for it: end it if it lingers."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.wait(timeout=30)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        process.kill()
