"""A batch of tenants synced side by side in one run, each one's failure kept to itself.

An hourly batch run holds several tenants; each tenant's sync is the single-tenant sync (`TenantSync`, under its
tenant lock), run in a worker thread of its own with its own event loop. At most `tenants_at_once` sync at once,
and each keeps its own channel-worker cap (`SYNC_MAX_CHANNEL_WORKERS`), so the shared request budget (the PostgreSQL
limiter) is shared fairly: a tenant with a thousand changed channels queues as many requests at once as a tenant
with ten, and cannot hold the others back for its whole catch-up. A tenant whose sync raises is recorded as failed
with its error; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Tenants of one batch synced at once. Each holds a database connection for its tenant lock, one for the request
# limiter and one HTTP session: 8 per run x 4 runs stays well inside PostgreSQL's default 100 connections, and
# quiet tenants spend most of their sync waiting on Discord, so 8 keep the budget busy.
TENANTS_AT_ONCE = 8


@dataclass(frozen=True)
class TenantOutcome(Generic[T]):
    """One tenant's result in a batch: its value, or the error its sync raised."""

    tenant_id: str
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_tenant_batch(
    tenant_ids: Sequence[str],
    sync_one: Callable[[str], T],
    tenants_at_once: int = TENANTS_AT_ONCE,
    on_done: Callable[[TenantOutcome[T]], None] | None = None,
) -> list[TenantOutcome[T]]:
    """Run `sync_one` for every tenant, at most `tenants_at_once` at a time, and return each tenant's outcome in the
    order given; an exception of one tenant is its outcome, never the batch's. `on_done` is called in the calling
    thread with each outcome as soon as it is known (in the order tenants finish), while the others still sync: the
    batch records a finished tenant's results during the others' waits on Discord, not all at the end."""

    def guarded(tenant_id: str) -> TenantOutcome[T]:
        try:
            return TenantOutcome(tenant_id, value=sync_one(tenant_id))
        except Exception as error:  # one tenant's failure, whatever it is, must not end its batch
            return TenantOutcome(tenant_id, error=error)

    if not tenant_ids:
        return []
    workers = max(1, min(tenants_at_once, len(tenant_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant-sync") as pool:
        futures = [pool.submit(guarded, tenant_id) for tenant_id in tenant_ids]
        for future in as_completed(futures):
            if on_done is not None:
                on_done(future.result())
        return [future.result() for future in futures]
