"""Benchmark 8: many tenants on one bot, through the real Dagster daemon and run queue (one run per tenant).

Each tenant's guild has 2,000 channels and threads (20 text channels with 99 active threads each, no history, so
the catch-up costs discovery only). A temporary `DAGSTER_HOME` with the repository's `dagster.yaml` (PostgreSQL
storage, the run queue's concurrency) runs `dagster-daemon`; its new-tenant sensor queues each tenant's initial
sync (the catch-up cycle). Then 1% of each guild's channels and threads get a message, `discord-sync sync start`
queues one run per tenant, as the hourly schedule does, and that hourly cycle is measured: wall time from queueing to the last run's end, Discord requests per tenant, and each
run's time in the queue and from start to end.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass

import dagster as dg

from bench.dagster_stack import (
    BIN,
    FINISHED,
    REPO_ROOT,
    daemon_and_webserver,
    dagster_home,
    environment,
    stop_hourly_schedule,
)
from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant


@dataclass
class CycleMeasurement:
    """One cycle of runs (one per tenant)."""

    tenants: int
    runs: int
    wall_seconds: float
    requests: int
    refused: int
    failed_runs: int
    mean_queue_seconds: float
    mean_run_seconds: float

    @property
    def requests_per_tenant(self) -> float:
        return self.requests / self.tenants


@dataclass
class ManyTenantsMeasurement:
    catch_up: CycleMeasurement
    hourly: CycleMeasurement
    max_concurrent_runs: int


def _cycle(
    env: dict[str, str], emulator: EmulatorProcess, tenants: list[str], timeout: float, *, queue: bool
) -> CycleMeasurement:
    """Wait until every tenant had a run since now and every such run ended; with `queue`, first queue one run
    per tenant with the CLI (as the hourly schedule would), else the new-tenant sensor queues the initial syncs."""
    emulator.client.reset_counters()
    with environment(env), dg.DagsterInstance.get() as instance:
        known = {r.run_id for r in instance.get_runs()}
        started = time.monotonic()
        if queue:
            subprocess.run([str(BIN / "discord-sync"), "sync", "start"], env=env, check=True, capture_output=True)
        while True:
            runs = [r for r in instance.get_runs() if r.run_id not in known]
            covered = {r.tags.get("dagster/partition") for r in runs}
            if covered >= set(tenants) and all(r.status in FINISHED for r in runs):
                break
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"runs not finished after {timeout:.0f} s")
            time.sleep(1.0)
        wall = time.monotonic() - started
        records = instance.get_run_records(dg.RunsFilter(run_ids=[r.run_id for r in runs]))
    queued = [r.start_time - r.create_timestamp.timestamp() for r in records if r.start_time]
    durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
    counters = emulator.client.counters()
    status_counts = counters["status_counts"]
    return CycleMeasurement(
        tenants=len(tenants),
        runs=len(runs),
        wall_seconds=wall,
        requests=counters["requests"],
        refused=sum(status_counts.get(s, 0) for s in ("401", "403", "429")),
        failed_runs=sum(1 for r in runs if r.status != dg.DagsterRunStatus.SUCCESS),
        mean_queue_seconds=sum(queued) / max(len(queued), 1),
        mean_run_seconds=sum(durations) / max(len(durations), 1),
    )


def measure_many_tenants(
    server: Server, emulator: EmulatorProcess, guild_ids: list[int], database: str, *, changed_share: float = 0.01
) -> ManyTenantsMeasurement:
    """Catch up every tenant, change `changed_share` of each guild's channels and threads, time the hourly cycle."""
    url = server.fresh_database(database)
    tenants = [f"tenant-{n:03d}" for n in range(len(guild_ids))]
    engine = create_db_engine(url)
    with engine.begin() as conn:
        for tenant, guild_id in zip(tenants, guild_ids, strict=True):
            add_tenant(conn, tenant, guild_id)
    engine.dispose()
    config = (REPO_ROOT / "dagster.yaml").read_text()
    concurrency = int(config.split("max_concurrent_runs:")[1].split()[0])
    # BENCH_MAX_CONCURRENT_RUNS tries another run-queue width than the deployment's.
    wanted = int(os.environ.get("BENCH_MAX_CONCURRENT_RUNS", concurrency))
    config = config.replace(f"max_concurrent_runs: {concurrency}", f"max_concurrent_runs: {wanted}")
    concurrency = wanted
    with dagster_home("discord-sync-bench-tenants-", config) as home:
        env = sync_environment(emulator.base_url, url, DAGSTER_HOME=home)
        with environment(env), dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("tenants", tenants)
        stop_hourly_schedule(env)
        # `discord-sync sync start` queues runs through the webserver's GraphQL API, as the UI does.
        with daemon_and_webserver(env, home):
            catch_up = _cycle(env, emulator, tenants, timeout=3600, queue=False)
            rng = random.Random(8)
            for guild_id in guild_ids:
                readable = [int(c["id"]) for c in emulator.client.channels(guild_id) if c["type"] in (0, 11)]
                for channel_id in rng.sample(readable, max(1, round(len(readable) * changed_share))):
                    emulator.client.add_message(channel_id, content="hourly change")
            hourly = _cycle(env, emulator, tenants, timeout=3600, queue=True)
    return ManyTenantsMeasurement(catch_up=catch_up, hourly=hourly, max_concurrent_runs=concurrency)
