"""The API's throttle on bad keys: failed authentications counted per client address and per key id in a window.

The counts live in PostgreSQL (`api_auth_failures`), so every API process sees the same ones: an attacker gains
nothing by spreading requests over processes. One row per subject (`client:<address>` or `key:<id>`); a window
opens at a subject's first failure and lasts `window_seconds`; rows of ended windows are deleted at the next
failure, so the table holds only the subjects that failed lately.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from discord_sync.store.schema import api_auth_failures


def client_subject(address: str) -> str:
    """The throttle's subject for a client address (capped: it is stored)."""
    return "client:" + address[:64]


def key_subject(key_id: str) -> str:
    """The throttle's subject for a key id."""
    return "key:" + key_id


def record_failure(conn: sa.Connection, subjects: list[str], *, limit: int, window_seconds: float) -> float | None:
    """Count one failed authentication for each subject; the seconds to wait if one of them is now past `limit`
    failures in its window, else None."""
    window = sa.func.make_interval(0, 0, 0, 0, 0, 0, window_seconds)
    table = api_auth_failures
    # Old windows of other subjects go; rows another process holds are left for a later failure (no lock waits).
    ended = sa.select(table.c.subject).where(table.c.window_started_at < sa.func.now() - window)
    conn.execute(table.delete().where(table.c.subject.in_(ended.with_for_update(skip_locked=True))))
    wait = None
    for subject in sorted(subjects):  # one order in every process: no deadlock between two failing requests
        ended_window = table.c.window_started_at < sa.func.now() - window
        counted = insert(table).values(subject=subject, failures=1)
        statement = counted.on_conflict_do_update(
            index_elements=[table.c.subject],
            set_={
                "failures": sa.case((ended_window, 1), else_=table.c.failures + 1),
                "window_started_at": sa.case((ended_window, sa.func.now()), else_=table.c.window_started_at),
                "last_failure_at": sa.func.now(),
            },
        ).returning(table.c.failures, sa.extract("epoch", table.c.window_started_at + window - sa.func.now()))
        failures, remaining = conn.execute(statement).one()
        if failures > limit:
            wait = max(wait or 0.0, float(remaining))
    return None if wait is None else max(1.0, math.ceil(wait))


def failures_of(conn: sa.Connection, subject: str) -> int:
    """Failures counted for a subject in its current window (0 when none)."""
    value = conn.execute(sa.select(api_auth_failures.c.failures).where(api_auth_failures.c.subject == subject)).scalar()
    return int(value or 0)
