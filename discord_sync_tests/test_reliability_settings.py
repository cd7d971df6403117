"""Bad settings at start-up: loading the Dagster code location refuses, naming the variable.

`test_settings.py` covers `Settings.from_env` itself; here the deployment's real entry point
(`import discord_sync.definitions`, what `dagster dev`, the daemon and every run worker load) is started in a
fresh interpreter with the bad environment, as an operator would meet it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from discord_sync_tests.fault_harness import REPO

BAD_SETTINGS = [
    ("SYNC_MAX_CHANNEL_WORKERS", "ten"),
    ("SYNC_MESSAGE_FETCH_SIZE", "0"),
    ("SYNC_MESSAGE_FETCH_SIZE", "500"),
    ("DISCORD_API_BASE_URL", "discord.com/api/v10"),
    ("DATABASE_URL", "mysql://root@localhost/discord"),
    ("SYNC_REQUEST_TIMEOUT", "soon"),
]


def _load_definitions(env_overrides: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "DISCORD_", "DATABASE_URL"))}
    env.update(
        DISCORD_BOT_TOKEN="token-for-start-up-test",
        ANONYMIZATION_KEY="test-anonymization-key-0123456789",
        DATABASE_URL="postgresql://sync@db.invalid:5432/discord_sync",
    )
    env.update(env_overrides)
    return subprocess.Popen(
        [sys.executable, "-c", "import discord_sync.definitions"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_start_up_without_database_url_stops_with_one_message_and_starts_no_database(tmp_path):
    # The code location itself loads without it (Dagster's tools on a bare checkout, test_definitions); whatever
    # needs the database stops at once, naming the variable, and starts nothing of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNC_", "DISCORD_", "DATABASE_URL", "DAGSTER_"))}
    env.update(DISCORD_BOT_TOKEN="token-for-start-up-test", ANONYMIZATION_KEY="test-anonymization-key-0123456789")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "discord-sync"), "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL is not set" in lines[0], result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "no embedded database (or anything else) was started here"


def test_start_up_refuses_every_bad_setting_naming_the_variable():
    # Started together: each costs an interpreter and the Dagster import, and they are independent.
    starts = {(name, value): _load_definitions({name: value}) for name, value in BAD_SETTINGS}
    for (name, value), process in starts.items():
        output = process.communicate(timeout=120)[0]
        assert process.returncode != 0, f"{name}={value!r} was accepted"
        last_line = output.strip().splitlines()[-1]
        assert "SettingsError" in last_line and name in last_line, output[-2000:]


@pytest.mark.parametrize("name, value", [("SYNC_MESSAGE_FETCH_SIZE", "100"), ("SYNC_MAX_CHANNEL_WORKERS", "4")])
def test_start_up_accepts_good_settings(name, value, database_url):
    process = _load_definitions({name: value, "DATABASE_URL": database_url})
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output[-2000:]
