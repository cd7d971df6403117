"""Benchmark 3: the hourly run of a guild where 1% of channels changed, as a real Dagster run from the CLI.

A temporary `DAGSTER_HOME` holds a `dagster.yaml` with the product's storage settings (Dagster's tables in the
bench database, schema `dagster`), the tenant partition is added to that instance, and `dagster asset materialize` runs the sync
twice as a subprocess: once to catch up, then, after messages were posted to 1% of the channels and threads, the
timed hourly run. Its wall time includes Dagster's start-up, run and step overhead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.dagster_stack import REPO_ROOT, dagster_home
from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.settings import DEFAULTS
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant

# The deployment's storage block, without its run queue and log capture (a benchmark times the sync, not them).
DAGSTER_YAML = yaml.safe_dump(
    {"storage": yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())["storage"], "telemetry": {"enabled": False}}
)
MESSAGE_ROUTE = "GET /channels/{channel_id}/messages"
TENANT = "bench"


@dataclass
class SteadyStateMeasurement:
    """The hourly run: requests by kind, wall time, and the floor its requests set."""

    channels: int
    changed: int
    message_requests: int
    discovery_requests: int
    wall_seconds: float
    first_sync_seconds: float
    workers: int
    latency_ms: float
    requests_per_second: float

    @property
    def requests(self) -> int:
        return self.message_requests + self.discovery_requests

    @property
    def allowed_requests(self) -> int:
        return self.changed + self.discovery_requests

    @property
    def floor_seconds(self) -> float:
        return max(self.requests / self.requests_per_second, self.requests * self.latency_ms / 1000 / self.workers)


def materialize_tenant_run(env: dict[str, str]) -> float:
    """One `dagster asset materialize` of the bench tenant as a subprocess; returns its wall time."""
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "asset",
        "materialize",
        "-m",
        "discord_sync.definitions",
        "--select",
        "channels,messages,reactions,attachments",
        "--partition",
        TENANT,
    ]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0 or "RUN_SUCCESS" not in done.stdout + done.stderr:
        raise RuntimeError(f"dagster asset materialize failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return elapsed


def measure_steady_state(
    server: Server,
    emulator: EmulatorProcess,
    guild_id: int,
    database: str,
    *,
    latency_ms: float,
    changed_share: float = 0.01,
) -> SteadyStateMeasurement:
    """Catch up once, post a message to `changed_share` of the channels and threads, then time the hourly run."""
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
        first = materialize_tenant_run(env)
        readable = sorted(c for c, n in control.ground_truth_counts(guild_id).items() if n)
        changed = max(1, round(len(readable) * changed_share))
        step = len(readable) / changed
        for number in range(changed):
            control.add_message(readable[int(number * step)], content=f"hourly change {number}")
        control.reset_counters()
        wall = materialize_tenant_run(env)
    by_route = control.counters()["requests_by_route"]
    message_requests = by_route.get(MESSAGE_ROUTE, 0)
    settings = {k: v for k, v in os.environ.items() if k.startswith("SYNC_")}
    return SteadyStateMeasurement(
        channels=len(readable),
        changed=changed,
        message_requests=message_requests,
        discovery_requests=sum(by_route.values()) - message_requests,
        wall_seconds=wall,
        first_sync_seconds=first,
        workers=int(settings.get("SYNC_MAX_CHANNEL_WORKERS", DEFAULTS.max_channel_workers)),
        latency_ms=latency_ms,
        requests_per_second=float(settings.get("SYNC_GLOBAL_REQUESTS_PER_SECOND", DEFAULTS.global_requests_per_second)),
    )
