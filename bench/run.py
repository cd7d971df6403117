"""Run every benchmark against the emulator (a separate process, rate limits on) and a real PostgreSQL.

    .venv/bin/python -m bench.run            # full run, ~15 minutes
    .venv/bin/python -m bench.run --quick    # smoke run, ~3 minutes
    DATABASE_URL=postgresql://... .venv/bin/python -m bench.run   # use a given server (else an embedded one)

Prints one table (figure, the physical limit beside it, ratio, target) and, with `--write`, writes it to
bench/RESULTS.md with the machine it ran on. "ratio" is how close the figure comes to its limit: 1.0 is at the
limit, for times and request counts it is limit / figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.emulator_cost import measure_page_cost
from bench.hourly_batches import measure_event_writes, measure_hourly_batches, measure_schedule_tick
from bench.infra import EmulatorProcess, Server, sync_environment
from bench.initial_sync import SyncMeasurement, measure_initial_sync
from bench.lanes import measure_lanes
from bench.many_tenants import measure_many_tenants
from bench.members import MESSAGES_PER_HOUR, REACTED_SHARE, measure_members_sync, measure_reactors_hour
from bench.metrics_recompute import HISTORY_DAYS, measure_metrics_recompute
from bench.quiet_tenant import measure_quiet_hour
from bench.refresh import RECENT_MODEL, WEEK_MODEL, measure_refresh
from bench.steady_state import measure_steady_state
from bench.write_path import measure_write_path
from discord_sync.emulator import GuildSpec
from discord_sync.settings import DEFAULTS
from discord_sync.source.rate_limiter import DISCORD_GLOBAL_LIMIT

GLOBAL_CEILING = 5000.0  # 50 requests/s per bot token x 100 messages per request
RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark's guild is."""

    channels: int
    threads_per_channel: int
    messages_per_channel: int
    huge: int
    huge_small: int
    strict_bucket: tuple[int, float]
    steady_channels: int
    write_messages: int
    naive_seconds: float
    # Quiet tenant: channels (each with 3 active threads) and archived threads per channel.
    quiet_channels: int = 500
    quiet_archived_per_channel: int = 10
    # Many tenants: how many tenants of 2,000 channels and threads share the bot.
    tenants: int = 100
    # Refresh: channels with a week of history each.
    refresh_channels: int = 100
    refresh_messages_per_channel: int = 70
    # Lanes: large tenants onboarding (channels x messages each) while small tenants run their hourly sync.
    lanes_large_tenants: int = 4
    lanes_large_channels: int = 50
    lanes_large_messages_per_channel: int = 10_000
    lanes_small_tenants: int = 50
    # Hourly batches: how many quiet tenants (20 channels each) the hourly cycle syncs in batch runs.
    batch_tenants_total: int = 1000


FULL = Sizes(100, 2, 1000, 200_000, 50_000, (20, 1.0), 200, 50_000, 60.0)
QUICK = Sizes(
    20,
    2,
    500,
    30_000,
    10_000,
    (20, 1.0),
    20,
    10_000,
    15.0,
    100,
    5,
    5,
    refresh_channels=20,
    lanes_large_tenants=2,
    lanes_large_channels=40,
    lanes_large_messages_per_channel=2_000,
    lanes_small_tenants=20,
    batch_tenants_total=100,
)


@dataclass
class Row:
    benchmark: str
    figure: str
    limit: str
    ratio: float | None
    target: str
    passed: bool | None
    notes: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args, **kwargs) -> None:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(
            f"  {row.benchmark}: {row.figure} (limit {row.limit}; ratio {_ratio(row.ratio)}; {row.notes})", flush=True
        )

    def markdown(self) -> str:
        lines = [
            "| benchmark | figure | physical limit | ratio | target | result | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            verdict = "" if r.passed is None else ("pass" if r.passed else "**miss**")
            lines.append(
                f"| {r.benchmark} | {r.figure} | {r.limit} | {_ratio(r.ratio)} | {r.target} | {verdict} | {r.notes} |"
            )
        return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _sync_notes(m: SyncMeasurement) -> str:
    return (
        f"{m.messages_stored:,} msgs in {m.sync_seconds:.1f} s, {m.requests} requests, {m.rate_limited} × 429; "
        f"CPU: sync {m.sync_cpu_seconds / m.wall_seconds:.0%}, emulator {m.emulator_cpu_seconds / m.sync_seconds:.0%}"
    )


def many_channels(server: Server, sizes: Sizes, latency: float, table: Table) -> float:
    """Benchmarks 1 and 6 on one guild of many channels and threads."""
    spec = GuildSpec(
        seed=1,
        layout="uniform",
        channels=sizes.channels,
        threads_per_channel=sizes.threads_per_channel,
        messages_per_channel=sizes.messages_per_channel,
    )
    with EmulatorProcess.start([spec], latency_ms=latency) as emulator:
        guild_id = emulator.guild_ids[0]
        m = measure_initial_sync(server, emulator, guild_id, "bench_many_channels")
        count = sizes.channels * (1 + sizes.threads_per_channel)
        ours = m.messages_per_second
        ratio = ours / GLOBAL_CEILING
        table.add(
            f"1. initial sync, {count} channels+threads",
            f"{ours:,.0f} msg/s",
            f"{GLOBAL_CEILING:,.0f} msg/s",
            ratio,
            "≥ 0.9",
            ratio >= 0.9,
            _sync_notes(m),
        )
        url = server.fresh_database("bench_naive")
        command = [sys.executable, "-m", "bench.naive_sync", str(guild_id), "--seconds", str(sizes.naive_seconds)]
        done = subprocess.run(command, env=sync_environment(emulator.base_url, url), capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
        if not lines:
            raise RuntimeError(f"naive sync failed:\n{done.stderr[-3000:]}")
        naive = json.loads(lines[0].removeprefix("BENCH_RESULT "))
        naive_rate = naive["messages"] / naive["seconds"]
        table.add(
            "6. vs discord.py history() + INSERT per message",
            f"{ours / naive_rate:.1f}× faster",
            f"naive: {naive_rate:,.0f} msg/s",
            None,
            "",
            None,
            f"naive stored {naive['messages']:,} msgs in its {naive['seconds']:.0f} s; bench/naive_sync.py",
        )
    return ours


def huge_channel(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmarks 2 and 5: one huge channel at two bucket settings, and peak memory at two sizes."""
    specs = [
        GuildSpec(seed=2, layout="uniform", channels=1, messages_per_channel=sizes.huge),
        GuildSpec(seed=3, layout="uniform", channels=1, messages_per_channel=sizes.huge_small),
    ]
    with EmulatorProcess.start(specs, latency_ms=latency) as emulator:
        huge, small = emulator.guild_ids
        runs = {}
        for bucket in ((50, 1.0), sizes.strict_bucket):
            emulator.client.set_message_bucket(*bucket)
            m = runs[bucket] = measure_initial_sync(server, emulator, huge, "bench_huge_channel")
            limit, per = bucket
            bound = min(GLOBAL_CEILING, limit * 100 / per)
            ratio = m.messages_per_second / bound
            table.add(
                f"2. initial sync, one channel of {sizes.huge:,}, bucket {limit}/{per:g} s",
                f"{m.messages_per_second:,.0f} msg/s",
                f"{bound:,.0f} msg/s",
                ratio,
                "≥ 0.8",
                ratio >= 0.8,
                _sync_notes(m),
            )
        emulator.client.set_message_bucket(50, 1.0)
        small_run = measure_initial_sync(server, emulator, small, "bench_huge_channel_small")
        big_run = runs[(50, 1.0)]
        for run, size in ((small_run, sizes.huge_small), (big_run, sizes.huge)):
            table.add(
                f"5. peak RSS, one channel of {size:,}",
                f"{run.peak_rss_mb:.0f} MB",
                "300 MB (target)",
                None,
                "< 300 MB",
                run.peak_rss_mb < 300,
                f"process after imports: {run.baseline_rss_mb:.0f} MB; growth {big_run.peak_rss_mb - small_run.peak_rss_mb:+.0f} MB from {sizes.huge_small:,} to {sizes.huge:,}"
                if size == sizes.huge
                else f"process after imports: {run.baseline_rss_mb:.0f} MB",
            )


def steady_state(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 3: the hourly run of a 2,000-channel guild with 1% changed."""
    spec = GuildSpec(
        seed=4, layout="uniform", channels=sizes.steady_channels, threads_per_channel=9, messages_per_channel=3
    )
    with EmulatorProcess.start([spec], latency_ms=latency) as emulator:
        m = measure_steady_state(server, emulator, emulator.guild_ids[0], "bench_steady_state", latency_ms=latency)
    # Discovery: 5 requests a run, plus one archived listing page per kind (public, private) for each changed
    # parent channel (its newest message moved); a changed thread costs none.
    allowed = m.changed + 5 + 2 * m.changed
    table.add(
        f"3a. hourly run, {m.channels:,} channels+threads, {m.changed} changed: requests",
        f"{m.requests} requests",
        f"{allowed} ({m.changed} changed + 5 + 2 × {m.changed} listing pages)",
        allowed / m.requests,
        "≤ limit",
        m.requests <= allowed,
        f"{m.message_requests} message pages, {m.discovery_requests} discovery requests",
    )
    table.add(
        "3b. hourly run: wall time incl. Dagster run",
        f"{m.wall_seconds:.1f} s",
        f"{m.floor_seconds:.1f} s (request floor)",
        m.floor_seconds / m.wall_seconds,
        "",
        None,
        f"`dagster asset materialize` subprocess; first (catch-up) run took {m.first_sync_seconds:.0f} s",
    )


def quiet_tenant(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 7: the hourly run of a quiet tenant with many archived threads and hidden channels."""
    spec = GuildSpec(
        seed=7,
        layout="uniform",
        channels=sizes.quiet_channels,
        threads_per_channel=3,
        archived_threads_per_channel=sizes.quiet_archived_per_channel,
        hidden_channels=20,
        bot_manage_threads=False,
        messages_per_channel=1,
    )
    with EmulatorProcess.start([spec], latency_ms=latency) as emulator:
        m = measure_quiet_hour(
            server,
            emulator,
            emulator.guild_ids[0],
            "bench_quiet_tenant",
            archived_threads=sizes.quiet_channels * sizes.quiet_archived_per_channel,
            hidden=20,
        )
    refused = sum(m.refused.values())
    table.add(
        f"7. quiet hour: {m.channels_and_threads:,} channels+threads, {m.archived_threads:,} archived, "
        f"{m.hidden_channels} hidden, no Manage Threads: requests",
        f"{m.requests} requests, {refused} × 401/403/429",
        "5 requests, 0 refused",
        5 / max(m.requests, 1),
        "≤ 5, 0 refused",
        m.requests <= 5 and refused == 0,
        f"{', '.join(f'{r} {n}' for r, n in sorted(m.requests_by_route.items()))}; "
        f"the catch-up run before it sent {m.first_run_requests:,}",
    )


def many_tenants(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 8: many tenants of 2,000 channels and threads, 1% changed, through the Dagster daemon."""
    tenants = int(os.environ.get("BENCH_TENANTS", sizes.tenants))
    specs = [
        GuildSpec(seed=100 + n, layout="uniform", channels=20, threads_per_channel=99, messages_per_channel=0)
        for n in range(tenants)
    ]
    with EmulatorProcess.start(specs, latency_ms=latency) as emulator:
        m = measure_many_tenants(server, emulator, emulator.guild_ids, "bench_many_tenants")
    hourly = m.hourly
    budget = DISCORD_GLOBAL_LIMIT * 3600 / hourly.requests_per_tenant
    # What a run costs the run queue: its slot from dequeue to end (the run worker's start-up included), which the
    # run's own start-to-end time leaves out.
    slot_seconds = hourly.wall_seconds * m.max_concurrent_runs / hourly.runs
    table.add(
        f"8a. hourly cycle, {tenants} tenants × 2,000 channels+threads, 1% changed: wall time",
        f"{hourly.wall_seconds:.0f} s",
        "300 s",
        300 / hourly.wall_seconds,
        "≤ 300 s",
        hourly.wall_seconds <= 300,
        f"one run per tenant, {m.max_concurrent_runs} at once (dagster.yaml); {slot_seconds:.1f} s of queue slot "
        f"per run, of which {hourly.mean_run_seconds:.1f} s from run start to end; {hourly.failed_runs} of "
        f"{hourly.runs} runs failed; catch-up cycle (the new-tenant sensor's initial syncs) "
        f"{m.catch_up.wall_seconds:.0f} s",
    )
    table.add(
        "8b. Discord requests per tenant-hour; tenants one bot keeps hourly",
        f"{hourly.requests_per_tenant:.1f} requests; {budget:,.0f} tenants",
        f"{DISCORD_GLOBAL_LIMIT}/s × 3,600 s",
        None,
        "",
        None,
        f"{hourly.refused} × 401/403/429; Discord's limit bounds one bot at {budget:,.0f} tenants; this machine's "
        f"run queue at {3600 * m.max_concurrent_runs / slot_seconds:,.0f} tenant runs an hour",
    )


def hourly_batches(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 13: the hourly cycle of many quiet tenants in batch runs through the Dagster daemon."""
    tenants = int(os.environ.get("BENCH_TENANTS", sizes.batch_tenants_total))
    batch = int(os.environ.get("SYNC_HOURLY_BATCH_TENANTS", DEFAULTS.hourly_batch_tenants))
    specs = [
        GuildSpec(seed=1000 + n, layout="uniform", channels=5, messages_per_channel=0, name=f"quiet {n}")
        for n in range(tenants)
    ]
    with EmulatorProcess.start(specs, latency_ms=latency) as emulator:
        m = measure_hourly_batches(server, emulator, emulator.guild_ids, "bench_hourly_batches", batch_tenants=batch)
    per_tenant = m.requests / m.tenants
    machine_tenants = 3600 / (m.wall_seconds / m.tenants)
    table.add(
        f"13a. hourly cycle, {tenants} quiet tenants × 5 channels, 1 changed, batches of {batch}: wall time",
        f"{m.wall_seconds:.0f} s",
        f"{m.floor_seconds:.0f} s (request floor)",
        m.floor_seconds / m.wall_seconds,
        "≤ 1.5 × floor",
        m.wall_seconds <= 1.5 * m.floor_seconds,
        f"{m.runs - m.other_runs} batch runs and {m.other_runs} other runs ({m.failed_runs} failed), {m.tenants_materialized} tenant partitions materialized; "
        f"{m.requests:,} requests ({per_tenant:.1f} per tenant, refused: "
        f"{', '.join(f'{n} × {status}' for status, n in m.refused.items()) or 'none'}) at "
        f"{m.requests_per_second:g}/s; per tenant: "
        f"{', '.join(f'{route} {n / m.tenants:.1f}' for route, n in sorted(m.requests_by_route.items()))}; mean run {m.mean_run_seconds:.0f} s; "
        f"{m.events_per_tenant:.1f} Dagster events per tenant; CPU: {m.cpu_by_role}; state prepared in {m.prepare_seconds:.0f} s",
    )
    table.add(
        "13b. Dagster's overhead per tenant-hour (wall beyond the request floor, per tenant)",
        f"{m.overhead_per_tenant:.2f} s",
        "0.2 s",
        0.2 / m.overhead_per_tenant if m.overhead_per_tenant else None,
        "< 0.2 s",
        m.overhead_per_tenant < 0.2,
        f"one run per tenant was ~2.5 s (8a); this machine keeps {machine_tenants:,.0f} such tenants hourly, one "
        f"bot {DISCORD_GLOBAL_LIMIT * 3600 / per_tenant:,.0f}",
    )
    tick = measure_schedule_tick(server, "bench_schedule_tick")
    table.add(
        "13c. one hourly schedule tick over 5,000 tenant partitions (500 in active batch runs)",
        f"{tick:.2f} s",
        "60 s (Dagster's tick timeout)",
        60 / tick,
        "< 60 s",
        tick < 60,
        "partition keys and active runs: two queries, no tenant's history",
    )
    fresh, held = measure_event_writes(server, "bench_event_writes")
    table.add(
        "13d. one Dagster event written, a connection each (daemon, run workers) vs held (batch runs)",
        f"{held:.1f} ms held",
        f"{fresh:.1f} ms a connection each",
        fresh / held,
        "",
        None,
        f"200 materializations of tenant partitions each way; a batch run of 100 tenants is created with 300 planned "
        f"events (3 selected assets × 100 partitions): {300 * fresh / 1000:.1f} s of the daemon's tick per batch run",
    )


def write_path(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 4: the product's write path beside a bare COPY."""
    spec = GuildSpec(seed=5, layout="uniform", channels=1, messages_per_channel=sizes.write_messages)
    batch = int(os.environ.get("SYNC_WRITE_BATCH_MESSAGES", str(DEFAULTS.write_batch_messages)))
    with EmulatorProcess.start([spec], latency_ms=latency) as emulator:
        channel_id = next(int(c) for c in emulator.client.ground_truth_counts(emulator.guild_ids[0]))
        m = measure_write_path(server, emulator, channel_id, "bench_write_path", batch)
    ratio = m.product_rows_per_second / m.copy_rows_per_second
    table.add(
        "4. write path (messages + reactions + attachments)",
        f"{m.product_rows_per_second:,.0f} msg rows/s",
        f"{m.copy_rows_per_second:,.0f} rows/s (bare COPY)",
        ratio,
        "≥ 0.5",
        ratio >= 0.5,
        f"{m.messages:,} messages, {m.reactions:,} reactions, {m.attachments:,} attachments; batches of {batch}",
    )
    table.add(
        "4b. write path vs bare COPY into the product's own tables, empty",
        f"{m.product_rows_per_second:,.0f} msg rows/s",
        f"{m.indexed_copy_rows_per_second:,.0f} rows/s (COPY, one transaction)",
        m.product_rows_per_second / m.indexed_copy_rows_per_second,
        "",
        None,
        "same rows into the product's tables with their indexes and keys: what the write path adds beyond storing them",
    )


def refresh(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 7: the hourly run with a stream of edits, deletions and reactions on the last 7 days."""
    m = measure_refresh(server, sizes.refresh_channels, sizes.refresh_messages_per_channel, latency)
    changes = ", ".join(f"{n} {kind}" for kind, n in sorted(m.changes.items()))
    model = (
        f"{m.channels} channels × {m.messages // m.channels} msgs over 7 days; per hour: last 24 h "
        f"{RECENT_MODEL[0]:.1%} edited, {RECENT_MODEL[1]:.0%} reacted, {RECENT_MODEL[2]:.0%} unreacted, "
        f"{RECENT_MODEL[3]:.1%} deleted; days 2-7 {WEEK_MODEL[0]:.1%} edited, {WEEK_MODEL[1]:.0%} reacted, "
        f"{WEEK_MODEL[3]:.1%} deleted; 1% of channels new messages (this run: {changes})"
    )
    table.add(
        "9a. hourly run with edits/deletions/reactions: requests",
        f"{m.hourly.requests} requests",
        f"{m.hourly_floor} (refresh policy floor)",
        m.hourly_floor / m.hourly.requests,
        "≤ 1.1 × floor",
        m.hourly.requests <= 1.1 * m.hourly_floor,
        f"{m.hourly.discovery} discovery, {m.hourly.message_pages} message pages ({m.hourly.refresh_requests} re-read "
        f"requests in {m.hourly.windows} windows), {m.hourly.confirmations} deletion checks; {model}",
    )
    table.add(
        "9b. staleness after the hourly run: last 24 h true to Discord",
        f"{m.fresh_24h_after_hourly:.1%}",
        "100%",
        m.fresh_24h_after_hourly,
        "100%",
        m.fresh_24h_after_hourly == 1.0,
        f"content, reactions and deletion state; last 7 days after the same run: {m.fresh_7d_after_hourly:.1%} "
        "(days 2-7 wait for the daily re-read)",
    )
    table.add(
        "9c. daily re-read: last 7 days true to Discord",
        f"{m.fresh_7d_after_daily:.1%}",
        "100%",
        m.fresh_7d_after_daily,
        "100%",
        m.fresh_7d_after_daily == 1.0,
        f"{m.daily.requests} requests (floor {m.daily_floor}: {m.daily.discovery} discovery + one page per 100 "
        f"messages of the week per channel + deletion checks); {m.daily.windows} windows",
    )


def lanes(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 10: large tenants onboarding in the bulk lane while small tenants run their hourly sync."""
    per_large = sizes.lanes_large_channels * sizes.lanes_large_messages_per_channel
    large = [
        GuildSpec(
            seed=1000 + n,
            layout="uniform",
            channels=sizes.lanes_large_channels,
            messages_per_channel=sizes.lanes_large_messages_per_channel,
        )
        for n in range(sizes.lanes_large_tenants)
    ]
    small = [
        GuildSpec(seed=2000 + n, layout="uniform", channels=5, messages_per_channel=20)
        for n in range(sizes.lanes_small_tenants)
    ]
    with EmulatorProcess.start(large + small, latency_ms=latency) as emulator:
        guild_ids = emulator.guild_ids
        m = measure_lanes(
            server,
            emulator,
            guild_ids[len(large) :],
            guild_ids[: len(large)],
            per_large * len(large),
            "bench_lanes",
        )
    onboarding = f"{m.large_tenants} tenants × {per_large:,} msgs"
    table.add(
        f"10a. hourly cycle of {m.small_tenants} small tenants while {onboarding} onboard: wall time",
        f"{m.hourly_during_onboarding_seconds:.0f} s",
        f"{m.baseline_hourly_seconds:.0f} s (same cycle, nothing onboarding)",
        m.baseline_hourly_seconds / m.hourly_during_onboarding_seconds,
        "≤ 2 × baseline",
        m.hourly_ratio <= 2.0,
        f"{m.hourly_ratio:.2f} × baseline; {m.bulk_runs_at_hourly_tick} bulk runs running at the tick (bulk lane "
        f"cap in dagster.yaml); {m.failed_runs} runs failed",
    )
    table.add(
        f"10b. onboarding throughput, {onboarding}, beside the hourly cycle",
        f"{m.onboarding_messages_per_second:,.0f} msg/s",
        f"{GLOBAL_CEILING:,.0f} msg/s",
        m.onboarding_messages_per_second / GLOBAL_CEILING,
        "≥ 0.8 × limit",
        m.onboarding_messages_per_second >= 0.8 * GLOBAL_CEILING,
        f"{m.onboarding_messages_stored:,} of {m.large_messages:,} msgs stored in {m.onboarding_seconds:.0f} s, "
        f"first large run's start to last one's end ({m.onboarding_messages_stored / m.onboarding_sync_seconds:,.0f} "
        f"msg/s over the syncs alone, {m.onboarding_sync_seconds:.0f} s, without run start-up and checks); "
        f"SYNC_GLOBAL_REQUESTS_PER_SECOND {DEFAULTS.global_requests_per_second:g}, bulk lane cap 2",
    )
    table.add(
        "10c. peak Discord requests in one second, both lanes",
        f"{m.peak_requests_per_second}/s",
        f"{DISCORD_GLOBAL_LIMIT}/s",
        m.peak_requests_per_second / DISCORD_GLOBAL_LIMIT,
        f"≤ {DISCORD_GLOBAL_LIMIT}/s",
        m.peak_requests_per_second <= DISCORD_GLOBAL_LIMIT,
        f"{m.refused} × 401/403/429 (the emulator's count over onboarding and the hourly cycle beside it)",
    )


def metrics_recompute(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """Benchmark 12: community metrics recomputed after an hourly sync of a tenant with 1,000,000 messages."""
    m = measure_metrics_recompute(server, 100_000 if sizes is QUICK else 1_000_000)
    per_day_full = m.full_seconds / m.full.changed_days
    for name, seconds, done in (
        ("12a. metrics recompute after an hourly sync", m.hourly_seconds, m.hourly),
        ("12b. metrics recompute after a daily re-read", m.daily_seconds, m.daily),
    ):
        # The limit: the full compute's cost per day of history, times the days this refresh had to recompute.
        limit = per_day_full * done.changed_days
        table.add(
            name,
            f"{seconds:.2f} s",
            f"{limit:.2f} s (full compute {m.full_seconds:.1f} s / {m.full.changed_days} days × {done.changed_days})",
            limit / seconds,
            "≤ 2 × limit (∝ days changed, not history)",
            seconds <= 2 * limit,
            f"{m.messages:,} messages over {HISTORY_DAYS} days, {m.reactions:,} reactions; {done.changed_days} changed "
            f"days, {done.activity_days} activity days, {done.active_member_days} active-member days, "
            f"{done.retention_weeks} weeks, {done.threads} threads recomputed; history loaded in SQL in "
            f"{m.load_seconds:.0f} s",
        )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def emulator_cost(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """The emulator's own cost per page: it shares this machine's cores with the sync and PostgreSQL."""
    pages = 200 if sizes is QUICK else 1000
    figures = measure_page_cost(pages)
    slot_ms = 1000 / DISCORD_GLOBAL_LIMIT
    table.add(
        "e. emulator CPU per page of 100 messages",
        f"{figures['cpu_ms_per_page']:.1f} ms",
        f"{slot_ms:.0f} ms (one page per global slot at {DISCORD_GLOBAL_LIMIT}/s)",
        None,
        "",
        None,
        f"{figures['cpu_ms_per_page'] / slot_ms:.0%} of a core at {DISCORD_GLOBAL_LIMIT} pages/s; round trip {figures['ms_per_page']:.1f} ms "
        f"with no latency; {figures['kb_per_page']:.0f} kB per page; bench/emulator_cost.py",
    )


def members_and_reactors(server: Server, sizes: Sizes, latency: float, table: Table) -> None:
    """11: members sync of a large guild (requests against one per 1,000) and who reacted per tenant-hour."""
    count = 20_000 if sizes is QUICK else 100_000
    m = measure_members_sync(server, latency, count)
    floor = -(-count // 1000)
    table.add(
        f"11a. members sync, {count:,}-member guild: member-list requests",
        str(m.member_requests),
        f"{floor} (one per 1,000 members)",
        floor / m.member_requests if m.member_requests else None,
        f"<= {floor + 1}",
        m.member_requests <= floor + 1 and m.stored == count,
        f"{m.seconds:.1f} s ({count / m.seconds:,.0f} members/s); {m.total_requests} requests in all (login, "
        f"application, guild); {m.stored:,} members stored; bench/members.py",
    )
    r = measure_reactors_hour(server, latency)
    table.add(
        "11b. who reacted: requests per tenant-hour",
        str(r.reactor_requests),
        f"{r.reactions_added} reactions added or changed",
        None,
        f"<= SYNC_REACTORS_REQUEST_BUDGET ({DEFAULTS.reactors_request_budget})",
        r.reactor_requests <= DEFAULTS.reactors_request_budget,
        f"{MESSAGES_PER_HOUR} messages/h, {REACTED_SHARE:.0%} reacted; the hour's sync sent {r.all_requests} "
        f"requests in all; {r.reactor_rows} reactor rows stored; bench/members.py",
    )


START, END = "<!-- bench.run writes from here -->", "<!-- to here -->"


def write_results(measured: str) -> None:
    """Put a run's table into bench/RESULTS.md between the markers, keeping the written analysis around it."""
    text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    RESULTS.write_text(f"{before}{START}\n{measured}{END}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small guilds: a smoke run of every benchmark")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="emulated latency of every Discord request")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL server to use (default: DATABASE_URL, else a throwaway embedded server)",
    )
    parser.add_argument(
        "--only",
        default="1,2,3,4,7,e",
        help="which benchmark groups: 1 (with 6), 2 (with 5), 3, 4, 7 (quiet tenant), 8 (many tenants; "
        "BENCH_TENANTS overrides their number), 9 (refresh: requests and staleness), 10 (lanes: onboarding beside "
        "the hourly cycle), 11 (members of a 100,000-member guild; who reacted per tenant-hour), 12 (community metrics recompute on 1,000,000 messages), 13 (hourly batches of quiet tenants; BENCH_TENANTS overrides their number), e (the emulator's own cost)",
    )
    parser.add_argument("--write", action="store_true", help="write the table to bench/RESULTS.md")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = datetime.datetime.now(datetime.UTC)
    server = Server(args.database_url)
    table = Table()
    print(
        f"PostgreSQL: {'embedded (pgserver)' if server.embedded else 'given server'}; latency {args.latency_ms:g} ms",
        flush=True,
    )
    try:
        groups = {
            "1": many_channels,
            "2": huge_channel,
            "3": steady_state,
            "4": write_path,
            "7": quiet_tenant,
            "8": many_tenants,
            "9": refresh,
            "10": lanes,
            "11": members_and_reactors,
            "12": metrics_recompute,
            "13": hourly_batches,
            "e": emulator_cost,
        }
        for key in args.only.split(","):
            print(f"running {groups[key].__doc__.splitlines()[0]}", flush=True)
            groups[key](server, sizes, args.latency_ms, table)
    finally:
        server.close()
    minutes = (datetime.datetime.now(datetime.UTC) - started).total_seconds() / 60
    print()
    print(table.markdown())
    if args.write:
        command = "python -m bench.run " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
        )
        write_results(
            f"Run {started:%Y-%m-%d %H:%M} UTC, {minutes:.0f} minutes, `{command}`, emulator latency {args.latency_ms:g} ms "
            f"per request, rate limits on, PostgreSQL {'embedded (pgserver)' if server.embedded else 'server from DATABASE_URL'}.\n\n"
            f"Machine: {machine()}.\n\n{table.markdown()}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
