"""Benchmark 13: the hourly cycle of many quiet tenants in batch runs, through the real Dagster daemon and run queue.

Each tenant's guild is small and quiet (5 text channels, no history). The tenants' initial state is prepared
without Dagster, fastest: the bench process runs each tenant's channel discovery and first sync with the product's
own code (`discover_tenant`, `sync_tenant_messages`, the member listing and the metrics, 8 tenants at once, as in a
batch), so the checkpoints, the catalog, the member cadence and the metrics are exactly what an initial sync leaves:
the measured cycle is a steady hour, whose member listing is not due (it is daily). Then one channel of each guild gets a message, the hourly
schedule's batches (`plan_hourly_batches`, `SYNC_HOURLY_BATCH_TENANTS` each) are queued through the webserver's
GraphQL API as the schedule's run requests would be (the same tags), and the cycle is timed from queueing to the last run's end
against its request floor: the Discord requests it sent, at the configured rate.

It also times one hourly schedule tick over 5,000 tenant partitions, with a run active for every tenth of them.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from dagster_graphql import DagsterGraphQLClient

from bench.dagster_stack import (
    FINISHED,
    CpuByRole,
    daemon_and_webserver,
    dagster_home,
    environment,
    stop_hourly_schedule,
)
from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.defs.assets import discover_tenant, hold_event_log_connections, sync_tenant_messages
from discord_sync.defs.community_metrics import tenant_metrics_materializations
from discord_sync.defs.member_steps import sync_tenant_members
from discord_sync.defs.resources import HourlyBatches, resources_from_settings
from discord_sync.defs.schedules import hourly_batch_tags, hourly_sync_schedule, plan_hourly_batches
from discord_sync.run_names import BATCH_JOB_NAME, RANGE_END_TAG, RANGE_START_TAG
from discord_sync.settings import Settings
from discord_sync.store.database import create_db_engine
from discord_sync.store.schema import metadata
from discord_sync.store.tenants import add_tenant, get_tenant
from discord_sync.store.writer import upsert_frame
from discord_sync.sync.tenant_batch import run_tenant_batch


@dataclass
class BatchCycleMeasurement:
    tenants: int
    batch_tenants: int
    runs: int
    other_runs: int
    failed_runs: int
    prepare_seconds: float
    wall_seconds: float
    requests: int
    refused: dict[str, int]
    requests_by_route: dict[str, int]
    requests_per_second: float
    mean_run_seconds: float
    tenants_materialized: int
    cpu_by_role: str
    events_per_tenant: float

    @property
    def floor_seconds(self) -> float:
        """The cycle's requests at the configured rate: no schedule can beat it with one bot."""
        return self.requests / self.requests_per_second

    @property
    def overhead_per_tenant(self) -> float:
        """Wall time beyond the request floor, per tenant: what Dagster and the product add to each tenant-hour."""
        return max(0.0, self.wall_seconds - self.floor_seconds) / self.tenants


def _prepare(tenants: list[str]) -> None:
    """Each tenant's initial state, with the product's own sync code in this process (no Dagster run)."""
    wanted = resources_from_settings(Settings.from_env())
    with dg.build_resources({key: wanted[key] for key in ("discord", "sync", "postgres")}) as resources:
        _prepare_with(tenants, resources.discord, resources.sync)


def _prepare_with(tenants: list[str], discord, sync) -> None:
    engine = create_db_engine(os.environ["DATABASE_URL"])

    class _Log:
        def info(self, *_: object) -> None: ...

        warning = error = debug = info

    def initial(tenant_id: str) -> None:
        frame, _ = discover_tenant(_Log(), discord, sync, engine, tenant_id, "bulk")
        with engine.begin() as conn:
            upsert_frame(conn, metadata.tables["channels"], frame, skip_unchanged=False)
        sync_tenant_messages(_Log(), discord, sync, engine, tenant_id, f"prepare:{tenant_id}", "bulk")
        # An initial sync also lists the members (daily afterwards) and computes the metrics.
        with engine.connect() as conn:
            tenant = get_tenant(conn, tenant_id)
        sync_tenant_members(_Log(), discord, sync, engine, tenant, "bulk")
        tenant_metrics_materializations(_Log(), engine, tenant_id)

    failed = [o for o in run_tenant_batch(tenants, initial) if not o.ok]
    engine.dispose()
    if failed:
        raise RuntimeError(f"{len(failed)} tenants could not be prepared, e.g. {failed[0].error}")


def measure_hourly_batches(
    server: Server, emulator: EmulatorProcess, guild_ids: list[int], database: str, *, batch_tenants: int
) -> BatchCycleMeasurement:
    """Prepare every tenant, change one channel of each guild, time the hourly cycle in batch runs."""
    url = server.fresh_database(database)
    tenants = [f"tenant-{n:04d}" for n in range(len(guild_ids))]
    engine = create_db_engine(url)
    with engine.begin() as conn:
        for tenant, guild_id in zip(tenants, guild_ids, strict=True):
            add_tenant(conn, tenant, guild_id)
    engine.dispose()
    with dagster_home("discord-sync-bench-batches-") as home:
        env = sync_environment(emulator.base_url, url, DAGSTER_HOME=home)
        with environment(env), dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("tenants", tenants)
            started = time.monotonic()
            _prepare(tenants)
            prepare_seconds = time.monotonic() - started
        stop_hourly_schedule(env)
        for guild_id in guild_ids:
            channel = next(c for c in emulator.client.channels(guild_id) if c["type"] == 0)
            emulator.client.add_message(int(channel["id"]), content="hourly change")
        with daemon_and_webserver(env, home) as webserver_url:
            client = DagsterGraphQLClient("127.0.0.1", port_number=int(webserver_url.rsplit(":", 1)[1]))
            batches = plan_hourly_batches(tenants, set(), batch_tenants)
            emulator.client.reset_counters()
            with environment(env), dg.DagsterInstance.get() as instance:
                known = {r.run_id for r in instance.get_runs()}
                with CpuByRole() as cpu:
                    started = time.monotonic()
                    for batch in batches:
                        client.submit_job_execution(
                            BATCH_JOB_NAME,
                            tags=hourly_batch_tags(batch[0], batch[-1]),
                        )
                    while True:
                        runs = [r for r in instance.get_runs() if r.run_id not in known]
                        if len(runs) >= len(batches) and all(r.status in FINISHED for r in runs):
                            break
                        if time.monotonic() - started > 3600:
                            raise RuntimeError("batch runs not finished after an hour")
                        time.sleep(0.5)
                    wall = time.monotonic() - started
                # Every event the cycle's runs wrote (materializations, checks, planned, logs): each is a write.
                events = sum(len(instance.all_logs(run.run_id)) for run in runs)
                records = instance.get_run_records(dg.RunsFilter(run_ids=[r.run_id for r in runs]))
                materialized = sum(
                    len(
                        instance.fetch_materializations(
                            dg.AssetRecordsFilter(asset_key=dg.AssetKey("messages"), asset_partitions=batch),
                            limit=len(batch) * 2,
                        ).records
                    )
                    for batch in batches
                )
    durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
    counters = emulator.client.counters()
    status_counts = counters["status_counts"]
    return BatchCycleMeasurement(
        tenants=len(tenants),
        batch_tenants=batch_tenants,
        runs=len(runs),
        # Runs of any other job in the cycle (the metrics' automation, a retry): each costs a run's overhead.
        other_runs=sum(1 for r in runs if r.job_name != BATCH_JOB_NAME),
        failed_runs=sum(1 for r in runs if r.status != dg.DagsterRunStatus.SUCCESS),
        prepare_seconds=prepare_seconds,
        wall_seconds=wall,
        requests=counters["requests"],
        requests_by_route=counters["requests_by_route"],
        refused={s: status_counts[s] for s in ("401", "403", "429") if status_counts.get(s)},
        requests_per_second=Settings.from_env(env).global_requests_per_second,
        mean_run_seconds=sum(durations) / max(len(durations), 1),
        tenants_materialized=materialized,
        cpu_by_role=cpu.describe(wall),
        events_per_tenant=events / len(tenants),
    )


def measure_schedule_tick(server: Server, database: str, *, partitions: int = 5000, repeats: int = 5) -> float:
    """The median seconds of one hourly schedule tick over `partitions` tenant partitions on the PostgreSQL-backed
    instance, with an active run for every tenth tenant (one batch run per 10 of them)."""
    url = server.fresh_database(database)
    tenants = [f"tenant-{n:05d}" for n in range(partitions)]
    with dagster_home("discord-sync-bench-tick-") as home:
        env = sync_environment("http://127.0.0.1:9", url, DAGSTER_HOME=home)
        with environment(env), dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("tenants", tenants)
            for n in range(0, partitions, 100):
                instance.add_run(
                    dg.DagsterRun(
                        job_name=BATCH_JOB_NAME,
                        run_id=f"00000000-0000-0000-0000-{n:012d}",
                        status=dg.DagsterRunStatus.STARTED,
                        tags={RANGE_START_TAG: tenants[n], RANGE_END_TAG: tenants[n + 9]},
                    )
                )
            seconds = []
            for _ in range(repeats):
                with dg.build_schedule_context(
                    instance=instance,
                    scheduled_execution_time=datetime.now(UTC),
                    resources={"hourly_batches": HourlyBatches()},
                ) as context:
                    started = time.perf_counter()
                    data = hourly_sync_schedule.evaluate_tick(context)
                    seconds.append(time.perf_counter() - started)
            assert data.run_requests, "the tick requested no run"
    return statistics.median(seconds)


def measure_event_writes(server: Server, database: str, *, events: int = 200) -> tuple[float, float]:
    """Milliseconds of wall per Dagster event written on the PostgreSQL-backed instance: as the daemon and a run
    worker write them (a new connection per event), then on held connections (`hold_event_log_connections`, what
    a batch run does). Runless materializations of tenant partitions, the same rows a batch writes."""
    url = server.fresh_database(database)
    per_event = []
    with dagster_home("discord-sync-bench-events-") as home:
        env = sync_environment("http://127.0.0.1:9", url, DAGSTER_HOME=home)
        with environment(env), dg.DagsterInstance.get() as instance:
            for held in (False, True):
                if held:
                    hold_event_log_connections(instance)
                started = time.perf_counter()
                for n in range(events):
                    instance.report_runless_asset_event(
                        dg.AssetMaterialization("messages", partition=f"tenant-{n:04d}", metadata={"messages": n})
                    )
                per_event.append((time.perf_counter() - started) / events * 1000)
    return per_event[0], per_event[1]
