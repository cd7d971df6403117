"""Benchmarks 1, 2 and 5: an initial sync of a guild, timed and checked against the emulator's ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bench.infra import EmulatorProcess, Server, sync_environment
from discord_sync.store.database import create_db_engine
from discord_sync.store.tenants import add_tenant


@dataclass
class SyncMeasurement:
    """What one initial sync stored, how fast, at what memory, and what it cost the emulator."""

    messages_stored: int
    messages_expected: int
    sync_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    baseline_rss_mb: float
    sync_cpu_seconds: float
    emulator_cpu_seconds: float
    requests: int
    rate_limited: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def messages_per_second(self) -> float:
        return self.messages_stored / self.sync_seconds


def run_sync_process(env: dict[str, str], tenant_id: str, *, profile: str | None = None) -> dict[str, Any]:
    """Run `bench.sync_once` in a child process and return its JSON report."""
    command = [sys.executable, "-m", "bench.sync_once", tenant_id]
    if profile:
        command = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-o",
            profile,
            "-r",
            "html",
            "-m",
            "bench.sync_once",
            tenant_id,
        ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    raise RuntimeError(f"the sync process failed ({done.returncode}):\n{done.stderr[-4000:]}")


def measure_initial_sync(
    server: Server, emulator: EmulatorProcess, guild_id: int, database: str, *, profile: str | None = None, **knobs: str
) -> SyncMeasurement:
    """Sync guild `guild_id` into a fresh database as tenant `bench`; return what happened."""
    url = server.fresh_database(database)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        add_tenant(conn, "bench", guild_id)
    control = emulator.client
    expected = sum(control.ground_truth_counts(guild_id).values())
    control.reset_counters()
    cpu_before = emulator.cpu_seconds()
    report = run_sync_process(sync_environment(emulator.base_url, url, **knobs), "bench", profile=profile)
    emulator_cpu = emulator.cpu_seconds() - cpu_before
    counters = control.counters()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM messages WHERE tenant_id = 'bench'")).scalar_one()
    engine.dispose()
    meta = report["metadata"].get("messages", {})
    if not report["success"] or stored != expected:
        raise RuntimeError(f"sync stored {stored} of {expected} messages; metadata {meta}")
    return SyncMeasurement(
        messages_stored=stored,
        messages_expected=expected,
        sync_seconds=float(meta["sync_seconds"]),
        wall_seconds=report["wall_seconds"],
        peak_rss_mb=report["peak_rss_mb"],
        baseline_rss_mb=report["baseline_rss_mb"],
        sync_cpu_seconds=report["cpu_seconds"],
        emulator_cpu_seconds=emulator_cpu,
        requests=counters["requests"],
        rate_limited=counters["rate_limited"],
        details={"messages": meta, "channels": report["metadata"].get("channels", {}), "emulator": counters},
    )
