"""The new-tenant sensor against a real database and a real Dagster instance."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from discord_sync.defs.resources import PostgresResource
from discord_sync.defs.sensors import TenantChange, new_tenant_sensor, plan_partitions
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


def test_a_tenant_inserted_by_sql_becomes_a_partition_with_an_initial_sync(engine, instance):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tenants (id, name, guild_id) VALUES ('acme', 'Acme', 42)"))
    seq = last_seq(engine)

    data = tick(instance, cursor=None)

    [add] = data.dynamic_partitions_requests
    assert isinstance(add, dg.AddDynamicPartitionsRequest)
    assert (add.partitions_def_name, list(add.partition_keys)) == ("tenants", ["acme"])
    [run] = data.run_requests
    assert run.partition_key == "acme"
    assert run.run_key == f"initial:acme:{seq}"
    assert run.tags["dagster/partition"] == "acme"
    assert data.cursor == str(seq)
    assert instance.get_dynamic_partitions("tenants") == ["acme"]


def test_a_tick_reads_only_changes_after_its_cursor(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    first = tick(instance, cursor=None)

    quiet = tick(instance, cursor=first.cursor)
    assert quiet.run_requests == [] and not quiet.dynamic_partitions_requests
    assert quiet.cursor == first.cursor

    with engine.begin() as conn:
        add_tenant(conn, "globex", 43)
    second = tick(instance, cursor=first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["globex"]
    assert sorted(instance.get_dynamic_partitions("tenants")) == ["acme", "globex"]


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
    assert data.cursor == str(last_seq(engine))


def test_a_readded_tenant_gets_a_new_initial_sync(engine, instance):
    with engine.begin() as conn:
        add_tenant(conn, "acme", 42)
    first = tick(instance, cursor=None)
    with engine.begin() as conn:
        remove_tenant(conn, "acme")
        add_tenant(conn, "acme", 42)

    data = tick(instance, cursor=first.cursor)

    [run] = data.run_requests
    assert run.run_key == f"initial:acme:{last_seq(engine)}" != first.run_requests[0].run_key
    assert instance.get_dynamic_partitions("tenants") == ["acme"]


def test_a_change_with_a_bad_slug_is_skipped_and_passed_over(engine, instance):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tenant_changes (tenant_id, change) VALUES ('Bad Slug', 'added')"))

    data = tick(instance, cursor=None)

    assert data.run_requests == [] and not data.dynamic_partitions_requests
    assert data.cursor == str(last_seq(engine))
    assert instance.get_dynamic_partitions("tenants") == []


@pytest.mark.parametrize(
    ("changes", "added", "removed", "invalid"),
    [
        ([(1, "a", "added")], {"a": 1}, [], []),
        ([(1, "a", "added"), (2, "a", "removed")], {}, ["a"], []),
        ([(1, "a", "removed"), (2, "a", "added")], {"a": 2}, [], []),
        ([(1, "a", "added"), (2, "b", "added"), (3, "a", "added")], {"a": 3, "b": 2}, [], []),
        ([(1, "UPPER", "added"), (2, "b", "removed")], {}, ["b"], ["UPPER"]),
    ],
)
def test_each_tenant_ends_up_in_its_last_state(changes, added, removed, invalid):
    plan = plan_partitions(TenantChange(seq, tenant, change) for seq, tenant, change in changes)
    assert (plan.added, plan.removed, plan.invalid) == (added, removed, invalid)
