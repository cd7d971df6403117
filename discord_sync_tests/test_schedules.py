"""The hourly schedule: one run per tenant partition, a run key per tenant and hour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest

from discord_sync.defs.schedules import hourly_sync_schedule, tenants_with_active_runs
from discord_sync_tests.sync_graph import sync_graph_definitions

TEN_O_CLOCK = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(instance: dg.DagsterInstance, at: datetime):
    repository = sync_graph_definitions(schedules=[hourly_sync_schedule]).get_repository_def()
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=repository
    ) as context:
        return hourly_sync_schedule.evaluate_tick(context)


def test_every_tenant_partition_gets_one_run_keyed_by_the_hour(instance):
    instance.add_dynamic_partitions("tenants", ["globex", "acme"])

    data = evaluate(instance, TEN_O_CLOCK)

    assert [(r.partition_key, r.run_key) for r in data.run_requests] == [
        ("acme", "hourly:acme:2026-11-23T10:00:00+00:00"),
        ("globex", "hourly:globex:2026-11-23T10:00:00+00:00"),
    ]
    assert all(r.tags["dagster/partition"] == r.partition_key for r in data.run_requests)


def test_the_same_hour_gives_the_same_run_keys_and_the_next_hour_new_ones(instance):
    instance.add_dynamic_partitions("tenants", ["acme"])

    first = evaluate(instance, TEN_O_CLOCK)
    again = evaluate(instance, TEN_O_CLOCK)
    next_hour = evaluate(instance, TEN_O_CLOCK.replace(hour=11))

    assert [r.run_key for r in first.run_requests] == [r.run_key for r in again.run_requests]
    assert first.run_requests[0].run_key != next_hour.run_requests[0].run_key


def test_without_tenants_the_tick_is_skipped(instance):
    data = evaluate(instance, TEN_O_CLOCK)
    assert data.run_requests == []
    assert "no tenants" in data.skip_message


def test_the_schedule_runs_hourly_on_the_hour_and_starts_enabled():
    assert hourly_sync_schedule.cron_schedule == "0 * * * *"
    assert hourly_sync_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert hourly_sync_schedule.job_name == "sync_tenant"


def add_run(instance: dg.DagsterInstance, tenant_id: str, status: dg.DagsterRunStatus) -> None:
    """A run of the tenant in `status`, recorded in the instance as the daemon would leave it."""
    instance.add_run(
        dg.DagsterRun(
            job_name="sync_tenant", run_id=str(uuid.uuid4()), status=status, tags={"dagster/partition": tenant_id}
        )
    )


def test_hourly_runs_go_in_the_hourly_lane_first_in_the_queue(instance):
    instance.add_dynamic_partitions("tenants", ["acme"])

    [run] = evaluate(instance, TEN_O_CLOCK).run_requests

    assert (run.tags["discord_sync/lane"], run.tags["dagster/priority"], run.tags["discord_sync/hourly"]) == (
        "hourly",
        "10",
        "true",
    )


def test_a_tenant_whose_run_is_queued_or_running_gets_no_second_run(instance):
    instance.add_dynamic_partitions("tenants", ["acme", "globex", "initech", "umbrella"])
    add_run(instance, "acme", dg.DagsterRunStatus.NOT_STARTED)
    add_run(instance, "globex", dg.DagsterRunStatus.STARTED)
    add_run(instance, "initech", dg.DagsterRunStatus.SUCCESS)  # finished: due again
    add_run(instance, "umbrella", dg.DagsterRunStatus.FAILURE)

    data = evaluate(instance, TEN_O_CLOCK)

    assert [r.partition_key for r in data.run_requests] == ["initech", "umbrella"]


def test_when_every_tenant_is_still_syncing_the_tick_says_so(instance):
    instance.add_dynamic_partitions("tenants", ["acme"])
    add_run(instance, "acme", dg.DagsterRunStatus.STARTED)

    for hour in (10, 11, 12):  # a run longer than three hours: no run stacks behind it
        data = evaluate(instance, TEN_O_CLOCK.replace(hour=hour))
        assert data.run_requests == []
        assert "still queued or running" in data.skip_message


def test_active_runs_are_found_in_one_query_for_every_tenant(instance):
    tenants = [f"t{i:04d}" for i in range(300)]
    instance.add_dynamic_partitions("tenants", tenants)
    for tenant in tenants[::3]:
        add_run(instance, tenant, dg.DagsterRunStatus.STARTING)

    assert tenants_with_active_runs(instance) == set(tenants[::3])
    assert len(evaluate(instance, TEN_O_CLOCK).run_requests) == 200
