"""Which lane a run queues in, from its tags: one rule for every place that launches runs."""

from __future__ import annotations

import pytest
import yaml

from discord_sync.cli.demo_command import DEMO_DAGSTER_YAML
from discord_sync.run_names import BULK_LANE, HOURLY_LANE, LANE_TAG, PRIORITY_TAG, lane_of, with_lane
from discord_sync_tests.fault_harness import REPO as REPO_ROOT


@pytest.mark.parametrize(
    ("tags", "lane"),
    [
        ({}, HOURLY_LANE),
        ({"discord_sync/hourly": "true"}, HOURLY_LANE),
        ({"discord_sync/initial_sync": "true"}, BULK_LANE),
        ({"discord_sync/reset": "true"}, BULK_LANE),
        ({"discord_sync/reset_channel": "123"}, BULK_LANE),
        ({"discord_sync/reconcile": "true"}, BULK_LANE),
        ({"discord_sync/reconcile": "true", LANE_TAG: HOURLY_LANE}, HOURLY_LANE),  # an explicit lane wins
        ({LANE_TAG: "fast"}, HOURLY_LANE),  # an unknown lane is not trusted
    ],
)
def test_a_run_s_tags_imply_its_lane(tags, lane):
    assert lane_of(tags) == lane
    tagged = with_lane(tags)
    assert tagged[LANE_TAG] == lane
    assert tagged[PRIORITY_TAG] == ("10" if lane == HOURLY_LANE else "0")


@pytest.mark.parametrize("instance_yaml", ["repository", "demo"])
def test_hourly_runs_are_dequeued_before_bulk_ones_and_keep_slots_of_their_own(instance_yaml):
    assert int(with_lane({}, HOURLY_LANE)[PRIORITY_TAG]) > int(with_lane({}, BULK_LANE)[PRIORITY_TAG])
    text = (REPO_ROOT / "dagster.yaml").read_text() if instance_yaml == "repository" else DEMO_DAGSTER_YAML
    runs = yaml.safe_load(text)["concurrency"]["runs"]
    [bulk_cap] = [limit["limit"] for limit in runs["tag_concurrency_limits"] if limit["key"] == LANE_TAG]
    [lane_value] = [limit["value"] for limit in runs["tag_concurrency_limits"] if limit["key"] == LANE_TAG]
    assert lane_value == BULK_LANE
    assert 0 < bulk_cap < runs["max_concurrent_runs"]
