"""The HTTP API sees a tenant's hourly batch run as the tenant's run: its active run, and no reset beside it."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from discord_sync_tests.api_harness import admin_key, api_database, api_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e


@pytest.fixture
def in_env(api_server, monkeypatch):  # noqa: F811 (the fixture above)
    """This process on the server's database and Dagster instance (to record a run as the daemon would)."""
    for name, value in api_server.environment().items():
        monkeypatch.setenv(name, value)
    return api_server


def test_a_running_batch_is_each_of_its_tenants_active_run(in_env, admin_key):  # noqa: F811
    for n, tenant in enumerate(("batch-a", "batch-b", "batch-c", "batch-d")):
        in_env.tenant(tenant, 14001 + n)
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("tenants", ["batch-a", "batch-b", "batch-c", "batch-d"])
        instance.add_run(
            dg.DagsterRun(
                job_name="sync_tenant_batch",
                run_id=run_id,
                status=dg.DagsterRunStatus.STARTED,
                tags={
                    "dagster/asset_partition_range_start": "batch-a",
                    "dagster/asset_partition_range_end": "batch-c",
                },
            )
        )
    with in_env.client(admin_key) as client:
        inside = client.get("/api/tenants/batch-b").json()
        outside = client.get("/api/tenants/batch-d").json()
        reset = client.post("/api/tenants/batch-c/sync/reset")

    assert inside["active_run_id"] == run_id
    assert outside["active_run_id"] is None
    assert reset.status_code == 409 and reset.json()["error"]["code"] == "sync_in_progress"
    assert run_id in reset.json()["error"]["message"]


def test_a_metrics_run_of_a_tenant_is_neither_its_active_run_nor_its_latest_sync(in_env, admin_key):  # noqa: F811
    in_env.tenant("metrics-a", 14101)
    sync_id, metrics_id = str(uuid.uuid4()), str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("tenants", ["metrics-a"])
        instance.add_run(
            dg.DagsterRun(
                job_name="sync_tenant",
                run_id=sync_id,
                status=dg.DagsterRunStatus.SUCCESS,
                tags={"dagster/partition": "metrics-a"},
            )
        )
        # What the metrics' automation launches after that sync: the tenant's partition tag, and its sensor's name.
        instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                run_id=metrics_id,
                status=dg.DagsterRunStatus.STARTED,
                tags={"dagster/partition": "metrics-a", "dagster/sensor_name": "community_metrics_after_sync"},
            )
        )
    with in_env.client(admin_key) as client:
        tenant = client.get("/api/tenants/metrics-a").json()
        status = client.get("/api/tenants/metrics-a/sync/status").json()

    assert tenant["active_run_id"] is None
    assert status["run"]["run_id"] == sync_id
