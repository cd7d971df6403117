"""Benchmark 7: the hourly run of a quiet tenant, as a real Dagster run from the CLI: what it asks Discord.

The guild has channels and active threads, many archived threads, channels hidden from the bot by a permission
overwrite, and a bot without Manage Threads. After a catch-up run (which lists everything once), nothing changes and
the hourly run is made: its requests are counted by the emulator, by route and by status. A request count, not a
time, so it is meaningful on a loaded machine.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from bench.dagster_stack import dagster_home
from bench.infra import EmulatorProcess, Server, sync_environment
from bench.steady_state import DAGSTER_YAML, TENANT, materialize_tenant_run
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant

REFUSALS = ("401", "403", "429")


@dataclass
class QuietHourMeasurement:
    """The quiet hour's requests, and the catch-up run's for scale."""

    channels_and_threads: int
    archived_threads: int
    hidden_channels: int
    requests_by_route: dict[str, int]
    refused: dict[str, int]
    first_run_requests: int

    @property
    def requests(self) -> int:
        return sum(self.requests_by_route.values())


def measure_quiet_hour(
    server: Server, emulator: EmulatorProcess, guild_id: int, database: str, *, archived_threads: int, hidden: int
) -> QuietHourMeasurement:
    """Catch up once, then count what the next (quiet) hourly run asks."""
    url = server.fresh_database(database)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        add_tenant(conn, TENANT, guild_id)
    engine.dispose()
    control = emulator.client
    with dagster_home("discord-sync-bench-dagster-", DAGSTER_YAML) as home:
        env = sync_environment(emulator.base_url, url, DAGSTER_HOME=home)
        add_partition = "import dagster as dg; dg.DagsterInstance.get().add_dynamic_partitions('tenants', ['bench'])"
        subprocess.run([sys.executable, "-c", add_partition], env=env, check=True, capture_output=True)
        control.reset_counters()
        materialize_tenant_run(env)
        first = control.counters()["requests"]
        control.reset_counters()
        materialize_tenant_run(env)
    counters = control.counters()
    status_counts = counters["status_counts"]
    channels = control.channels(guild_id)
    archived = sum(1 for c in channels if (c.get("thread_metadata") or {}).get("archived"))
    return QuietHourMeasurement(
        channels_and_threads=len(channels) - archived,
        archived_threads=archived,
        hidden_channels=hidden,
        requests_by_route=counters["requests_by_route"],
        refused={s: status_counts.get(s, 0) for s in REFUSALS},
        first_run_requests=first,
    )
