"""No raw user id is stored anywhere: a guild whose every text field carries user mentions and profile links,
synced through the real assets (emulator over HTTP, PostgreSQL), then every text, varchar and json column of
every table read from the database catalog; the `no_raw_user_ids` audit, incremental and full; and
`discord-sync scrub-mentions` on rows stored before the scrubber covered them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.raw_id_audit import audit_tenant, scrub_stored_texts, text_columns
from discord_sync.store.tenants import add_tenant
from discord_sync_tests.conftest import TEST_ANONYMIZATION_KEY
from discord_sync_tests.sync_harness import TEST_TOKEN, create_tenant, materialize_tenant, sync_env

ANON = Anonymizer(TEST_ANONYMIZATION_KEY)


def stored_texts(engine: sa.Engine) -> dict[tuple[str, str], list[str]]:
    """Every non-null value of every text-bearing column of the product's schema, as text, by (table, column)."""
    with engine.connect() as conn:
        columns = text_columns(conn)
        return {
            (table, column): list(
                conn.execute(sa.text(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')).scalars()
            )
            for table, column in columns
        }


def test_no_raw_user_id_is_stored_from_any_text_field_of_a_guild(engine, monkeypatch):
    with Emulator(guilds=[GuildSpec(seed=3, scale=0.02)], token=TEST_TOKEN) as emulator:
        guild_id = emulator.guild_ids[0]
        posted = emulator.client.mention_users_everywhere(guild_id)
        user_ids = [str(u) for u in emulator.client.user_ids(guild_id)]
        sync_env(monkeypatch, emulator)
        create_tenant(engine, "acme", guild_id)
        assert materialize_tenant("acme").success
    assert len(posted) >= 8 and len(user_ids) > 10

    texts = stored_texts(engine)
    # The catalog gave the columns the mentions were put in (and the scan is not empty).
    for place in [("channels", "name"), ("channels", "topic"), ("messages", "content"), ("messages", "embeds")]:
        assert texts[place], place
    for place in [("messages", "poll"), ("messages", "forwarded"), ("messages", "mentioned_user_hashes")]:
        assert texts[place], place
    leaks = {place: user for place, values in texts.items() for value in values for user in user_ids if user in value}
    assert leaks == {}
    # Each text was kept, with the hash where the id was: in every place the guild put a mention.
    mentioned = ANON.user_hash(user_ids[0])
    for place in [("channels", "name"), ("channels", "topic"), ("messages", "embeds"), ("messages", "poll")]:
        assert any(mentioned in value for value in texts[place]), place
    forwarded = " ".join(texts[("messages", "forwarded")])
    assert f"discord.com/users/{ANON.user_hash(user_ids[1])}" in forwarded and "Ticket closed by" in forwarded

    # The audit (the asset check's SQL) reads the same columns and finds nothing.
    assert audit_tenant(engine, "acme", full_scan=True).total == 0


MESSAGE = sa.text(
    "INSERT INTO messages (tenant_id, id, channel_id, author_hash, type, content, created_at, embeds, poll) "
    "VALUES (:tenant, :id, 100, :author, 0, :content, now(), CAST(:embeds AS jsonb), CAST(:poll AS jsonb))"
)
RAW = "80351110224678912"
HASH = ANON.user_hash(RAW)


@pytest.fixture
def acme(engine):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        conn.execute(
            sa.text(
                "INSERT INTO channels (tenant_id, id, name, type, is_thread, created_at, topic) "
                "VALUES ('acme', 100, 'general', 0, false, now(), 'be nice')"
            )
        )
    return "acme"


def store_message(engine, message_id: int, *, content="hi", embeds=None, poll=None, tenant="acme") -> None:
    with engine.begin() as conn:
        conn.execute(
            MESSAGE,
            {
                "tenant": tenant,
                "id": message_id,
                "author": HASH,
                "content": content,
                "embeds": embeds,
                "poll": poll,
            },
        )


def test_the_audit_reads_only_rows_written_since_its_last_passing_run(engine, acme):
    for n in range(1, 6):
        store_message(engine, n, content=f"clean <@{HASH}>")
    first = audit_tenant(engine, acme)
    assert first.total == 0 and first.since is None and first.rows_read["messages"] == 5

    again = audit_tenant(engine, acme)
    assert again.since is not None and again.rows_read["messages"] == 0  # nothing written since

    store_message(engine, 6, embeds=f'[{{"footer": "closed by <@!{RAW}>"}}]')
    with engine.begin() as conn:
        # A catalog's `last_seen_at` is taken before it is written: a minute before the last audit still counts.
        conn.execute(
            sa.text("UPDATE channels SET topic = :t, last_seen_at = now() - interval '1 minute'"),
            {"t": f"discord.com/users/{RAW}"},
        )
    found = audit_tenant(engine, acme)
    assert found.rows_read["messages"] == 1
    assert found.findings == {"messages.embeds": 1, "channels.topic": 1}
    assert {(s["table"], s["column"], s["key"]) for s in found.sample} == {
        ("messages", "embeds", "6"),
        ("channels", "topic", "100"),
    }
    # A failing audit keeps its mark: the next one still sees the offenders, it does not turn green by itself.
    assert audit_tenant(engine, acme).findings == found.findings


def test_a_full_scan_finds_old_rows_that_the_incremental_audit_no_longer_reads(engine, acme):
    store_message(engine, 1)
    assert audit_tenant(engine, acme).total == 0
    # Written behind the audit's back with an old write time: only a full scan reads it again.
    store_message(engine, 2, poll=f'{{"question": "<@{RAW}>?"}}')
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE messages SET synced_at = now() - interval '1 day' WHERE id = 2"))
    assert audit_tenant(engine, acme).total == 0
    assert audit_tenant(engine, acme, full_scan=True).findings == {"messages.poll": 1}


def test_scrub_rewrites_stored_texts_and_json_idempotently_in_batches(engine, acme):
    store_message(engine, 1, content=f"hey <@{RAW}> and <@&5>")
    store_message(engine, 2, embeds=f'[{{"title": "by <@!{RAW}>", "fields": [{{"name": "x", "value": "<@{RAW}>"}}]}}]')
    store_message(engine, 3, content="clean")
    store_message(engine, 4, content=f"https://ptb.discord.com/users/{RAW}")
    with engine.begin() as conn:
        add_tenant(conn, "globex", 43)
    store_message(engine, 5, content=f"<@{RAW}>", tenant="globex")
    assert audit_tenant(engine, acme).findings == {"messages.content": 2, "messages.embeds": 1}

    report = scrub_stored_texts(engine, ANON, ["acme"], batch_size=1)
    assert report.rewritten == {"messages.content": 2, "messages.embeds": 1} and report.unchanged == {}
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, content || coalesce(embeds::text, '') FROM messages")).all())
    assert rows[1] == f"hey <@{HASH}> and <@&5>"
    assert f'"title": "by <@{HASH}>"' in rows[2] and f'"value": "<@{HASH}>"' in rows[2]
    assert rows[3] == "clean"
    assert rows[4] == f"https://ptb.discord.com/users/{HASH}"
    assert rows[5] == f"<@{RAW}>"  # another tenant's rows are left alone
    assert audit_tenant(engine, acme).total == 0

    again = scrub_stored_texts(engine, ANON, ["acme"])
    assert again.rewritten == {} and again.unchanged == {}


def scrub_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "discord-sync"), "scrub-mentions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e
def test_the_scrub_mentions_command_rewrites_a_tenants_rows_and_refuses_to_run_without_the_key(engine, acme):
    for n in range(1, 4):
        store_message(engine, n, content=f"<@{RAW}> #{n}")
    without_key = {k: v for k, v in os.environ.items() if k != "ANONYMIZATION_KEY"}
    refused = scrub_command("--tenant", acme, env=without_key)
    assert refused.returncode == 1 and "ANONYMIZATION_KEY is not set" in refused.stderr
    assert audit_tenant(engine, acme).findings == {"messages.content": 3}  # nothing was touched

    done = scrub_command("--tenant", acme, "--batch-size", "2", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert "messages.content: 3 row(s) rewritten" in done.stdout
    assert RAW not in done.stdout + done.stderr and TEST_ANONYMIZATION_KEY not in done.stdout + done.stderr
    assert audit_tenant(engine, acme).total == 0
    with engine.connect() as conn:
        assert set(conn.execute(sa.text("SELECT content FROM messages")).scalars()) == {
            f"<@{HASH}> #{n}" for n in range(1, 4)
        }

    again = scrub_command(env=dict(os.environ))  # every tenant; nothing left to rewrite
    assert again.returncode == 0 and "0 value(s) rewritten" in again.stdout
