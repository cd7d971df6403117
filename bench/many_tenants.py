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
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant

REPO_ROOT = Path(__file__).resolve().parent.parent

BIN = Path(sys.executable).parent
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cycle(
    env: dict[str, str], emulator: EmulatorProcess, tenants: list[str], timeout: float, *, queue: bool
) -> CycleMeasurement:
    """Wait until every tenant had a run since now and every such run ended; with `queue`, first queue one run
    per tenant with the CLI (as the hourly schedule would), else the new-tenant sensor queues the initial syncs."""
    emulator.client.reset_counters()
    with _environment(env), dg.DagsterInstance.get() as instance:
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
    with tempfile.TemporaryDirectory(prefix="discord-sync-bench-tenants-") as home:
        Path(home, "dagster.yaml").write_text(config)
        env = sync_environment(emulator.base_url, url, DAGSTER_HOME=home)
        with _environment(env), dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("tenants", tenants)
        # The bench queues the hourly cycle itself: a real tick of the hourly schedule during it would add another.
        subprocess.run(
            [str(BIN / "dagster"), "schedule", "stop", "hourly_sync_schedule", "-w", str(REPO_ROOT / "workspace.yaml")],
            env=env,
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        log = open(Path(home, "daemon.log"), "w")
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # `discord-sync sync start` queues runs through the webserver's GraphQL API, as the UI does.
        port = _free_port()
        env["DAGSTER_WEBSERVER_URL"] = f"http://127.0.0.1:{port}"
        webserver = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for(f"{env['DAGSTER_WEBSERVER_URL']}/server_info", webserver)
        try:
            catch_up = _cycle(env, emulator, tenants, timeout=3600, queue=False)
            rng = random.Random(8)
            for guild_id in guild_ids:
                readable = [int(c["id"]) for c in emulator.client.channels(guild_id) if c["type"] in (0, 11)]
                for channel_id in rng.sample(readable, max(1, round(len(readable) * changed_share))):
                    emulator.client.add_message(channel_id, content="hourly change")
            hourly = _cycle(env, emulator, tenants, timeout=3600, queue=True)
        finally:
            for process in (webserver, daemon):
                os.killpg(process.pid, 2)
                process.wait(timeout=60)
            log.close()
    return ManyTenantsMeasurement(catch_up=catch_up, hourly=hourly, max_concurrent_runs=concurrency)
