"""The per-tenant asset checks, run inside a real `sync_tenant` run against rows written by SQL."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.asset_checks import tenant_asset_checks
from discord_sync.run_names import RAW_ID_FULL_SCAN_TAG
from discord_sync.shaping.anonymize import Anonymizer
from discord_sync.store.tenants import add_tenant
from discord_sync_tests.conftest import TEST_ANONYMIZATION_KEY
from discord_sync_tests.sync_graph import sync_graph_definitions

HASH = Anonymizer(TEST_ANONYMIZATION_KEY).user_hash(80351110224678912)

CHANNEL = sa.text(
    "INSERT INTO channels (tenant_id, id, name, type, is_thread, created_at, deleted_at) "
    "VALUES (:tenant, :id, :name, :type, :type IN (10, 11, 12), now(), :deleted_at)"
)
PROGRESS = sa.text(
    "INSERT INTO sync_progress (tenant_id, channel_id, status, last_error) VALUES (:tenant, :id, :status, :error)"
)
MESSAGE = sa.text(
    "INSERT INTO messages (tenant_id, id, channel_id, author_hash, type, content, created_at, mentioned_user_hashes) "
    "VALUES (:tenant, :id, 100, :author, 0, :content, now(), :mentions)"
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("tenants", ["acme", "globex"])
        yield instance


def run_checks(
    instance: dg.DagsterInstance, tenant: str, tags: dict[str, str] | None = None, run_config: dict | None = None
) -> dict[str, dg.AssetCheckEvaluation]:
    """Run the sync job for one tenant (placeholder assets, real checks) and return the check evaluations."""
    job = sync_graph_definitions(asset_checks=tenant_asset_checks).resolve_job_def("sync_tenant")
    result = job.execute_in_process(partition_key=tenant, instance=instance, tags=tags, run_config=run_config)
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def add_channel(conn, tenant, id, type=0, status=None, error=None, deleted=False, name=None) -> None:
    conn.execute(
        CHANNEL,
        {
            "tenant": tenant,
            "id": id,
            "name": name or f"c{id}",
            "type": type,
            "deleted_at": "2026-01-01T00:00:00Z" if deleted else None,
        },
    )
    if status:
        conn.execute(PROGRESS, {"tenant": tenant, "id": id, "status": status, "error": error})


@pytest.fixture
def acme(engine):
    """A tenant whose channels are all synced or explained and whose rows hold only hashes."""
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        add_channel(conn, "acme", 100, status="complete")
        add_channel(conn, "acme", 101, type=11, status="skipped", error="403 Missing Access")
        add_channel(conn, "acme", 102, type=5, status="failed", error="500 after 3 retries")
        add_channel(conn, "acme", 103, type=4)  # category: holds no messages
        add_channel(conn, "acme", 104, type=15)  # forum: its posts are threads
        add_channel(conn, "acme", 105, deleted=True)
        conn.execute(
            MESSAGE, {"tenant": "acme", "id": 1, "author": HASH, "content": f"hi <@{HASH}>", "mentions": [HASH]}
        )
        conn.execute(
            MESSAGE, {"tenant": "acme", "id": 2, "author": None, "content": "webhook <#100> <@&5>", "mentions": []}
        )
    return "acme"


def test_a_cleanly_synced_tenant_passes_both_checks(instance, acme):
    checks = run_checks(instance, acme)
    assert checks["every_channel_synced_or_explained"].passed
    assert checks["no_raw_user_ids"].passed
    assert checks["every_channel_synced_or_explained"].partition == "acme"


def test_a_visible_channel_without_a_finished_or_explained_checkpoint_fails(engine, instance, acme):
    unexplained = {200: None, 201: "pending", 202: "running", 203: "failed", 204: "skipped"}
    with engine.begin() as conn:
        for channel_id, status in unexplained.items():
            add_channel(conn, "acme", channel_id, type=12, status=status)

    check = run_checks(instance, acme)["every_channel_synced_or_explained"]

    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["unexplained_channels"].value == len(unexplained)
    sample = {int(c["channel_id"]): c["status"] for c in check.metadata["sample"].value}
    assert sample == {channel_id: status or "no checkpoint" for channel_id, status in unexplained.items()}


RAW_ID = "80351110224678912"
LEAKS = [
    # message id, author_hash, content, mentioned_user_hashes
    (10, RAW_ID, "hello", []),
    (11, HASH, f"hey <@{RAW_ID}>", []),
    (12, HASH, f"hey <@!{RAW_ID}>", []),
    (13, HASH, "hey", [RAW_ID]),
]


def test_a_raw_user_id_anywhere_in_messages_fails(engine, instance, acme):
    with engine.begin() as conn:
        for message_id, author, content, mentions in LEAKS:
            conn.execute(
                MESSAGE,
                {"tenant": "acme", "id": message_id, "author": author, "content": content, "mentions": mentions},
            )

    check = run_checks(instance, acme)["no_raw_user_ids"]

    assert not check.passed
    assert check.metadata["findings"].value == {
        "messages.author_hash": 1,
        "messages.content": 2,
        "messages.mentioned_user_hashes": 1,
    }
    assert sorted(s["key"] for s in check.metadata["sample"].value) == ["10", "11", "12", "13"]
    assert check.metadata["scope"].value == "full scan"  # the tenant's first audit reads everything


def test_the_check_reads_only_what_was_written_since_its_last_pass_unless_asked_for_a_full_scan(engine, instance, acme):
    assert run_checks(instance, acme)["no_raw_user_ids"].passed
    incremental = run_checks(instance, acme)["no_raw_user_ids"]
    assert incremental.passed and incremental.metadata["scope"].value.startswith("rows written since")
    # Nothing was written since: the tenant's messages are not read again (its few channels, written moments ago,
    # are: they are read back a margin further, for times taken from a process's clock).
    assert incremental.metadata["rows_read_by_table"].value["messages"] == 0

    full = run_checks(instance, acme, tags={RAW_ID_FULL_SCAN_TAG: "true"})["no_raw_user_ids"]
    assert full.passed and full.metadata["scope"].value == "full scan"
    assert full.metadata["rows_read_by_table"].value["messages"] == 2
    assert full.metadata["rows_read_by_table"].value["channels"] == 6
    # The run config operations.md documents asks for the same.
    config = {"ops": {"messages_no_raw_user_ids": {"config": {"full_scan": True}}}}
    by_config = run_checks(instance, acme, run_config=config)["no_raw_user_ids"]
    assert by_config.metadata["rows_read_by_table"].value["messages"] == 2


def test_checks_look_only_at_their_own_tenant(engine, instance, acme):
    with engine.begin() as conn:
        add_tenant(conn, "globex", 43)
        add_channel(conn, "globex", 100)  # no checkpoint
        conn.execute(MESSAGE, {"tenant": "globex", "id": 4, "author": "123", "content": "<@123>", "mentions": []})

    checks = run_checks(instance, acme)
    assert checks["every_channel_synced_or_explained"].passed and checks["no_raw_user_ids"].passed
