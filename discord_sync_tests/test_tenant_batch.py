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


def test_each_outcome_is_handed_over_in_the_calling_thread_as_soon_as_its_tenant_is_done():
    slow_may_finish = threading.Event()
    handed: list[tuple[str, bool]] = []

    def sync_one(tenant: str) -> str:
        if tenant == "slow":
            # Finishes only once the fast tenants' outcomes were handed over: not all at the end of the batch.
            assert slow_may_finish.wait(5), "the fast tenants' outcomes were not handed over while 'slow' synced"
        elif tenant == "broken":
            raise RuntimeError("unknown guild")
        return tenant

    def on_done(outcome) -> None:
        assert threading.current_thread() is threading.main_thread()
        handed.append((outcome.tenant_id, outcome.ok))
        if {"fast", "broken"} <= {tenant for tenant, _ in handed}:
            slow_may_finish.set()

    outcomes = run_tenant_batch(["slow", "fast", "broken"], sync_one, tenants_at_once=3, on_done=on_done)

    assert handed[-1] == ("slow", True)
    assert sorted(handed) == [("broken", False), ("fast", True), ("slow", True)]
    assert [(o.tenant_id, o.ok) for o in outcomes] == [("slow", True), ("fast", True), ("broken", False)]


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
