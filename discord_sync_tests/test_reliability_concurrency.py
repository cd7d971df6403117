"""Two syncs of one tenant at once, in separate processes: one runs, the other waits, nothing is written twice.

The per-tenant advisory lock (`tenant_sync.tenant_lock`) serializes them. Each channel sync leaves one
`channel_sync_jobs` row, so a channel synced by both processes would show two rows; none may.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.schema import channel_sync_jobs
from discord_sync_tests.fault_harness import SyncProcesses, completeness_problems, guild_truth, stored_state
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, sync_env

GUILD = GuildSpec(seed=9, layout="uniform", channels=5, threads_per_channel=1, messages_per_channel=400)


@pytest.fixture
def emulator():
    with Emulator(guilds=[GUILD], token=TEST_TOKEN, latency_ms=30) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator, SYNC_MESSAGE_FETCH_SIZE="50", SYNC_MAX_CHANNEL_WORKERS="4")
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def _jobs(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(
                channel_sync_jobs.c.channel_id,
                channel_sync_jobs.c.run_id,
                channel_sync_jobs.c.started_at,
                channel_sync_jobs.c.finished_at,
            ).order_by(channel_sync_jobs.c.started_at)
        ).all()


def test_two_syncs_asked_at_once_run_one_after_the_other_and_write_nothing_twice(engine, emulator, tenant):
    with SyncProcesses() as processes:
        pids = [processes.start(tenant), processes.start(tenant)]
        assert [processes.wait(pid) for pid in pids] == [0, 0]
    assert (
        completeness_problems(stored_state(engine, tenant), guild_truth(emulator.client, emulator.guild_ids[0])) == []
    )
    jobs = _jobs(engine)
    channels = [job.channel_id for job in jobs]
    assert len(channels) == len(set(channels)) == 10, "each channel synced once, by one of the two runs"
    assert len({job.run_id for job in jobs}) == 1, "the second run waited and found nothing left to do"


def test_an_hourly_tick_during_a_long_backfill_waits_then_syncs_only_what_is_new(engine, emulator, tenant):
    guild_id = emulator.guild_ids[0]
    general = int(emulator.client.channel_by_name(guild_id, "channel-2")["id"])
    with SyncProcesses() as processes:
        backfill = processes.start(tenant)
        time.sleep(2.5)
        tick = processes.start(tenant)
        emulator.client.add_message(general, content="posted during the backfill")
        assert processes.wait(backfill) == 0
        assert processes.wait(tick) == 0
    assert completeness_problems(stored_state(engine, tenant), guild_truth(emulator.client, guild_id)) == []
    jobs = _jobs(engine)
    backfill_run = jobs[0].run_id
    backfill_jobs = [j for j in jobs if j.run_id == backfill_run]
    tick_jobs = [j for j in jobs if j.run_id != backfill_run]
    assert len(backfill_jobs) == 10
    assert all(j.started_at >= max(b.finished_at for b in backfill_jobs) for j in tick_jobs), "the tick waited"
    assert {j.channel_id for j in tick_jobs} <= {general}, "the tick re-synced only the channel with new messages"
