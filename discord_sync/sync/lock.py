"""The per-tenant sync lock: two syncs of one tenant never write at once; the second waits for the first.

A queued run and a CLI `materialize`, or an hourly tick during a long backfill, may both start a sync of the same
tenant outside Dagster's run queue; a PostgreSQL advisory lock keyed by the tenant id serializes them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

_LOCK_CLASS = 0x6473  # advisory-lock namespace of tenant syncs
LOCK_POLL_SECONDS = 1.0


@contextlib.contextmanager
def tenant_lock(engine: sa.Engine, tenant_id: str, log: logging.Logger | Any) -> Iterator[None]:
    """Hold the tenant's sync lock for the block; wait (and say so) while another sync holds it."""
    with engine.connect() as conn:
        args = {"cls": _LOCK_CLASS, "tenant": tenant_id}
        waited = False
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:cls, hashtext(:tenant))"), args).scalar():
            if not waited:
                log.info(f"tenant {tenant_id}: another sync of this tenant is running; waiting for it to finish")
                waited = True
            conn.rollback()
            time.sleep(LOCK_POLL_SECONDS)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:cls, hashtext(:tenant))"), args)
            conn.commit()
