"""The API's audit log: every state-changing call and every refused key, who made it (the key id, never the key),
on which tenant, from where, how it ended.

What a caller sent is cleaned before it is stored, so a hostile value can neither break the insert nor grow the
log: control and invisible format characters are dropped, text is capped, and a tenant id that is not a valid slug
is stored as its hash. Operators read it with plain SQL, e.g.
`SELECT * FROM api_audit_log WHERE tenant_id = 'acme' ORDER BY at DESC`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import sqlalchemy as sa

from discord_sync.store.schema import TENANT_ID_PATTERN, api_audit_log

# Longest text stored from a call: route templates and addresses fit; anything longer was not sent in good faith.
MAX_TEXT = 200
# Stored instead of a tenant id that is not a slug (an attacker's path): a fixed length, still comparable.
HASHED_TENANT_PREFIX = "sha256:"


def clean_text(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """`text` without control, format, surrogate or line-separator characters, at most `limit` characters."""
    if text is None:
        return None
    kept = "".join(c for c in text if unicodedata.category(c)[0] != "C" and unicodedata.category(c) not in ("Zl", "Zp"))
    return kept[:limit]


def tenant_reference(tenant_id: str | None) -> str | None:
    """A valid slug as is; anything else as `sha256:` and 16 hex digits of its hash (bounded, never the raw value)."""
    if tenant_id is None or re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        return tenant_id
    digest = hashlib.sha256(tenant_id.encode("utf-8", "surrogatepass")).hexdigest()
    return HASHED_TENANT_PREFIX + digest[:16]


def record_call(
    conn: sa.Connection,
    *,
    key_id: str | None,
    tenant_id: str | None,
    action: str,
    status_code: int,
    run_id: str | None = None,
    key_status: str | None = None,
    client: str | None = None,
) -> None:
    """Append one call: `outcome` is `ok` for 2xx, `refused` for 4xx, `error` for 5xx."""
    outcome = "ok" if status_code < 400 else "refused" if status_code < 500 else "error"
    conn.execute(
        api_audit_log.insert().values(
            key_id=clean_text(key_id, 8),
            tenant_id=tenant_reference(tenant_id),
            action=clean_text(action) or "",
            status_code=status_code,
            outcome=outcome,
            run_id=clean_text(run_id, 2000),
            key_status=key_status,
            client=clean_text(client, 64),
        )
    )
