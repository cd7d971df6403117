"""The product's own log lines reach a run's event log (what the Dagster UI shows), through dagster.yaml's
managed Python loggers: DEBUG_RATE_LIMITS lines with every rate-limit field, and discord.py's 429 warnings."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from discord_sync.defs.assets import channels, messages
from discord_sync.defs.resources import resources_from_settings
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.settings import Settings
from discord_sync_tests.fault_harness import REPO
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, sync_env

RATE_LIMIT_LINE = re.compile(
    r"rate limit: method=GET path=/api/v10/\S+ status=\d{3} limit=\S+ remaining=\S+ reset_after=\S+ scope=\S+ "
    r"retry_after=\S+"
)


@pytest.mark.integration
def test_debug_rate_limit_lines_and_discord_warnings_appear_in_the_run_logs(engine, tmp_path, monkeypatch):
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    guild = GuildSpec(seed=5, layout="uniform", channels=2, threads_per_channel=0, messages_per_channel=120)
    with Emulator(guilds=[guild], token=TEST_TOKEN) as emulator, dg.DagsterInstance.get() as instance:
        sync_env(monkeypatch, emulator, DEBUG_RATE_LIMITS="true")
        create_tenant(engine, "acme", emulator.guild_ids[0])
        # One 429 on a message page: discord.py waits it out and logs a warning from its own `discord` logger.
        emulator.client.inject("rate_limit", route="/messages", retry_after=0.2, count=1)
        instance.add_dynamic_partitions("tenants", ["acme"])
        result = dg.materialize(
            [channels, messages],
            partition_key="acme",
            instance=instance,
            resources=resources_from_settings(Settings.from_env()),
        )
        assert result.success
        lines = [(record.level, record.user_message) for record in instance.all_logs(result.run_id)]

    rate_limit_lines = [message for _, message in lines if "rate limit: method=" in message]
    assert rate_limit_lines and all(RATE_LIMIT_LINE.search(message) for message in rate_limit_lines)
    assert any("status=429" in message and "retry_after=None" not in message for message in rate_limit_lines)
    assert any("We are being rate limited" in message for _, message in lines), "discord.py's warning is missing"
    assert TEST_TOKEN not in "\n".join(message for _, message in lines)
