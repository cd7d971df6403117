"""Two syncs of one tenant at once, in separate processes: one runs, the other waits, nothing is written twice.

The per-tenant advisory lock (`store.tenant_locks.tenant_lock`) serializes them. Each channel sync leaves one
`channel_sync_jobs` row, so a channel synced by both processes would show two rows; none may.

The overlap is made certain, not hoped for: the test holds a lock on `channel_sync_jobs` that stops the first sync
at its first attempt row, inside its tenant lock; it lets go only once `pg_locks` shows the second sync waiting
for the tenant lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.schema import channel_sync_jobs
from discord_sync.store.tenant_locks import SYNC_LOCK_CLASS
from discord_sync_tests.fault_harness import (
    SyncProcesses,
    completeness_problems,
    guild_truth,
    stored_state,
    wait_until,
)
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, sync_env

GUILD = GuildSpec(seed=9, layout="uniform", channels=5, threads_per_channel=1, messages_per_channel=400)

# The tenant lock and attempt-table locks of this test's database: who holds them, who waits.
_LOCKS = sa.text(
    """
    SELECT l.locktype, l.granted, l.pid
    FROM pg_locks l
    WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((l.locktype = 'advisory' AND l.classid = :lock_class)
           OR (l.locktype = 'relation' AND l.relation = 'channel_sync_jobs'::regclass))
      AND l.pid <> pg_backend_pid()
    """
)


@pytest.fixture
def emulator():
    with Emulator(guilds=[GUILD], token=TEST_TOKEN, latency_ms=30) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator, SYNC_MESSAGE_FETCH_SIZE="50", SYNC_MAX_CHANNEL_WORKERS="4")
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def _attempts(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(
                channel_sync_jobs.c.channel_id,
                channel_sync_jobs.c.run_id,
                channel_sync_jobs.c.started_at,
                channel_sync_jobs.c.finished_at,
            ).order_by(channel_sync_jobs.c.started_at)
        ).all()


def _locks(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(_LOCKS, {"lock_class": SYNC_LOCK_CLASS}).all()


def _wait_for(engine, what: str, shown: Callable[[list], bool]) -> None:
    """Wait until the locks of other sessions show `what`; fail saying which locks were seen if they never do."""
    wait_until(lambda: shown(_locks(engine)), what=what, seen=lambda: f"locks {_locks(engine)}")


def _sync_holds_tenant_lock_and_waits_on_attempts(locks: list) -> bool:
    holder = {lock.pid for lock in locks if lock.locktype == "advisory" and lock.granted}
    return any(lock.locktype == "relation" and not lock.granted for lock in locks) and bool(holder)


def _a_sync_waits_for_the_tenant_lock(locks: list) -> bool:
    return any(lock.locktype == "advisory" and not lock.granted for lock in locks)


@contextlib.contextmanager
def attempts_held(engine) -> Iterator[None]:
    """Hold back every new `channel_sync_jobs` row (a SHARE lock blocks INSERT) until the block ends."""
    with engine.connect() as conn:
        conn.execute(sa.text("LOCK TABLE channel_sync_jobs IN SHARE MODE"))
        yield
        conn.commit()


def test_two_syncs_asked_at_once_run_one_after_the_other_and_write_nothing_twice(engine, emulator, tenant):
    with SyncProcesses() as processes:
        with attempts_held(engine):
            pids = [processes.start(tenant), processes.start(tenant)]
            _wait_for(engine, "one sync inside the tenant lock", _sync_holds_tenant_lock_and_waits_on_attempts)
            _wait_for(engine, "the other sync waiting for the tenant lock", _a_sync_waits_for_the_tenant_lock)
        assert [processes.wait(pid) for pid in pids] == [0, 0]
    assert (
        completeness_problems(stored_state(engine, tenant), guild_truth(emulator.client, emulator.guild_ids[0])) == []
    )
    attempts = _attempts(engine)
    channels = [attempt.channel_id for attempt in attempts]
    assert len(channels) == len(set(channels)) == 10, "each channel synced once, by one of the two runs"
    assert len({attempt.run_id for attempt in attempts}) == 1, "the second run waited and found nothing left to do"


def test_an_hourly_tick_during_a_long_backfill_waits_then_syncs_only_what_is_new(engine, emulator, tenant):
    guild_id = emulator.guild_ids[0]
    general = int(emulator.client.channel_by_name(guild_id, "channel-2")["id"])
    with SyncProcesses() as processes:
        with attempts_held(engine):
            backfill = processes.start(tenant)
            _wait_for(engine, "the backfill inside the tenant lock", _sync_holds_tenant_lock_and_waits_on_attempts)
            # After the backfill's discovery, before the tick's: only the tick can know of this message.
            emulator.client.add_message(general, content="posted during the backfill")
            tick = processes.start(tenant)
            _wait_for(engine, "the tick waiting for the tenant lock", _a_sync_waits_for_the_tenant_lock)
        assert processes.wait(backfill) == 0
        assert processes.wait(tick) == 0
    assert completeness_problems(stored_state(engine, tenant), guild_truth(emulator.client, guild_id)) == []
    attempts = _attempts(engine)
    backfill_run = attempts[0].run_id
    backfill_attempts = [j for j in attempts if j.run_id == backfill_run]
    tick_attempts = [j for j in attempts if j.run_id != backfill_run]
    assert len(backfill_attempts) == 10
    assert all(j.started_at >= max(b.finished_at for b in backfill_attempts) for j in tick_attempts), "the tick waited"
    assert {j.channel_id for j in tick_attempts} <= {general}, "the tick re-synced only the channel with new messages"
