"""A tenant's sync against the emulator's default guild, through the real Dagster assets and discord.py."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, EmulatorProcess, GuildSpec
from discord_sync.store.schema import (
    channel_sync_jobs,
    channels,
    message_attachments,
    message_emoji_reactions,
    messages,
    sync_progress,
)
from discord_sync_tests.sync_harness import (
    TEST_TOKEN,
    create_tenant,
    expected_message_ids,
    materialize_tenant,
    stored_message_ids,
    sync_env,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def emulator():
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.05)], token=TEST_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def _channel_id(emulator, name):
    return int(emulator.client.channel_by_name(emulator.guild_ids[0], name)["id"])


def test_first_sync_stores_every_visible_message_once_with_replies_reactions_and_attachments(engine, emulator, tenant):
    thresholds = gc.get_threshold()
    result = materialize_tenant(tenant)
    assert result.success
    # The sync quiets the garbage collector while it runs, and leaves it as it found it.
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
    truth = emulator.client.ground_truth(emulator.guild_ids[0])
    assert stored_message_ids(engine, tenant) == expected_message_ids(truth)

    shapes = _channel_id(emulator, "all-shapes")
    payloads = emulator.client.ground_truth_messages(shapes)
    with engine.connect() as conn:
        replies = dict(
            conn.execute(sa.select(messages.c.id, messages.c.reply_to_id).where(messages.c.channel_id == shapes)).all()
        )
        reactions = conn.execute(
            sa.select(
                message_emoji_reactions.c.message_id,
                message_emoji_reactions.c.emoji_key,
                message_emoji_reactions.c.count,
                message_emoji_reactions.c.burst_count,
            )
        ).all()
        attachments = conn.execute(sa.select(message_attachments.c.id, message_attachments.c.message_id)).all()
    expected_replies = {
        int(p["id"]): int(p["message_reference"]["message_id"])
        for p in payloads
        if p.get("type") == 19 and p.get("message_reference")
    }
    assert expected_replies, "the all-shapes channel must contain replies"
    assert {m: r for m, r in replies.items() if r is not None} == expected_replies

    expected_reactions = {
        (int(p["id"]), r["emoji"]["id"] or r["emoji"]["name"], r["count"], r.get("count_details", {}).get("burst", 0))
        for p in payloads
        for r in p.get("reactions") or []
    }
    stored_reactions = {(m, k, c, b) for m, k, c, b in reactions if m in {int(p["id"]) for p in payloads}}
    assert stored_reactions == expected_reactions
    assert any(key for _, key, _, _ in expected_reactions if key.isdigit()), "custom emoji expected"

    expected_attachments = {(int(a["id"]), int(p["id"])) for p in payloads for a in p.get("attachments") or []}
    assert expected_attachments <= set(attachments)


def test_catalog_has_threads_posts_and_categories_under_their_parents(engine, emulator, tenant):
    assert materialize_tenant(tenant).success
    with engine.connect() as conn:
        rows = {r.name: r for r in conn.execute(sa.select(channels).where(channels.c.tenant_id == tenant))}
    assert rows["forum"].type == 15 and rows["forum"].available_tags
    posts = [r for r in rows.values() if r.parent_id == rows["forum"].id]
    assert posts and all(r.is_thread for r in posts)
    assert any(r.applied_tag_ids for r in posts)
    assert rows["archived-many"].type == 0
    archived = [r for r in rows.values() if r.parent_id == rows["archived-many"].id and r.archived]
    assert len(archived) > 100, "archived threads need more than one page"
    assert rows["voice-chat"].type == 2 and rows["stage"].type == 13 and rows["text"].type == 4


def test_channels_the_bot_may_not_read_are_skipped_with_the_reason_at_no_cost(engine, emulator, tenant):
    assert materialize_tenant(tenant).success
    forbidden, no_history = _channel_id(emulator, "forbidden"), _channel_id(emulator, "no-history")
    with engine.connect() as conn:
        progress = {r.channel_id: r for r in conn.execute(sa.select(sync_progress))}
        attempts = conn.execute(
            sa.select(channel_sync_jobs).where(channel_sync_jobs.c.channel_id.in_([forbidden, no_history]))
        ).all()
    assert (progress[forbidden].status, progress[forbidden].last_error) == ("skipped", "missing View Channel")
    assert (progress[no_history].status, progress[no_history].last_error) == (
        "skipped",
        "missing Read Message History",
    )
    assert attempts == []
    asked = [e["path"] for e in emulator.client.request_log() if f"/{forbidden}/" in e["path"] + "/"]
    asked += [e["path"] for e in emulator.client.request_log() if f"/{no_history}/" in e["path"] + "/"]
    assert asked == []
    assert emulator.client.counters()["invalid_requests"] == 0
    others = [p for c, p in progress.items() if c not in (forbidden, no_history)]
    assert others and all(p.status == "complete" for p in others)


def test_second_sync_changes_nothing_and_pages_only_changed_channels(engine, emulator, tenant):
    assert materialize_tenant(tenant).success
    with engine.connect() as conn:
        before = conn.execute(sa.select(messages.c.id, messages.c.synced_at).order_by(messages.c.id)).all()
    emulator.client.reset_counters()
    assert materialize_tenant(tenant).success
    quiet = emulator.client.counters()["requests_by_route"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(messages.c.id, messages.c.synced_at).order_by(messages.c.id)).all() == before
    # Nothing is paged: readable channels are caught up, unreadable ones are never asked.
    unreadable = {_channel_id(emulator, "forbidden"), _channel_id(emulator, "no-history")}
    assert quiet.get("GET /channels/{channel_id}/messages", 0) == 0
    assert sum(quiet.values()) <= 5, quiet

    general = _channel_id(emulator, "general")
    added = [emulator.client.add_message(general, content=f"new message {i}") for i in range(3)]
    emulator.client.reset_counters()
    assert materialize_tenant(tenant).success
    log = emulator.client.request_log()
    paged = {entry["path"] for entry in log if entry["path"].endswith("/messages")}
    assert any(str(general) in path for path in paged)
    assert {p for p in paged if not any(str(c) in p for c in unreadable)} == {p for p in paged if str(general) in p}
    stored = stored_message_ids(engine, tenant)[general]
    assert [int(m["id"]) for m in added] == stored[-3:]
    assert stored_message_ids(engine, tenant) == expected_message_ids(
        emulator.client.ground_truth(emulator.guild_ids[0])
    )


def test_reset_tag_resyncs_a_channel_and_its_rows_come_back_the_same(engine, emulator, tenant):
    assert materialize_tenant(tenant).success
    general = _channel_id(emulator, "general")
    with engine.connect() as conn:
        before = conn.execute(
            sa.select(messages.c.id, messages.c.content, messages.c.author_hash)
            .where(messages.c.channel_id == general)
            .order_by(messages.c.id)
        ).all()
    emulator.client.reset_counters()
    assert materialize_tenant(tenant, tags={"discord_sync/reset_channel": str(general)}).success
    with engine.connect() as conn:
        after = conn.execute(
            sa.select(messages.c.id, messages.c.content, messages.c.author_hash)
            .where(messages.c.channel_id == general)
            .order_by(messages.c.id)
        ).all()
    assert after == before and len(before) > 0
    paged = {e["path"] for e in emulator.client.request_log() if e["path"].endswith("/messages")}
    assert any(str(general) in p for p in paged)


def test_a_deleted_channel_is_marked_not_deleted_with_its_history(engine, emulator, tenant):
    assert materialize_tenant(tenant).success
    voice = _channel_id(emulator, "voice-chat")
    emulator.client.delete_channel(voice)
    assert materialize_tenant(tenant).success
    with engine.connect() as conn:
        row = conn.execute(sa.select(channels.c.deleted_at).where(channels.c.id == voice)).one()
        kept = conn.execute(sa.select(sa.func.count()).where(messages.c.channel_id == voice)).scalar()
    assert row.deleted_at is not None
    assert kept > 0


def _cli_env(database_url: str, emulator: Emulator, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        DATABASE_URL=database_url,
        DISCORD_BOT_TOKEN=TEST_TOKEN,
        DISCORD_API_BASE_URL=emulator.base_url,
        ANONYMIZATION_KEY="test-anonymization-key-0123456789",
    )
    return env


@pytest.mark.e2e
def test_two_concurrent_tenant_runs_from_the_cli_stay_under_the_global_limit(engine, database_url, tmp_path):
    specs = [GuildSpec(seed=s, layout="uniform", channels=12, messages_per_channel=1200) for s in (21, 22)]
    # The emulator serves from its own process: in a thread of this one, a full garbage collection of the test
    # process's heap would stop its clock and make it stamp the requests that queued meanwhile as one burst.
    with EmulatorProcess.start(specs, token=TEST_TOKEN, latency_ms=5) as emulator:
        env = _cli_env(database_url, emulator, tmp_path / "dagster_home")
        # Both runs share one limit of 40/s. Unlimited, each would send hundreds a second. The margin under 50
        # absorbs the emulator's own clock: on two cores shared by two syncs, PostgreSQL and the emulator, its
        # event loop can stamp a backlog of requests as one burst.
        env["SYNC_GLOBAL_REQUESTS_PER_SECOND"] = "40"
        import dagster as dg

        os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
        try:
            with dg.DagsterInstance.get() as instance:
                instance.add_dynamic_partitions("tenants", ["alpha", "beta"])
        finally:
            del os.environ["DAGSTER_HOME"]
        create_tenant(engine, "alpha", emulator.guild_ids[0])
        create_tenant(engine, "beta", emulator.guild_ids[1])
        command = [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "discord_sync.definitions",
            "--select",
            "channels,messages,reactions,attachments",
            "--partition",
        ]
        started = time.monotonic()
        runs = [
            subprocess.Popen(
                command + [t], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for t in ("alpha", "beta")
        ]
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        elapsed = time.monotonic() - started
        assert [run.returncode for run in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
        counters = emulator.client.counters()
        for tenant, guild in (("alpha", emulator.guild_ids[0]), ("beta", emulator.guild_ids[1])):
            assert stored_message_ids(engine, tenant) == expected_message_ids(emulator.client.ground_truth(guild))
    assert counters["requests"] > 300, "enough requests to test the limit"
    assert counters["status_counts"].get("429", 0) == 0, counters
    assert counters["peak_requests_per_second"] <= 50, counters
    assert elapsed < 120
