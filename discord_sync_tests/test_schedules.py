"""The hourly schedule: one run per batch of consecutive tenant partitions, a run key per batch and hour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import dagster as dg
import pytest

from discord_sync.defs.resources import HourlyBatches
from discord_sync.defs.schedules import hourly_sync_schedule, plan_hourly_batches, tenants_with_active_runs
from discord_sync_tests.sync_graph import sync_graph_definitions

TEN_O_CLOCK = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def evaluate(instance: dg.DagsterInstance, at: datetime, batch_tenants: int = 25):
    repository = sync_graph_definitions(
        batch_tenants=batch_tenants, schedules=[hourly_sync_schedule]
    ).get_repository_def()
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=at,
        repository_def=repository,
        resources={"hourly_batches": HourlyBatches(tenants=batch_tenants)},
    ) as context:
        return hourly_sync_schedule.evaluate_tick(context)


def ranges(data) -> list[tuple[str, str]]:
    return [(r.tags[START], r.tags[END]) for r in data.run_requests]


def test_every_tenant_partition_is_in_one_batch_run_keyed_by_the_hour(instance):
    instance.add_dynamic_partitions("tenants", ["globex", "acme"])

    data = evaluate(instance, TEN_O_CLOCK)

    # Batches are ranges in the partitions' own order (the order they were added), which Dagster's ranges follow.
    assert ranges(data) == [("globex", "acme")]
    assert [r.run_key for r in data.run_requests] == ["hourly:globex..acme:2026-11-23T10:00:00+00:00"]
    assert all(r.partition_key is None and "dagster/partition" not in r.tags for r in data.run_requests)


def test_the_batch_size_setting_splits_the_tenants_into_ranges(instance):
    instance.add_dynamic_partitions("tenants", ["a", "b", "c", "d", "e"])

    data = evaluate(instance, TEN_O_CLOCK, batch_tenants=2)

    assert ranges(data) == [("a", "b"), ("c", "d"), ("e", "e")]


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
    assert hourly_sync_schedule.job_name == "sync_tenant_batch"


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, tenant: str = "", batch=("", "")) -> None:
    """A run of one tenant (or of a batch range) in `status`, recorded in the instance as the daemon would leave it."""
    tags = {"dagster/partition": tenant} if tenant else {START: batch[0], END: batch[1]}
    instance.add_run(dg.DagsterRun(job_name="sync_tenant", run_id=str(uuid.uuid4()), status=status, tags=tags))


def test_hourly_runs_go_in_the_hourly_lane_first_in_the_queue(instance):
    instance.add_dynamic_partitions("tenants", ["acme"])

    [run] = evaluate(instance, TEN_O_CLOCK).run_requests

    assert (run.tags["discord_sync/lane"], run.tags["dagster/priority"], run.tags["discord_sync/hourly"]) == (
        "hourly",
        "10",
        "true",
    )


def test_a_tenant_whose_run_is_queued_or_running_gets_no_second_run_and_splits_its_range(instance):
    instance.add_dynamic_partitions("tenants", ["acme", "globex", "initech", "umbrella", "wayne"])
    add_run(instance, dg.DagsterRunStatus.NOT_STARTED, "acme")
    add_run(instance, dg.DagsterRunStatus.STARTED, "initech")
    add_run(instance, dg.DagsterRunStatus.SUCCESS, "globex")  # finished: due again
    add_run(instance, dg.DagsterRunStatus.FAILURE, "umbrella")

    data = evaluate(instance, TEN_O_CLOCK)

    assert ranges(data) == [("globex", "globex"), ("umbrella", "wayne")]


def test_every_tenant_of_an_active_batch_run_counts_as_busy(instance):
    instance.add_dynamic_partitions("tenants", ["a", "b", "c", "d", "e"])
    add_run(instance, dg.DagsterRunStatus.STARTED, batch=("b", "d"))
    add_run(instance, dg.DagsterRunStatus.SUCCESS, batch=("a", "a"))

    assert tenants_with_active_runs(instance) == {"b", "c", "d"}
    assert ranges(evaluate(instance, TEN_O_CLOCK)) == [("a", "a"), ("e", "e")]


def test_when_every_tenant_is_still_syncing_the_tick_says_so(instance):
    instance.add_dynamic_partitions("tenants", ["acme"])
    add_run(instance, dg.DagsterRunStatus.STARTED, "acme")

    for hour in (10, 11, 12):  # a run longer than three hours: no run stacks behind it
        data = evaluate(instance, TEN_O_CLOCK.replace(hour=hour))
        assert data.run_requests == []
        assert "still queued or running" in data.skip_message


def test_active_runs_are_found_in_one_query_for_every_tenant(instance):
    tenants = [f"t{i:04d}" for i in range(300)]
    instance.add_dynamic_partitions("tenants", tenants)
    for tenant in tenants[::3]:
        add_run(instance, dg.DagsterRunStatus.STARTING, tenant)

    assert tenants_with_active_runs(instance) == set(tenants[::3])
    # Every third tenant busy: batches of the two between them.
    assert len(evaluate(instance, TEN_O_CLOCK).run_requests) == 100


def test_batches_cover_every_idle_tenant_once_in_order():
    tenants = [f"t{i}" for i in range(12)]
    batches = plan_hourly_batches(tenants, {"t0", "t5", "t6"}, 3)
    assert batches == [["t1", "t2", "t3"], ["t4"], ["t7", "t8", "t9"], ["t10", "t11"]]
