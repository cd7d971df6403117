"""PostgreSQL stopped for a few seconds in the middle of a sync, then started again.

A dedicated embedded server (not the shared test server) is stopped with `pg_ctl stop -m fast`, which ends every
connection, while a tenant sync runs in its own process; started again a few seconds later with `pgserver`. The
sync may fail (cleanly: it ends, its transaction rolled back) or recover; either way no batch is half-written,
no checkpoint covers unstored data, and the next sync completes an exact copy.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.database import shared_engine
from discord_sync.store.embedded_postgres import stop_server
from discord_sync.store.migrate import migrate
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY, embedded_server_folder
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

GUILD = GuildSpec(seed=8, layout="uniform", channels=5, threads_per_channel=1, messages_per_channel=400)


def start_server_in_fresh_process(pgdata: Path) -> str:
    """Start (or find running) the embedded server in `pgdata` from a fresh process (pgserver keeps one handle
    per folder per process, so this process could not restart a server it stopped); returns its URL."""
    script = (
        "import sys; from pathlib import Path; from discord_sync.store.embedded_postgres import start_server; "
        "print(start_server(Path(sys.argv[1])).get_uri())"
    )
    done = subprocess.run([sys.executable, "-c", script, str(pgdata)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def own_postgres(monkeypatch):
    with embedded_server_folder() as folder:
        pgdata = folder / "pgdata"
        url = start_server_in_fresh_process(pgdata)
        migrate(url)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("ANONYMIZATION_KEY", TEST_ANONYMIZATION_KEY)
        yield pgdata, url
        shared_engine(url).dispose()
        stop_server(pgdata)


def test_postgres_stopped_mid_sync_leaves_no_half_written_batch_and_the_next_sync_completes(own_postgres, monkeypatch):
    pgdata, url = own_postgres
    engine = shared_engine(url)
    with Emulator(guilds=[GUILD], token=TEST_TOKEN, latency_ms=30) as emulator:
        sync_env(
            monkeypatch,
            emulator,
            SYNC_MESSAGE_FETCH_SIZE="50",
            SYNC_WRITE_BATCH_MESSAGES="100",
            SYNC_MAX_CHANNEL_WORKERS="4",
        )
        create_tenant(engine, "acme", emulator.guild_ids[0])
        truth = guild_truth(emulator.client, emulator.guild_ids[0])
        with SyncProcesses() as processes:
            pid = processes.start("acme")
            wait_until(
                lambda: any("/messages" in e["path"] for e in emulator.client.request_log()),
                what="the sync to read messages",
                seen=lambda: (
                    f"{process_state(pid)}; requests served: "
                    f"{sorted({e['path'] for e in emulator.client.request_log()})[:10]}"
                ),
            )
            time.sleep(0.5)
            stop_server(pgdata)
            time.sleep(3)
            assert start_server_in_fresh_process(pgdata) == url
            started = time.monotonic()
            code = processes.wait(pid)
            assert code in (0, 1), "the interrupted run ends: it recovers or fails cleanly, it does not crash or hang"
            assert time.monotonic() - started < 120
            engine.dispose()
            state = stored_state(engine, "acme")
            assert consistency_problems(state, truth) == []
            partial = sum(map(len, state.message_ids.values()))
            print(
                f"PostgreSQL stop: interrupted run exit {code}, {partial} of "
                f"{sum(map(len, truth.message_ids.values()))} messages stored at restart"
            )

            assert processes.wait(processes.start("acme")) == 0
        assert completeness_problems(stored_state(engine, "acme"), truth) == []
