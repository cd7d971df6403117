"""Benchmark 10: large tenants onboarding while small tenants run their hourly sync, through the real daemon and queue.

A temporary `DAGSTER_HOME` with the repository's `dagster.yaml` (run queue, lanes) runs `dagster-daemon` and a
webserver. The small tenants are added first and caught up by the new-tenant sensor's initial syncs. Then:

1. baseline: a message lands in one channel of each small guild and `discord-sync sync start` queues one hourly-lane
   run per tenant (as the schedule's tick does, skipping tenants whose run is queued or running); the time from queueing until the last small run ends;
2. the large tenants are inserted; the sensor queues their initial syncs (bulk lane); once the bulk runs hold their
   slots, the same hourly cycle again: the time until the last small run ends, against the baseline;
3. the onboarding goes on to the end: messages stored per second from the first large run's start to the last
   one's end, and the emulator's peak of requests in any one second over steps 2 and 3.
"""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from bench.dagster_stack import BIN, FINISHED, daemon_and_webserver, dagster_home, environment, stop_hourly_schedule
from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant


@dataclass
class LanesMeasurement:
    small_tenants: int
    large_tenants: int
    large_messages: int
    baseline_hourly_seconds: float
    hourly_during_onboarding_seconds: float
    onboarding_seconds: float
    onboarding_messages_stored: int
    # From the first large sync's start to the last one's end as `sync_runs` has them: the runs less their
    # process start-up and the asset checks after the sync.
    onboarding_sync_seconds: float
    peak_requests_per_second: int
    refused: int
    failed_runs: int
    bulk_runs_at_hourly_tick: int

    @property
    def hourly_ratio(self) -> float:
        return self.hourly_during_onboarding_seconds / self.baseline_hourly_seconds

    @property
    def onboarding_messages_per_second(self) -> float:
        return self.onboarding_messages_stored / self.onboarding_seconds


def _new_runs(instance: dg.DagsterInstance, known: set[str]) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if r.run_id not in known]


def _wait_until_done(
    instance: dg.DagsterInstance, known: set[str], tenants: list[str], timeout: float
) -> list[dg.DagsterRun]:
    """Wait until every tenant has a run not in `known` and all of those runs ended; those runs."""
    started = time.monotonic()
    while True:
        runs = [r for r in _new_runs(instance, known) if r.tags.get("dagster/partition") in tenants]
        covered = {r.tags.get("dagster/partition") for r in runs}
        if covered >= set(tenants) and all(r.status in FINISHED for r in runs):
            return runs
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"runs of {len(tenants)} tenants not finished after {timeout:.0f} s")
        time.sleep(1.0)


def _touch_small_guilds(emulator: EmulatorProcess, guild_ids: list[int], rng: random.Random) -> None:
    """One new message in one channel of each small guild: the hourly run has something to fetch."""
    for guild_id in guild_ids:
        readable = [int(c["id"]) for c in emulator.client.channels(guild_id) if c["type"] == 0]
        emulator.client.add_message(rng.choice(readable), content="hourly change")


def _hourly_tick(env: dict[str, str], instance: dg.DagsterInstance, small: list[str], timeout: float) -> float:
    """`discord-sync sync start` for every tenant, as the schedule's tick would (a tenant with a run queued or
    running, as the onboarding ones, gets no second): seconds until the last small tenant's new run ends."""
    known = {r.run_id for r in instance.get_runs()}
    started = time.monotonic()
    subprocess.run([str(BIN / "discord-sync"), "sync", "start"], env=env, check=True, capture_output=True)
    _wait_until_done(instance, known, small, timeout)
    return time.monotonic() - started


def measure_lanes(
    server: Server,
    emulator: EmulatorProcess,
    small_guilds: list[int],
    large_guilds: list[int],
    large_messages: int,
    database: str,
) -> LanesMeasurement:
    """Baseline hourly cycle of the small tenants, then the same cycle while the large tenants onboard."""
    url = server.fresh_database(database)
    small = [f"small-{n:03d}" for n in range(len(small_guilds))]
    large = [f"large-{n:02d}" for n in range(len(large_guilds))]
    engine = create_db_engine(url)
    with engine.begin() as conn:
        for tenant, guild_id in zip(small, small_guilds, strict=True):
            add_tenant(conn, tenant, guild_id)
    rng = random.Random(10)
    with dagster_home("discord-sync-bench-lanes-") as home:
        env = sync_environment(emulator.base_url, url, DAGSTER_HOME=home)
        stop_hourly_schedule(env)
        with daemon_and_webserver(env, home):
            with environment(env), dg.DagsterInstance.get() as instance:
                _wait_until_done(instance, set(), small, timeout=3600)  # the sensor's initial syncs
                _touch_small_guilds(emulator, small_guilds, rng)
                baseline = _hourly_tick(env, instance, small, timeout=3600)

                known = {r.run_id for r in instance.get_runs()}
                emulator.client.reset_counters()
                with engine.begin() as conn:
                    for tenant, guild_id in zip(large, large_guilds, strict=True):
                        add_tenant(conn, tenant, guild_id)
                # The hourly tick comes while bulk runs hold every slot the bulk lane has.
                deadline = time.monotonic() + 600
                while True:
                    started = [r for r in _new_runs(instance, known) if r.status == dg.DagsterRunStatus.STARTED]
                    if len(started) >= min(2, len(large)) or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                bulk_at_tick = len(started)
                time.sleep(5.0)  # the bulk runs are past discovery and fetching history
                _touch_small_guilds(emulator, small_guilds, rng)
                during = _hourly_tick(env, instance, small, timeout=3600)

                onboarding_runs = _wait_until_done(instance, known, large, timeout=7200)
                records = instance.get_run_records(dg.RunsFilter(run_ids=[r.run_id for r in onboarding_runs]))
                first_start = min(r.start_time for r in records if r.start_time)
                last_end = max(r.end_time for r in records if r.end_time)
                all_new = _new_runs(instance, known)
            counters = emulator.client.counters()
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM messages WHERE tenant_id = ANY(:tenants)"), {"tenants": large}
        ).scalar_one()
        sync_seconds = conn.execute(
            sa.text(
                "SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at))::float8 FROM sync_runs "
                "WHERE tenant_id = ANY(:tenants)"
            ),
            {"tenants": large},
        ).scalar_one()
    engine.dispose()
    status_counts = counters["status_counts"]
    return LanesMeasurement(
        small_tenants=len(small),
        large_tenants=len(large),
        large_messages=large_messages,
        baseline_hourly_seconds=baseline,
        hourly_during_onboarding_seconds=during,
        onboarding_seconds=last_end - first_start,
        onboarding_messages_stored=stored,
        onboarding_sync_seconds=sync_seconds,
        peak_requests_per_second=counters["peak_requests_per_second"],
        refused=sum(status_counts.get(s, 0) for s in ("401", "403", "429")),
        failed_runs=sum(1 for r in all_new if r.status != dg.DagsterRunStatus.SUCCESS),
        bulk_runs_at_hourly_tick=bulk_at_tick,
    )
