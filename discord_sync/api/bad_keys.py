"""Answering a refused key: 401 with `WWW-Authenticate`, or 429 with `Retry-After` once a client or a key id has
failed too often.

Every failure counts against the client's address and, for a key id that exists, against that id
(`API_AUTH_FAILURE_LIMIT` failures in `API_AUTH_FAILURE_WINDOW_SECONDS`); the counts are in PostgreSQL, shared by
every API process. A failure within the limit is written to the audit log in the same transaction; throttled
attempts are only counted, so a flood of bad keys adds at most the limit's worth of audit rows per window.
A valid key is never throttled: its secret is 256 random bits, so the throttle guards the database and the audit
log rather than the secret, and an attacker who knows a key id or shares a proxy's address cannot lock a tenant out.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Request, Response

from discord_sync.api.audit import client_address, record_refused_key
from discord_sync.api.auth import challenge
from discord_sync.api.errors import error_response
from discord_sync.settings import Settings
from discord_sync.store.api_keys import KeyCheck
from discord_sync.store.auth_failures import client_subject, key_subject, record_failure

# Statuses whose key id names a stored key: only those are counted per key id (a made-up id locks nothing out).
_KNOWN_ID = ("revoked", "wrong_secret")

MESSAGES = {
    "missing": "an API key is required: send `Authorization: Bearer <key>`",
    "malformed": "the API key is malformed: send `Authorization: Bearer <key>` with a key from `discord-sync api-key create`",
}


def refuse_key(engine: sa.Engine, request: Request, check: KeyCheck, settings: Settings) -> Response:
    """Count the failure, audit it unless throttled, and answer 401 or 429 (blocking SQL: call from a worker thread)."""
    subjects = [client_subject(client_address(request))]
    if check.key_id is not None and check.status in _KNOWN_ID:
        subjects.append(key_subject(check.key_id))
    with engine.begin() as conn:
        wait = record_failure(
            conn,
            subjects,
            limit=settings.api_auth_failure_limit,
            window_seconds=settings.api_auth_failure_window_seconds,
        )
        if wait is None:
            record_refused_key(conn, request, check, 401)
    if wait is not None:
        return error_response(
            429,
            "too_many_failures",
            f"too many requests with a bad API key; try again in {int(wait)} seconds",
            headers={"Retry-After": str(int(wait))},
        )
    message = MESSAGES.get(check.status, "the API key is unknown or revoked")
    return error_response(401, "unauthorized", message, headers={"WWW-Authenticate": challenge(check)})
