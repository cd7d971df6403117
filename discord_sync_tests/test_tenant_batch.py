"""A batch of tenant syncs side by side: one tenant's error stays its own, and at most N sync at once."""

from __future__ import annotations

import threading
import time

from discord_sync.defs.batch_retries import batch_retry_requests
from discord_sync.sync.tenant_batch import run_tenant_batch


def test_a_failing_tenant_is_its_own_outcome_and_the_others_finish():
    def sync_one(tenant: str) -> str:
        if tenant == "broken":
            raise RuntimeError("unknown guild")
        return f"synced {tenant}"

    outcomes = run_tenant_batch(["acme", "broken", "globex"], sync_one)

    assert [(o.tenant_id, o.ok, o.value) for o in outcomes] == [
        ("acme", True, "synced acme"),
        ("broken", False, None),
        ("globex", True, "synced globex"),
    ]
    assert str(outcomes[1].error) == "unknown guild"


def test_at_most_the_given_number_of_tenants_sync_at_once_and_all_of_them_run():
    running, peak, lock = 0, 0, threading.Lock()

    def sync_one(tenant: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return tenant

    tenants = [f"t{n}" for n in range(20)]
    outcomes = run_tenant_batch(tenants, sync_one, tenants_at_once=4)

    assert [o.value for o in outcomes] == tenants
    assert 1 < peak <= 4


def test_an_empty_batch_syncs_nothing():
    assert run_tenant_batch([], lambda tenant: tenant) == []


def test_each_failed_tenant_of_a_batch_gets_one_run_of_its_own_in_the_hourly_lane():
    requests = batch_retry_requests("run-1", {"discord_sync/failed_tenants": "broken,umbrella"})

    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("broken", "batch_retry:run-1:broken"),
        ("umbrella", "batch_retry:run-1:umbrella"),
    ]
    assert all(r.tags["discord_sync/lane"] == "hourly" for r in requests)
    assert batch_retry_requests("run-2", {}) == []
