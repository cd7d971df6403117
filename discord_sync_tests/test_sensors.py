"""The new-tenant sensor against a real database and a real Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.resources import PostgresResource
from discord_sync.defs.sensors import ChangeLogMark, new_tenant_sensor, plan_reconcile
from discord_sync.store.tenants import add_tenant, remove_tenant
from discord_sync_tests.sync_graph import apply_partition_requests, sync_graph_definitions


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(instance: dg.DagsterInstance, cursor: str | None):
    """Evaluate one sensor tick as the daemon does and apply its partition requests to the instance."""
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),  # as in the daemon: lets run requests see the partitions just added
        cursor=cursor,
        definitions=sync_graph_definitions(sensors=[new_tenant_sensor]),
        resources={"postgres": PostgresResource(database_url=dg.EnvVar("DATABASE_URL"))},
    )
    data = new_tenant_sensor.evaluate_tick(context)
    apply_partition_requests(instance, list(data.dynamic_partitions_requests or []))
    return data


def last_seq(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT max(seq) FROM tenant_changes")).scalar_one()


def created_at(engine: sa.Engine, tenant_id: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT created_at FROM tenants WHERE id = :id"), {"id": tenant_id}).scalar_one()


def test_a_tenant_inserted_by_sql_becomes_a_partition_with_an_initial_sync(engine, instance):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tenants (id, name, guild_id) VALUES ('acme', 'Acme', 42)"))

    data = tick(instance, cursor=None)

    [add] = data.dynamic_partitions_requests
    assert isinstance(add, dg.AddDynamicPartitionsRequest)
    assert (add.partitions_def_name, list(add.partition_keys)) == ("tenants", ["acme"])
    [run] = data.run_requests
    assert run.partition_key == "acme"
    assert run.run_key == f"initial:acme:{created_at(engine, 'acme').isoformat()}"
    assert run.tags["dagster/partition"] == "acme"
    assert (run.tags["discord_sync/lane"], run.tags["dagster/priority"]) == ("bulk", "0")
    assert data.cursor == f"{last_seq(engine)}:1"
    assert instance.get_dynamic_partitions("tenants") == ["acme"]


def test_a_tick_is_skipped_while_the_change_log_stands_still(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    first = tick(instance, cursor=None)

    quiet = tick(instance, cursor=first.cursor)
    assert quiet.run_requests == [] and not quiet.dynamic_partitions_requests
    assert "unchanged" in quiet.skip_message

    with engine.begin() as conn:
        add_tenant(conn, "globex", 43)
    second = tick(instance, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["globex"]
    assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme", "globex"]


def test_tenants_committed_in_the_opposite_order_of_their_seq_both_get_a_partition_and_an_initial_sync(
    engine, instance
):
    """Issue 17: A is inserted first (lower seq) but commits after B, and a tick runs in between."""
    with engine.connect() as first, engine.connect() as second:
        first.begin()
        add_tenant(first, "alpha", 42)  # takes the lower seq; not yet visible
        second.begin()
        add_tenant(second, "bravo", 43)
        second.commit()
        [bravo_seq] = second.execute(sa.text("SELECT seq FROM tenant_changes")).scalars()

        early = tick(instance, cursor=None)
        assert [r.partition_key for r in early.run_requests] == ["bravo"]
        assert instance.get_dynamic_partitions("tenants") == ["bravo"]

        first.commit()
        [alpha_seq] = first.execute(sa.text("SELECT seq FROM tenant_changes WHERE tenant_id = 'alpha'")).scalars()
    assert alpha_seq < bravo_seq  # the late commit is behind the highest seq the first tick saw

    late = tick(instance, cursor=early.cursor)

    [run] = late.run_requests
    assert run.partition_key == "alpha"
    assert run.run_key == f"initial:alpha:{created_at(engine, 'alpha').isoformat()}"
    assert run.tags["discord_sync/initial_sync"] == "true"
    assert sorted(instance.get_dynamic_partitions("tenants")) == ["alpha", "bravo"]


def test_removing_a_tenant_deletes_its_partition_and_requests_no_run(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    first = tick(instance, cursor=None)
    with engine.begin() as conn:
        remove_tenant(conn, "acme")

    data = tick(instance, cursor=first.cursor)

    [delete] = data.dynamic_partitions_requests
    assert isinstance(delete, dg.DeleteDynamicPartitionsRequest)
    assert list(delete.partition_keys) == ["acme"]
    assert data.run_requests == []
    assert instance.get_dynamic_partitions("tenants") == []


def test_a_tenant_added_and_removed_between_ticks_is_never_synced(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
        remove_tenant(conn, "acme")

    data = tick(instance, cursor=None)

    assert data.run_requests == [] and not data.dynamic_partitions_requests
    assert data.cursor == f"{last_seq(engine)}:2"


def test_a_readded_tenant_gets_a_new_initial_sync(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    first = tick(instance, cursor=None)
    with engine.begin() as conn:
        remove_tenant(conn, "acme")
        add_tenant(conn, "acme", 42)

    data = tick(instance, cursor=first.cursor)

    [run] = data.run_requests
    assert run.run_key == f"initial:acme:{created_at(engine, 'acme').isoformat()}" != first.run_requests[0].run_key
    assert instance.get_dynamic_partitions("tenants") == ["acme"]


def test_a_partition_without_a_tenant_is_deleted_and_a_tenant_without_one_added(engine, instance):
    instance.add_dynamic_partitions("tenants", ["ghost"])
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)

    data = tick(instance, cursor=None)

    assert [r.partition_key for r in data.run_requests] == ["acme"]
    assert instance.get_dynamic_partitions("tenants") == ["acme"]


def test_a_cursor_from_before_marks_reconciles_once(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)

    data = tick(instance, cursor=str(last_seq(engine)))  # a plain seq, as the sensor stored it before

    assert [r.partition_key for r in data.run_requests] == ["acme"]
    assert data.cursor == f"{last_seq(engine)}:1"


A_TIME = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tenants", "partitions", "added_since", "add", "remove", "initial", "more"),
    [
        (["a"], [], [], ["a"], [], ["a"], False),
        ([], ["a"], [], [], ["a"], [], False),
        (["a", "b"], ["b", "c"], [], ["a"], ["c"], ["a"], False),
        (["a"], ["a"], ["a"], [], [], ["a"], False),  # removed and added again between ticks
        (["a"], ["a"], ["gone"], [], [], [], False),  # added, then removed before the tick
        (["a", "b", "c"], ["x", "y", "z"], [], ["a", "b"], ["x", "y"], ["a", "b"], True),
    ],
)
def test_reconciling_compares_tenants_with_partitions_both_ways(
    tenants, partitions, added_since, add, remove, initial, more
):
    plan = plan_reconcile(dict.fromkeys(tenants, A_TIME), partitions, added_since, limit=2)
    assert (plan.add, plan.remove, sorted(plan.initial_syncs), plan.more) == (add, remove, initial, more)


@pytest.mark.parametrize(
    ("cursor", "mark"),
    [
        (None, None),
        ("", None),
        ("17", ChangeLogMark(17, -1)),
        ("17:3", ChangeLogMark(17, 3)),
        ("17:3:more", ChangeLogMark(17, 3, more=True)),
        ("garbage", None),
    ],
)
def test_a_cursor_decodes_to_its_mark(cursor, mark):
    assert ChangeLogMark.decode(cursor) == mark
    if mark is not None and mark.count >= 0:
        assert mark.encode() == cursor
