"""Discord misbehaving, injected for real at the emulator: 429 storms, 5xx bursts, dropped connections, slow
answers, a wrong or revoked token, the bot removed, an unknown guild, a channel deleted mid-sync.

Each test syncs through the real Dagster assets and discord.py over HTTP into a real PostgreSQL, then checks
the stored data against the emulator's ground truth and the emulator's own count of invalid requests.
"""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.schema import channels, sync_progress, sync_runs
from discord_sync_tests.fault_harness import completeness_problems, guild_truth, stored_state
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env

FAULT_GUILD = GuildSpec(seed=5, layout="uniform", channels=4, threads_per_channel=1, messages_per_channel=120)
MESSAGES_ROUTE = r"/channels/\d+/messages"
# Discord bans a bot at 10,000 invalid requests (401, 403, 429) in 10 minutes.
DISCORD_INVALID_REQUEST_BAN = 10_000


@pytest.fixture
def emulator():
    with Emulator(guilds=[FAULT_GUILD], token=TEST_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def tenant(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator, SYNC_MESSAGE_FETCH_SIZE="50", SYNC_MAX_CHANNEL_WORKERS="4")
    create_tenant(engine, "acme", emulator.guild_ids[0])
    return "acme"


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        event.step_failure_data.error.message
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data.error
    ]


def assert_exact_copy(engine, emulator) -> None:
    truth = guild_truth(emulator.client, emulator.guild_ids[0])
    assert completeness_problems(stored_state(engine, "acme"), truth) == []


def channel_status(engine, channel_id: int):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sync_progress.c.status, sync_progress.c.last_error).where(
                sync_progress.c.channel_id == channel_id
            )
        ).one()


def first_channel(emulator) -> int:
    return int(emulator.client.channel_by_name(emulator.guild_ids[0], "channel-0")["id"])


@pytest.mark.parametrize("retry_after", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("is_global", [False, True], ids=["per_route", "global"])
def test_429_storm_is_waited_out_and_the_sync_completes(engine, emulator, tenant, retry_after, is_global):
    storm = 6
    emulator.client.inject(
        "rate_limit", route=MESSAGES_ROUTE, retry_after=retry_after, is_global=is_global, count=storm
    )
    started = time.monotonic()
    result = materialize_tenant(tenant)
    assert result.success
    assert_exact_copy(engine, emulator)
    counters = emulator.client.counters()
    assert counters["status_counts"].get("429", 0) == storm
    # No amplification: each injected 429 costs one invalid request, nothing retries in a loop.
    assert counters["invalid_requests"] <= storm + 2, counters
    assert counters["invalid_requests"] < DISCORD_INVALID_REQUEST_BAN / 100
    if not is_global:
        assert time.monotonic() - started >= retry_after


def test_429_longer_than_the_allowed_wait_fails_the_channel_cleanly_and_the_next_sync_resumes_it(
    engine, emulator, tenant, monkeypatch
):
    # discord.py raises any maximum below 30 s to 30 s, so the smallest setting that still means "do not wait".
    monkeypatch.setenv("SYNC_MAX_RATE_LIMIT_WAIT", "30")
    channel = first_channel(emulator)
    emulator.client.inject("rate_limit", route=f"/channels/{channel}/messages", retry_after=60.0, count=1)
    started = time.monotonic()
    result = materialize_tenant(tenant)
    assert result.success, "one failed channel does not fail the tenant"
    assert time.monotonic() - started < 30, "the 60 s rate limit was not waited out"
    status, error = channel_status(engine, channel)
    assert status == "failed"
    assert "60.0 s" in error and "SYNC_MAX_RATE_LIMIT_WAIT" in error
    assert channel not in stored_state(engine, tenant).message_ids

    assert materialize_tenant(tenant).success
    assert channel_status(engine, channel).status == "complete"
    assert_exact_copy(engine, emulator)


@pytest.mark.slow
@pytest.mark.parametrize("retry_after", [30.0, 59.0])
def test_a_429_within_the_allowed_wait_is_waited_out_not_cut_by_the_request_timeout(
    engine, emulator, tenant, monkeypatch, retry_after
):
    # The request timeout far below the wait: it bounds each request on the wire, never discord.py's 429 sleep
    # (SYNC_MAX_RATE_LIMIT_WAIT stays at its default, 60 s).
    monkeypatch.setenv("SYNC_REQUEST_TIMEOUT", "5")
    channel = first_channel(emulator)
    emulator.client.inject("rate_limit", route=f"/channels/{channel}/messages", retry_after=retry_after, count=1)
    started = time.monotonic()
    result = materialize_tenant(tenant)
    elapsed = time.monotonic() - started
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["messages"]]
    metadata = {key: value.value for key, value in event.materialization.metadata.items()}
    assert metadata["rate_limit_hits_429"] == 1
    assert metadata["transient_retries"] == 0, "the wait was cut by a timeout and retried as a transient failure"
    assert elapsed >= retry_after, "the 429 was waited out"
    assert channel_status(engine, channel).status == "complete"
    assert emulator.client.counters()["status_counts"].get("429", 0) == 1
    assert_exact_copy(engine, emulator)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"kind": "server_error", "status": 502, "count": 2}, id="502_burst_retried_by_discord_py"),
        pytest.param({"kind": "server_error", "status": 503, "count": 3}, id="503_burst_retried_by_the_sync"),
        pytest.param({"kind": "server_error", "status": 500, "count": 1}, id="single_500"),
        pytest.param({"kind": "drop_connection", "count": 3}, id="dropped_connections"),
    ],
)
def test_5xx_bursts_and_dropped_connections_are_retried_and_nothing_is_lost(engine, emulator, tenant, fault):
    emulator.client.inject(route=MESSAGES_ROUTE, **fault)
    assert materialize_tenant(tenant).success
    assert_exact_copy(engine, emulator)


def test_answers_slower_than_the_request_timeout_are_retried(engine, emulator, tenant, monkeypatch):
    monkeypatch.setenv("SYNC_REQUEST_TIMEOUT", "1")
    emulator.client.inject("slow", route=MESSAGES_ROUTE, delay=3.0, count=2)
    started = time.monotonic()
    assert materialize_tenant(tenant).success
    assert time.monotonic() - started < 20
    assert_exact_copy(engine, emulator)


def test_a_channel_failing_with_5xx_on_every_retry_is_recorded_and_resumed_next_sync(engine, emulator, tenant):
    channel = first_channel(emulator)
    emulator.client.inject("server_error", status=503, route=f"/channels/{channel}/messages", count=1000)
    result = materialize_tenant(tenant)
    assert result.success, "the other channels complete; one failing channel does not fail the tenant"
    status, error = channel_status(engine, channel)
    assert status == "failed" and "503" in error
    emulator.client.clear_faults()
    assert materialize_tenant(tenant).success
    assert channel_status(engine, channel).status == "complete"
    assert_exact_copy(engine, emulator)


def test_a_wrong_token_stops_the_tenant_at_the_first_401_with_plain_words(engine, emulator, tenant, monkeypatch):
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "not-the-bot-token")
    result = materialize_tenant(tenant, raise_on_error=False)
    assert not result.success
    [message] = failure_messages(result)
    assert "rejected the bot token" in message and "DISCORD_BOT_TOKEN" in message
    counters = emulator.client.counters()
    assert counters["status_counts"].get("401", 0) == 1, "a 401 is never retried"
    assert counters["requests"] == 1


def test_a_token_revoked_mid_sync_stops_the_tenant_after_very_few_401s(engine, emulator, tenant):
    emulator.client.set_latency(50)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=materialize_tenant(tenant, raise_on_error=False)))
    runner.start()
    deadline = time.monotonic() + 30
    while not any("/messages" in e["path"] for e in emulator.client.request_log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    emulator.client.inject("revoke_token")
    runner.join(timeout=60)
    result = outcome["result"]
    assert not result.success
    messages = failure_messages(result)
    assert len(messages) == 1, "no Dagster retry after a 401"
    assert "401 Unauthorized" in messages[0] and "revoked" in messages[0]
    # At most the requests already in flight (one per worker) meet the revoked token; none is retried.
    assert emulator.client.counters()["status_counts"].get("401", 0) <= 4
    # The run's history says how it ended, in the same plain words.
    with engine.connect() as conn:
        [failed] = conn.execute(sa.select(sync_runs.c.outcome, sync_runs.c.error)).all()
    assert failed.outcome == "failed" and "401 Unauthorized" in failed.error

    emulator.client.clear_faults()
    emulator.client.set_latency(0)
    assert materialize_tenant(tenant).success
    assert_exact_copy(engine, emulator)
    with engine.connect() as conn:
        outcomes = conn.execute(sa.select(sync_runs.c.outcome).order_by(sync_runs.c.started_at)).scalars().all()
    assert outcomes == ["failed", "complete"]


def test_bot_removed_from_the_guild_fails_the_tenant_in_plain_words(engine, emulator, tenant):
    emulator.client.inject("remove_bot", guild_id=emulator.guild_ids[0])
    result = materialize_tenant(tenant, raise_on_error=False)
    assert not result.success
    [message] = failure_messages(result)
    assert "cannot see guild" in message and "removed from the guild" in message
    assert emulator.client.counters()["invalid_requests"] <= 1


def test_an_unknown_guild_fails_the_tenant_in_plain_words(engine, emulator, monkeypatch):
    sync_env(monkeypatch, emulator)
    create_tenant(engine, "ghost", 123456789012345678)
    result = materialize_tenant("ghost", raise_on_error=False)
    assert not result.success
    [message] = failure_messages(result)
    assert "cannot see guild 123456789012345678" in message and "guild id is wrong" in message


def test_a_channel_deleted_mid_sync_is_skipped_its_history_kept_and_the_rest_complete(engine, emulator, tenant):
    channel = first_channel(emulator)
    guild_id = emulator.guild_ids[0]
    truth_before = guild_truth(emulator.client, guild_id)
    channels_before = emulator.client.channels(guild_id)
    # The channel's first page is held back long enough to delete the channel while the sync is inside it.
    emulator.client.inject("slow", route=rf"/channels/{channel}/messages", delay=2.0, count=1)
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.update(result=materialize_tenant(tenant, raise_on_error=False)))
    runner.start()
    deadline = time.monotonic() + 30
    while not any("/messages" in e["path"] for e in emulator.client.request_log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    emulator.client.delete_channel(channel)
    runner.join(timeout=60)
    assert outcome["result"].success
    status, error = channel_status(engine, channel)
    assert status == "skipped" and "404" in error
    gone = {channel} | {int(c["id"]) for c in channels_before if c.get("parent_id") == str(channel)}
    state = stored_state(engine, tenant)
    assert {c: ids for c, ids in state.message_ids.items() if c not in gone} == {
        c: ids for c, ids in truth_before.message_ids.items() if c not in gone
    }
    kept = {c: state.message_ids.get(c, []) for c in gone}
    for c, ids in kept.items():
        assert ids == truth_before.message_ids.get(c, [])[: len(ids)], "what was stored is a prefix of the history"

    assert materialize_tenant(tenant).success
    with engine.connect() as conn:
        deleted_at = conn.execute(sa.select(channels.c.deleted_at).where(channels.c.id == channel)).scalar_one()
    assert deleted_at is not None
    assert {c: stored_state(engine, tenant).message_ids.get(c, []) for c in gone} == kept
