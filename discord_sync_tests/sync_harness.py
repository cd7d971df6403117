"""Helpers for tests that sync tenants against the emulator through the real Dagster assets."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg
import sqlalchemy as sa

from discord_sync.defs.assets import channels, messages
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME
from discord_sync.defs.resources import resources_from_settings
from discord_sync.settings import Settings
from discord_sync.store.schema import messages as messages_table
from discord_sync.store.tenants import add_tenant

TEST_TOKEN = "emulator-test-token.abcdefghijklmnopqrstuvwxyz0123456789"


def sync_env(monkeypatch, emulator, **overrides: str) -> None:
    """Point the product at the emulator, as a deployment's environment would."""
    monkeypatch.setenv("DISCORD_BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("DISCORD_API_BASE_URL", emulator.base_url)
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)


def create_tenant(engine: sa.Engine, tenant_id: str, guild_id: int) -> None:
    with engine.begin() as conn:
        add_tenant(conn, tenant_id, guild_id)


def materialize_tenant(
    tenant_id: str,
    *,
    instance: dg.DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Run the tenant's sync (channels, then messages/reactions/attachments) in this process, with the resources
    the environment's settings give, on `instance` (default: an ephemeral one). The benchmarks use it too."""
    instance = instance if instance is not None else dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant_id])
    return dg.materialize(
        [channels, messages],
        partition_key=tenant_id,
        instance=instance,
        resources=resources_from_settings(Settings.from_env()),
        tags=tags,
        raise_on_error=raise_on_error,
    )


def stored_message_ids(engine: sa.Engine, tenant_id: str) -> dict[int, list[int]]:
    """The stored message ids per channel, in id order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(messages_table.c.channel_id, messages_table.c.id)
            .where(messages_table.c.tenant_id == tenant_id)
            .order_by(messages_table.c.channel_id, messages_table.c.id)
        ).all()
    stored: dict[int, list[int]] = defaultdict(list)
    for channel_id, message_id in rows:
        stored[channel_id].append(message_id)
    return dict(stored)


def expected_message_ids(ground_truth: dict) -> dict[int, list[int]]:
    """The emulator's ground truth, keyed and sorted the way `stored_message_ids` is, empty channels left out."""
    return {int(c): sorted(int(m) for m in ids) for c, ids in ground_truth.items() if ids}
