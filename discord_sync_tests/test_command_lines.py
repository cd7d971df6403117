"""The command lines the README documents, typed as a user types them: `discord-sync ...` and `dg check|list|launch`.

Each runs as its own process from the installed console scripts, so argument parsing, entry points and the
`[tool.dg]` project section are what is tested, not a Python call that skips them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg_sdk
import pytest

from discord_sync.defs.community_metrics import METRIC_ASSET_KEYS
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync_tests.fault_harness import REPO
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, expected_message_ids, stored_message_ids

BIN = Path(sys.executable).parent
README = (REPO / "README.md").read_text()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def documented_emulator_command(port: int) -> list[str]:
    """The README's `discord-sync emulator [--port P] ...` line with a value in each placeholder."""
    [line] = re.findall(r"^discord-sync emulator .*$", README, flags=re.MULTILINE)
    options = re.findall(r"\[(--[a-z-]+) ([A-Z])\]", line)
    assert [name for name, _ in options] == ["--port", "--guild-seed", "--scale", "--latency-ms", "--token"], line
    assert "[--no-rate-limits]" in line
    values = {"--port": str(port), "--guild-seed": "7", "--scale": "0.01", "--latency-ms": "1", "--token": "t0ken"}
    return [str(BIN / "discord-sync"), "emulator", *[word for name, _ in options for word in (name, values[name])]]


@pytest.mark.e2e
def test_the_readme_emulator_command_serves_on_the_given_port():
    port = free_port()
    process = subprocess.Popen(
        documented_emulator_command(port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        first_line = process.stdout.readline()
        assert f"Discord emulator serving http://127.0.0.1:{port}/api/v10" in first_line, first_line
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.e2e
def test_emulator_help_shows_the_emulators_own_options():
    result = subprocess.run(
        [str(BIN / "discord-sync"), "emulator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--port PORT" in result.stdout and "--guild-seed GUILD_SEED" in result.stdout


@pytest.mark.e2e
def test_other_commands_still_refuse_options_they_do_not_know():
    result = subprocess.run(
        [str(BIN / "discord-sync"), "tenant", "list", "--port", "1"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --port 1" in result.stderr


@pytest.mark.e2e
def test_every_command_without_database_url_stops_with_one_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    for command in (["migrate"], ["tenant", "list"], ["sync", "status"]):
        result = subprocess.run(
            [str(BIN / "discord-sync"), *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, command
        assert result.stderr.startswith("discord-sync: DATABASE_URL is not set:"), result.stderr
        assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == [], "no embedded database was started"


def dg(*args: str, database_url: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "VIRTUAL_ENV": str(BIN.parent)}
    env.pop("DAGSTER_HOME", None)
    env.update(extra_env)
    return subprocess.run([str(BIN / "dg"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.e2e
def test_dg_check_defs_loads_the_project(database_url):
    result = dg("check", "defs", database_url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout + result.stderr


@pytest.mark.e2e
def test_dg_list_defs_lists_the_sync_assets_job_and_automation(database_url):
    result = dg("list", "defs", "--json", database_url=database_url)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(asset["asset_key"] for asset in listed["assets"]) == sorted(
        ["attachments", "channels", "members", "message_reactors", "messages", "reactions", "roles", *METRIC_ASSET_KEYS]
    )
    assert sorted(job["name"] for job in listed["jobs"]) == ["sync_tenant", "sync_tenant_batch"]
    assert sorted(sensor["name"] for sensor in listed["sensors"]) == [
        "batch_retry_sensor",
        "community_metrics_after_sync",
        "new_tenant_sensor",
        "run_history_retention",
        "tenant_freshness_sensor",
        "tenant_run_failure_alert",
    ]
    assert [schedule["name"] for schedule in listed["schedules"]] == ["hourly_sync_schedule"]


@pytest.mark.e2e
def test_dg_launch_syncs_a_tenant_partition(database_url, engine, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    with Emulator(guilds=[GuildSpec(seed=2, scale=0.02)], token=TEST_TOKEN) as emulator:
        guild = emulator.guild_ids[0]
        create_tenant(engine, "acme", guild)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg_sdk.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions("tenants", ["acme"])  # what the sensor's first tick does
        result = dg(
            "launch",
            "--assets",
            "channels,messages,reactions,attachments",
            "--partition",
            "acme",
            database_url=database_url,
            DAGSTER_HOME=str(home),
            DISCORD_BOT_TOKEN=TEST_TOKEN,
            DISCORD_API_BASE_URL=emulator.base_url,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        truth = expected_message_ids(emulator.client.ground_truth(guild))
    assert stored_message_ids(engine, "acme") == truth and truth
