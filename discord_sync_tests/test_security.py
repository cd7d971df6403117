"""Security: the bot token never leaks, no raw user id reaches a table, SQL never takes values as code."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.schema import channels as channels_table
from discord_sync.store.tenants import add_tenant
from discord_sync_tests.fault_harness import REPO, completeness_problems, guild_truth, stored_state
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env

WRONG_TOKEN = "wrong-token.ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
# The test server trusts local connections, so a password in DATABASE_URL is accepted and ignored: enough to see
# whether it leaks anywhere.
DATABASE_PASSWORD = "database-password-QQQQQQQQQQQQQQQQ"
HOSTILE_NAME = 'x\'); DROP TABLE messages; -- "quoted" $$dollar$$ \\backslash'


@pytest.fixture
def dagster_instance(database_url, tmp_path, monkeypatch):
    """A real Dagster instance whose runs and events live in the product's PostgreSQL (schema `dagster`), reached
    through a DATABASE_URL that carries a password."""
    monkeypatch.setenv("DATABASE_URL", make_url(database_url).set(password=DATABASE_PASSWORD).render_as_string(False))
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        yield instance


def _dagster_storage_text(engine: sa.Engine) -> str:
    """Every row of every table of Dagster's storage, as text."""
    with engine.connect() as conn:
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'dagster'")).scalars().all()
        assert "event_logs" in tables and "runs" in tables
        return "\n".join(
            text
            for table in tables
            for text in conn.execute(sa.text(f'SELECT t::text FROM dagster."{table}" t')).scalars()
        )


def test_the_bot_token_and_database_password_appear_in_no_log_event_run_config_tag_or_error(
    engine, dagster_instance, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    guild = GuildSpec(seed=3, layout="uniform", channels=3, threads_per_channel=1, messages_per_channel=150)
    with Emulator(guilds=[guild], token=TEST_TOKEN) as emulator:
        sync_env(monkeypatch, emulator, DEBUG_RATE_LIMITS="true")
        create_tenant(engine, "good", emulator.guild_ids[0])
        create_tenant(engine, "gone", emulator.client.add_guild(GuildSpec(seed=4, layout="uniform", channels=1)))
        forbidden = int(emulator.client.channel_by_name(emulator.guild_ids[0], "channel-1")["id"])
        emulator.client.inject("server_error", status=403, route=f"/channels/{forbidden}/messages", count=1)
        results = {"good": materialize_tenant("good", instance=dagster_instance, raise_on_error=False)}
        emulator.client.inject("remove_bot", guild_id=emulator.guild_ids[1])
        results["gone (403)"] = materialize_tenant("gone", instance=dagster_instance, raise_on_error=False)
        emulator.client.clear_faults()
        monkeypatch.setenv("DISCORD_BOT_TOKEN", WRONG_TOKEN)
        results["wrong token (401)"] = materialize_tenant("good", instance=dagster_instance, raise_on_error=False)
    assert [r.success for r in results.values()] == [True, False, False]

    for token in (TEST_TOKEN, WRONG_TOKEN, DATABASE_PASSWORD):
        for name, result in results.items():
            run = dagster_instance.get_run_by_id(result.run_id)
            assert token not in dg.serialize_value(run.run_config) and token not in str(run.tags), name
            # Stored compressed, so the text scan below cannot see into it: resource config defaults live here.
            assert token not in dg.serialize_value(dagster_instance.get_job_snapshot(run.job_snapshot_id)), name
            for record in dagster_instance.all_logs(result.run_id):
                assert token not in dg.serialize_value(record), f"{name}: {record.dagster_event_type}"
        assert token not in _dagster_storage_text(engine)
        assert token not in caplog.text
    assert "rejected the bot token" in _dagster_storage_text(engine)


def test_no_raw_discord_user_id_is_stored_in_any_table(engine, monkeypatch):
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.05)], token=TEST_TOKEN) as emulator:
        guild_id = emulator.guild_ids[0]
        sync_env(monkeypatch, emulator)
        create_tenant(engine, "acme", guild_id)
        emulator.client.inject("server_error", status=503, route=r"/channels/\d+/messages", count=2)
        assert materialize_tenant("acme").success
        user_ids = {str(u) for u in emulator.client.user_ids(guild_id)}
    assert len(user_ids) > 10
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND data_type IN ('text', 'character varying', 'ARRAY', 'json', 'jsonb')"
            )
        ).all()
        assert {
            ("messages", "content"),
            ("messages", "mentioned_user_hashes"),
            ("sync_progress", "last_error"),
            ("channel_sync_jobs", "error"),
            ("channels", "owner_hash"),
        } <= set(columns)
        stored_text = [
            text
            for table, column in columns
            for text in conn.execute(
                sa.text(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')
            ).scalars()
        ]
    assert sum(map(len, stored_text)) > 100_000, "the scan covers the synced guild"
    leaked = {user for user in user_ids for text in stored_text if user in text}
    assert leaked == set()


def test_hostile_tenant_and_channel_names_round_trip_exactly_and_are_never_executed(engine, monkeypatch):
    guild = GuildSpec(seed=6, layout="uniform", channels=2, messages_per_channel=20)
    with Emulator(guilds=[guild], token=TEST_TOKEN) as emulator:
        guild_id = emulator.guild_ids[0]
        sync_env(monkeypatch, emulator)
        with engine.begin() as conn:
            add_tenant(conn, "acme", guild_id, name=HOSTILE_NAME)
        channel = emulator.client.create_channel(guild_id, HOSTILE_NAME)
        emulator.client.add_message(int(channel["id"]), content=HOSTILE_NAME)
        assert materialize_tenant("acme").success
        truth = guild_truth(emulator.client, guild_id)
    with engine.connect() as conn:
        name = conn.execute(
            sa.select(channels_table.c.name).where(channels_table.c.id == int(channel["id"]))
        ).scalar_one()
        tenant_name = conn.execute(sa.text("SELECT name FROM tenants WHERE id = 'acme'")).scalar_one()
    assert name == HOSTILE_NAME and tenant_name == HOSTILE_NAME
    assert completeness_problems(stored_state(engine, "acme"), truth) == []


def _unsafe_sql_calls(path: Path) -> list[str]:
    """Calls that pass SQL built by string formatting, unless every interpolated name is an UPPER_CASE constant."""
    problems = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in ("text", "execute", "exec_driver_sql", "SQL"):
            continue
        sql = node.args[0]
        if isinstance(sql, ast.JoinedStr):
            names = [v.value for v in sql.values if isinstance(v, ast.FormattedValue)]
            if all(isinstance(v, ast.Name) and v.id.isupper() for v in names):
                continue
        elif isinstance(sql, ast.Call) and getattr(sql.func, "attr", "") == "format":
            # psycopg's sql.SQL(...).format(Identifier(...)) composes quoted identifiers: safe by construction.
            template = sql.func.value
            if (
                isinstance(template, ast.Call)
                and getattr(template.func, "attr", getattr(template.func, "id", "")) == "SQL"
            ):
                continue
        elif not isinstance(sql, ast.BinOp):
            continue
        problems.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return problems


def test_every_sql_statement_in_the_product_is_parameterized():
    sources = sorted((REPO / "discord_sync").rglob("*.py"))
    assert len(sources) > 20
    assert [problem for path in sources for problem in _unsafe_sql_calls(path)] == []
