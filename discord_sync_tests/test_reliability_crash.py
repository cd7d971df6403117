"""The sync process SIGKILLed at random moments: the next sync resumes exactly, nothing lost, nothing twice.

Each trial starts a tenant's full sync (channels, then messages) in its own OS process and kills it with
SIGKILL after a random delay: before discovery ends, between batches, or in the middle of a batch's transaction.
After every kill the stored data must be consistent (each stored message with all its reactions and attachments,
no checkpoint covering an unstored message); after each cycle of kills an unkilled sync must leave an exact copy
of the emulator's ground truth. New messages are posted between cycles, and each cycle starts from an empty tenant (as after a reset).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.purge import purge_stored_messages
from discord_sync_tests.fault_harness import (
    SyncProcesses,
    completeness_problems,
    consistency_problems,
    guild_truth,
    process_state,
    stored_state,
    wait_until,
)
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, sync_env

CRASH_GUILD = GuildSpec(seed=7, layout="uniform", channels=6, threads_per_channel=1, messages_per_channel=500)
SMALL_PAGES = {
    # Paced by the product's own limiter, a sync lasts about as long on any machine: long enough to be killed in.
    "SYNC_GLOBAL_REQUESTS_PER_SECOND": "20",
    "SYNC_MESSAGE_FETCH_SIZE": "50",
    "SYNC_WRITE_BATCH_MESSAGES": "100",
    "SYNC_MAX_CHANNEL_WORKERS": "4",
    "SYNC_MAX_WINDOWS_PER_CHANNEL": "2",
}


@pytest.fixture
def crash_emulator():
    with Emulator(guilds=[CRASH_GUILD], token=TEST_TOKEN, latency_ms=40) as emulator:
        yield emulator


@pytest.fixture
def sync_processes():
    with SyncProcesses() as processes:
        yield processes


def stored_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM messages WHERE tenant_id = 'acme'")).scalar_one()


def run_kill_trials(engine, emulator, processes, *, trials: int, kills_per_cycle: int, seed: int) -> dict:
    """Kill `trials` syncs at random moments, checking consistency after each and exactness after each cycle."""
    rng = random.Random(seed)
    guild_id = emulator.guild_ids[0]
    channel_ids = [int(c["id"]) for c in emulator.client.channels(guild_id) if c["type"] == 0]
    truth = guild_truth(emulator.client, guild_id)
    summary = {"trials": 0, "killed": 0, "finished_before_kill": 0, "killed_with_partial_data": 0, "cycles": 0}
    # An unkilled sync from empty, timed first: how long until messages are being written, and how long writing
    # them all takes. A kill is drawn over what the next sync has left to do (it resumes where the last stopped),
    # so kills keep landing before discovery ends, between batches and inside them, however fast the sync is.
    # Timed on the second sync from empty: the first one also lists every archived thread, which later syncs do
    # not (discovery remembers what it saw), so its start-up would overstate theirs and kills would come too late.
    total = sum(map(len, truth.message_ids.values()))
    for attempt in ("first", "timed"):
        started = time.monotonic()
        pid = processes.start("acme")
        wait_until(
            lambda: stored_count(engine) > 0,
            what=f"the {attempt} sync to store a message",
            seen=lambda pid=pid: (
                f"{process_state(pid)}; {len(emulator.client.request_log())} requests served, none stored"
            ),
        )
        startup_seconds = time.monotonic() - started
        assert processes.wait(pid) == 0
        writing_seconds = time.monotonic() - started - startup_seconds
        assert completeness_problems(stored_state(engine, "acme"), truth) == []
        with engine.begin() as conn:
            purge_stored_messages(conn, "acme")
    for trial in range(trials):
        before = stored_count(engine)
        pid = processes.start("acme")
        left = startup_seconds + writing_seconds * (1 - before / total)
        time.sleep(rng.uniform(0.1, 0.95) * left)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = processes.wait(pid)
        summary["trials"] += 1
        if code == -signal.SIGKILL:
            summary["killed"] += 1
        else:
            assert code == 0, f"trial {trial}: an unkilled sync failed (exit {code})"
            summary["finished_before_kill"] += 1
        state = stored_state(engine, "acme")
        stored = sum(map(len, state.message_ids.values()))
        if code != 0 and before < stored < sum(map(len, truth.message_ids.values())):
            summary["killed_with_partial_data"] += 1
        assert consistency_problems(state, truth) == [], f"trial {trial}: inconsistent after SIGKILL"

        if (trial + 1) % kills_per_cycle == 0 or trial == trials - 1:
            pid = processes.start("acme")
            assert processes.wait(pid) == 0, f"trial {trial}: the sync after the kills failed"
            assert completeness_problems(stored_state(engine, "acme"), truth) == []
            summary["cycles"] += 1
            for channel_id in rng.sample(channel_ids, 2):
                emulator.client.add_message(channel_id, content=f"posted after cycle {summary['cycles']}")
            truth = guild_truth(emulator.client, guild_id)
            with engine.begin() as conn:
                purge_stored_messages(conn, "acme")
    print(f"SIGKILL trials: {summary}")
    return summary


def test_sync_killed_at_random_moments_resumes_with_nothing_lost_or_duplicated(
    engine, crash_emulator, sync_processes, monkeypatch
):
    sync_env(monkeypatch, crash_emulator, **SMALL_PAGES)
    create_tenant(engine, "acme", crash_emulator.guild_ids[0])
    summary = run_kill_trials(engine, crash_emulator, sync_processes, trials=5, kills_per_cycle=5, seed=11)
    assert summary["killed"] >= 3


@pytest.mark.slow
def test_twenty_four_random_sigkills_over_a_multi_channel_tenant_lose_and_duplicate_nothing(
    engine, crash_emulator, sync_processes, monkeypatch
):
    sync_env(monkeypatch, crash_emulator, **SMALL_PAGES)
    create_tenant(engine, "acme", crash_emulator.guild_ids[0])
    summary = run_kill_trials(engine, crash_emulator, sync_processes, trials=24, kills_per_cycle=4, seed=2024)
    assert summary["killed"] >= 20
    assert summary["killed_with_partial_data"] >= 5, "kills must land while data is being written"
