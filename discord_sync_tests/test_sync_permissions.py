"""Permissions and guild-level change through real tenant runs: Dagster assets, PostgreSQL, the emulator over HTTP."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.assets import channels, messages
from discord_sync.defs.resources import resources_from_settings
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.settings import Settings
from discord_sync.store.schema import channel_sync_jobs, sync_progress
from discord_sync.store.schema import channels as channels_table
from discord_sync_tests.sync_harness import (
    TEST_TOKEN,
    create_tenant,
    expected_message_ids,
    materialize_tenant,
    stored_message_ids,
    sync_env,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def emulator():
    with Emulator(guilds=[GuildSpec(seed=7, scale=0.05)], token=TEST_TOKEN) as running:
        yield running


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def channel_id(emulator: Emulator, name: str) -> int:
    return int(emulator.client.channel_by_name(emulator.guild_ids[0], name)["id"])


def progress(engine: sa.Engine, channel: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(sync_progress).where(sync_progress.c.channel_id == channel)).one()


def catalog_row(engine: sa.Engine, channel: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(channels_table).where(channels_table.c.id == channel)).one()


def refused(emulator: Emulator) -> dict[str, int]:
    counts = emulator.client.counters()["status_counts"]
    return {status: counts[status] for status in ("401", "403", "429") if counts.get(status)}


def test_a_hidden_channel_is_skipped_at_no_cost_kept_and_synced_in_the_run_after_it_becomes_readable(
    engine, emulator, tenant
):
    general = channel_id(emulator, "general")
    assert materialize_tenant(tenant).success
    stored = stored_message_ids(engine, tenant)[general]

    emulator.client.set_bot_access(general, view=False)
    emulator.client.add_message(general, content="posted while hidden")
    emulator.client.reset_counters()
    assert materialize_tenant(tenant).success
    assert refused(emulator) == {}
    assert not [e for e in emulator.client.request_log() if str(general) in e["path"]]
    row = catalog_row(engine, general)
    assert row.deleted_at is None and row.unreadable_reason == "missing View Channel"
    assert (progress(engine, general).status, progress(engine, general).last_error) == (
        "skipped",
        "missing View Channel",
    )
    assert stored_message_ids(engine, tenant)[general] == stored

    emulator.client.set_bot_access(general)
    assert materialize_tenant(tenant).success
    assert progress(engine, general).status == "complete"
    assert catalog_row(engine, general).unreadable_reason is None
    assert stored_message_ids(engine, tenant) == expected_message_ids(
        emulator.client.ground_truth(emulator.guild_ids[0])
    )


def test_a_role_change_that_hides_a_channel_is_followed_without_refused_requests(engine, emulator, tenant):
    general, guild = channel_id(emulator, "general"), emulator.guild_ids[0]
    assert materialize_tenant(tenant).success
    moderators = 4242
    emulator.client.set_role(guild, moderators, 0)
    # @everyone may not see #general; the moderators' role may: the bot sees it only while it holds that role.
    view = 1 << 10
    emulator.client.set_overwrites(
        general,
        [{"id": guild, "type": 0, "allow": 0, "deny": view}, {"id": moderators, "type": 0, "allow": view, "deny": 0}],
    )
    emulator.client.reset_counters()
    assert materialize_tenant(tenant).success
    assert catalog_row(engine, general).unreadable_reason == "missing View Channel"
    member = emulator.client.set_bot_roles(guild, [moderators])
    assert member["roles"] == [str(moderators)]
    emulator.client.add_message(general, content="visible to moderators")
    assert materialize_tenant(tenant).success
    assert catalog_row(engine, general).unreadable_reason is None
    assert refused(emulator) == {}
    assert (
        stored_message_ids(engine, tenant)[general]
        == expected_message_ids(emulator.client.ground_truth(guild))[general]
    )


def test_a_refusal_after_discovery_is_recorded_once_and_does_not_fail_the_run(engine, emulator, tenant):
    general = channel_id(emulator, "general")
    assert materialize_tenant(tenant).success
    emulator.client.add_message(general, content="new")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenants", [tenant])
    resources = resources_from_settings(Settings.from_env())
    assert dg.materialize([channels], partition_key=tenant, instance=instance, resources=resources).success
    # Permissions change between discovery and the read: the one planned channel answers 403.
    emulator.client.set_bot_access(general, view=False)
    emulator.client.reset_counters()
    result = dg.materialize(
        [channels, messages],
        selection=dg.AssetSelection.assets("messages", "reactions", "attachments"),
        partition_key=tenant,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )
    assert result.success
    assert emulator.client.counters()["status_counts"].get("403") == 1
    row = progress(engine, general)
    assert row.status == "skipped" and "403" in row.last_error
    with engine.connect() as conn:
        attempts = conn.execute(sa.select(channel_sync_jobs.c.status).where(channel_sync_jobs.c.channel_id == general))
        assert [a.status for a in attempts][-1] == "skipped"


def test_the_catalog_follows_renames_moves_topics_thread_state_tags_and_deletions(engine, emulator, tenant):
    guild = emulator.guild_ids[0]
    general, hub = channel_id(emulator, "general"), channel_id(emulator, "threads-hub")
    active, post = channel_id(emulator, "active-public-thread"), channel_id(emulator, "forum-post-0")
    forums, stage = channel_id(emulator, "forums"), channel_id(emulator, "stage")
    tags = [int(t["id"]) for t in emulator.client.channel_by_name(guild, "forum")["available_tags"]]
    assert materialize_tenant(tenant).success

    emulator.client.update_channel(general, name="general-renamed", topic="A new topic", parent_id=forums, position=42)
    emulator.client.update_channel(active, archived=True, locked=True)
    emulator.client.update_channel(post, name="post-retitled", applied_tags=tags[:1])
    emulator.client.delete_channel(stage)
    emulator.client.reset_counters()
    assert materialize_tenant(tenant).success

    renamed = catalog_row(engine, general)
    assert (renamed.name, renamed.topic, renamed.parent_id, renamed.position) == (
        "general-renamed",
        "A new topic",
        forums,
        42,
    )
    thread = catalog_row(engine, active)
    assert thread.archived and thread.locked and thread.archived_at is not None and thread.deleted_at is None
    retitled = catalog_row(engine, post)
    assert (retitled.name, retitled.applied_tag_ids) == ("post-retitled", tags[:1])
    assert catalog_row(engine, stage).deleted_at is not None
    assert catalog_row(engine, hub).deleted_at is None
    assert refused(emulator) == {}
