"""The API's audit log: every state-changing call, who made it (the key id, never the key), on which tenant, how it ended.

Operators read it with plain SQL, e.g. `SELECT * FROM api_audit_log WHERE tenant_id = 'acme' ORDER BY at DESC`.
"""

from __future__ import annotations

import sqlalchemy as sa

from discord_sync.store.schema import api_audit_log


def record_call(
    conn: sa.Connection,
    *,
    key_id: str | None,
    tenant_id: str | None,
    action: str,
    status_code: int,
    run_id: str | None = None,
) -> None:
    """Append one call: `outcome` is `ok` for 2xx, `refused` for 4xx, `error` for 5xx."""
    outcome = "ok" if status_code < 400 else "refused" if status_code < 500 else "error"
    conn.execute(
        api_audit_log.insert().values(
            key_id=key_id, tenant_id=tenant_id, action=action, status_code=status_code, outcome=outcome, run_id=run_id
        )
    )
