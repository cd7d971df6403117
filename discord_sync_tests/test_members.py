"""Members, roles and who reacted, synced through the real Dagster assets from the emulator over HTTP into
PostgreSQL: stored anonymized (checked over every column), leaves detected, the Server Members intent respected
with no refused request, the member cadence honoured, and who-reacted opt-in and within its request budget."""

from __future__ import annotations

import math

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.assets import channels, messages
from discord_sync.defs.member_assets import members, message_reactors
from discord_sync.defs.partitions import TENANT_PARTITIONS_NAME
from discord_sync.defs.resources import resources_from_settings
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.settings import Settings
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.raw_id_audit import audit_tenant
from discord_sync.store.reactors import set_who_reacted
from discord_sync_tests.conftest import TEST_ANONYMIZATION_KEY
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, sync_env

ANON = Anonymizer(TEST_ANONYMIZATION_KEY)
MEMBERS_ROUTE = "GET /guilds/{guild_id}/members"
REACTORS_ROUTE = "GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}"


def sync(tenant_id: str) -> dg.ExecuteInProcessResult:
    """The tenant's whole sync: catalog, messages, members and roles, reactors."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_PARTITIONS_NAME, [tenant_id])
    result = dg.materialize(
        [channels, messages, members, message_reactors],
        partition_key=tenant_id,
        instance=instance,
        resources=resources_from_settings(Settings.from_env()),
    )
    assert result.success
    return result


def every_value(engine: sa.Engine, table: str) -> list[str]:
    """Every value of every column of `table`, as text."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars().all()
    return list(rows)


def member_rows(engine: sa.Engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.member_hash: r for r in conn.execute(sa.text("SELECT * FROM members WHERE tenant_id = 'acme'"))}


def make_due(engine: sa.Engine) -> None:
    """As if the last member sync were a day and more ago."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE member_syncs SET last_attempt_at = last_attempt_at - interval '25 hours'"))


def test_members_and_roles_are_stored_anonymized_at_one_request_per_1000_and_leaves_are_detected(engine, monkeypatch):
    with Emulator(guilds=[GuildSpec(seed=5, scale=0.02, members=2345)], token=TEST_TOKEN) as emulator:
        guild_id = emulator.guild_ids[0]
        sync_env(monkeypatch, emulator)
        create_tenant(engine, "acme", guild_id)
        sync("acme")
        truth = emulator.client.members(guild_id)["members"]
        counters = emulator.client.counters()
        usernames = [g["username"] for g in _users(emulator, guild_id)]

        stored = member_rows(engine)
        assert len(truth) == 2345
        assert set(stored) == {ANON.user_hash(m["user_id"]) for m in truth}
        for member in truth:
            row = stored[ANON.user_hash(member["user_id"])]
            assert row.role_ids == sorted(int(r) for r in member["role_ids"])
            assert row.pending == member["pending"]
            assert row.is_bot == member["bot"]
            assert (row.premium_since is None) == (member["premium_since_ms"] is None)
            assert int(row.joined_at.timestamp() * 1000) == member["joined_ms"]
            assert row.left_at is None
        # The floor: one request per 1,000 members (2,345 -> 3 pages).
        assert counters["requests_by_route"][MEMBERS_ROUTE] == math.ceil(2345 / 1000)
        assert counters["invalid_requests"] == 0

        with engine.connect() as conn:
            roles = conn.execute(sa.text("SELECT id, name, permissions FROM roles ORDER BY position")).all()
            state = conn.execute(sa.text("SELECT status, reason, members_listed FROM member_syncs")).one()
        assert [r.name for r in roles][0] == "@everyone" and len(roles) == 5
        assert roles[0].permissions == 104324673 and roles[0].id == guild_id
        assert tuple(state) == ("synced", None, 2345)

        # No raw user id and no name of a person in any column of the new tables, and the audit agrees.
        raw_ids = {m["user_id"] for m in truth}
        for table in ("members", "roles", "member_syncs"):
            for value in every_value(engine, table):
                assert not any(u in value for u in raw_ids), table
                assert not any(name in value for name in usernames), table
        assert audit_tenant(engine, "acme", full_scan=True).total == 0

        # A day later: one leaves, two join, one member's roles change.
        leaver = next(m for m in truth if not m["bot"])
        emulator.client.remove_member(guild_id, int(leaver["user_id"]))
        joined = emulator.client.join_members(guild_id, 2)
        changed = next(m for m in truth if not m["bot"] and m["user_id"] != leaver["user_id"])
        role = int(roles[2].id)
        emulator.client.set_member_roles(guild_id, int(changed["user_id"]), [role])
        emulator.client.reset_counters()
        sync("acme")  # not due yet: no member request
        assert MEMBERS_ROUTE not in emulator.client.counters()["requests_by_route"]
        assert member_rows(engine)[ANON.user_hash(leaver["user_id"])].left_at is None
        make_due(engine)
        sync("acme")

        stored = member_rows(engine)
        assert stored[ANON.user_hash(leaver["user_id"])].left_at is not None
        assert all(stored[ANON.user_hash(u)].left_at is None for u in joined)
        assert stored[ANON.user_hash(changed["user_id"])].role_ids == [role]
        assert sum(r.left_at is None for r in stored.values()) == 2345 - 1 + 2


def _users(emulator: Emulator, guild_id: int) -> list[dict]:
    """The user objects the member listing sends (with their usernames), straight from the emulator."""
    from discord_sync_tests.emulator_fixtures import api_get

    found: list[dict] = []
    after = 0
    while True:
        page = api_get(emulator, f"/guilds/{guild_id}/members", limit=1000, after=after).body
        found += [m["user"] for m in page]
        if len(page) < 1000:
            return found
        after = max(int(m["user"]["id"]) for m in page)


def test_without_the_members_intent_no_member_request_is_sent_and_the_reason_is_recorded(engine, monkeypatch):
    with Emulator(guilds=[GuildSpec(seed=6, scale=0.02)], token=TEST_TOKEN) as emulator:
        emulator.client.set_members_intent("off")
        sync_env(monkeypatch, emulator)
        create_tenant(engine, "acme", emulator.guild_ids[0])
        sync("acme")
        counters = emulator.client.counters()
    assert MEMBERS_ROUTE not in counters["requests_by_route"]
    assert counters["requests_by_route"]["GET /applications/@me"] == 1
    assert counters["invalid_requests"] == 0
    with engine.connect() as conn:
        state = conn.execute(sa.text("SELECT status, reason FROM member_syncs")).one()
        assert conn.execute(sa.text("SELECT count(*) FROM members")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM roles")).scalar_one() == 5
    assert state.status == "no_intent" and "Server Members Intent" in state.reason


@pytest.mark.parametrize("intent", ["limited"])
def test_the_limited_members_intent_lists_members(engine, monkeypatch, intent):
    with Emulator(guilds=[GuildSpec(seed=7, scale=0.02)], token=TEST_TOKEN) as emulator:
        emulator.client.set_members_intent(intent)
        sync_env(monkeypatch, emulator)
        create_tenant(engine, "acme", emulator.guild_ids[0])
        sync("acme")
        truth = emulator.client.members(emulator.guild_ids[0])["members"]
    assert set(member_rows(engine)) == {ANON.user_hash(m["user_id"]) for m in truth}


def _recent_reacted_messages(emulator: Emulator, guild_id: int, count: int) -> list[tuple[int, int]]:
    channel = emulator.client.channel_by_name(guild_id, "general")
    posted = []
    for n in range(count):
        message = emulator.client.add_message(int(channel["id"]), f"react to me {n}")
        emulator.client.react(int(channel["id"]), int(message["id"]), "👍", 3 + n)
        emulator.client.react(int(channel["id"]), int(message["id"]), "🔥", 2, burst=True)
        posted.append((int(channel["id"]), int(message["id"])))
    return posted


def stored_reactors(engine: sa.Engine) -> dict[tuple[int, str, bool], set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT message_id, emoji_key, burst, member_hash FROM message_reactors")).all()
    found: dict[tuple[int, str, bool], set[str]] = {}
    for row in rows:
        found.setdefault((row.message_id, row.emoji_key, row.burst), set()).add(row.member_hash)
    return found


def test_who_reacted_is_opt_in_stays_within_its_budget_and_follows_count_changes(engine, monkeypatch):
    with Emulator(guilds=[GuildSpec(seed=8, scale=0.02)], token=TEST_TOKEN) as emulator:
        guild_id = emulator.guild_ids[0]
        posted = _recent_reacted_messages(emulator, guild_id, 4)
        sync_env(monkeypatch, emulator, SYNC_REACTORS_REQUEST_BUDGET="3")
        create_tenant(engine, "acme", guild_id)
        sync("acme")
        # Off by default: not one reactor request, nothing stored.
        assert REACTORS_ROUTE not in emulator.client.counters()["requests_by_route"]
        assert stored_reactors(engine) == {}

        with engine.begin() as conn:
            set_who_reacted(conn, "acme", True)
        emulator.client.reset_counters()
        sync("acme")
        # 4 messages x (👍 normal + 🔥 normal and burst) = 12 requests wanted; the budget allows 3.
        assert emulator.client.counters()["requests_by_route"][REACTORS_ROUTE] <= 3
        assert 1 <= len(stored_reactors(engine)) <= 3

        monkeypatch.setenv("SYNC_REACTORS_REQUEST_BUDGET", "200")
        emulator.client.reset_counters()
        sync("acme")
        expected: dict[tuple[int, str, bool], set[str]] = {}
        for channel_id, message_id in posted:
            for emoji, sides in emulator.client.reactors(channel_id, message_id).items():
                for kind, user_ids in sides.items():
                    if user_ids:
                        expected[(message_id, emoji, kind == "burst")] = {ANON.user_hash(u) for u in user_ids}
        assert stored_reactors(engine) == expected
        assert emulator.client.counters()["invalid_requests"] == 0
        audit = audit_tenant(engine, "acme", full_scan=True)
        assert audit.total == 0 and audit.rows_read.get("message_reactors", 0) >= len(expected)

        # Unchanged counts: no request. One message's 👍 count changes: only it is listed again.
        emulator.client.reset_counters()
        sync("acme")
        assert REACTORS_ROUTE not in emulator.client.counters()["requests_by_route"]
        channel_id, message_id = posted[0]
        emulator.client.react(channel_id, message_id, "👍", 2)
        emulator.client.reset_counters()
        sync("acme")
        assert emulator.client.counters()["requests_by_route"][REACTORS_ROUTE] == 1
        truth = emulator.client.reactors(channel_id, message_id)["👍"]["normal"]
        assert stored_reactors(engine)[(message_id, "👍", False)] == {ANON.user_hash(u) for u in truth}
