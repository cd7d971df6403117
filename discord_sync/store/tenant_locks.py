"""The per-tenant PostgreSQL advisory locks, one key scheme (a class per purpose, the tenant id's hash).

- The sync lock: two syncs of one tenant never write at once; the second waits for the first. A queued run and a
  CLI `materialize`, or an hourly tick during a long backfill, may both start a sync of the same tenant outside
  Dagster's run queue; this lock serializes them.
- The start lock: checking for a queued run and queueing one is atomic across processes (API workers, the command
  line), so requests at once still queue one run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import sqlalchemy as sa

SYNC_LOCK_CLASS = 0x6473  # advisory-lock namespace of tenant syncs
START_LOCK_CLASS = 0x6474  # advisory-lock namespace of queueing a tenant's run
# A waiting sync asks again this often: between two asks it can be cancelled, and while it asks it waits inside
# PostgreSQL, where `pg_locks` shows it (`locktype = 'advisory'`, `granted = false`) to an operator or a test.
LOCK_WAIT_MILLISECONDS = 1000

_LOCK_SQL = sa.text("SELECT pg_advisory_lock(:cls, hashtext(:tenant))")
_UNLOCK_SQL = sa.text("SELECT pg_advisory_unlock(:cls, hashtext(:tenant))")
_START_LOCK_SQL = sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(:tenant))")
_WAIT_AT_MOST_SQL = sa.text("SELECT set_config('lock_timeout', :timeout, true)")


def _lock_not_available(error: sa.exc.OperationalError) -> bool:
    return isinstance(error.orig, psycopg.errors.LockNotAvailable)


@contextlib.contextmanager
def tenant_lock(engine: sa.Engine, tenant_id: str, log: logging.Logger | Any) -> Iterator[None]:
    """Hold the tenant's sync lock for the block; wait (and say so) while another sync holds it."""
    with engine.connect() as conn:
        args = {"cls": SYNC_LOCK_CLASS, "tenant": tenant_id}
        waited = False
        while True:
            try:
                # `lock_timeout` set for this transaction only; the advisory lock itself outlives it (session level).
                conn.execute(_WAIT_AT_MOST_SQL, {"timeout": f"{LOCK_WAIT_MILLISECONDS}ms"})
                conn.execute(_LOCK_SQL, args)
                conn.commit()
                break
            except sa.exc.OperationalError as error:
                if not _lock_not_available(error):
                    raise
                conn.rollback()
                if not waited:
                    log.info(f"tenant {tenant_id}: another sync of this tenant is running; waiting for it to finish")
                    waited = True
        try:
            yield
        finally:
            conn.execute(_UNLOCK_SQL, args)
            conn.commit()


def hold_tenant_start_lock(conn: sa.Connection, tenant_id: str) -> None:
    """Take the tenant's start lock until `conn`'s transaction ends, waiting while another process holds it."""
    conn.execute(_START_LOCK_SQL, {"cls": START_LOCK_CLASS, "tenant": tenant_id})
