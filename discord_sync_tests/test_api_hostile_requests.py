"""The HTTP API against hostile requests, as an attacker sends them: over real HTTP to `discord-sync api` processes
on a real PostgreSQL.

The module's server believes `X-Forwarded-For` from 127.0.0.1 (`API_TRUSTED_PROXIES`), so each test speaks as its
own client address and the throttle of one test does not reach another.
"""
# ruff: noqa: F811 (pytest fixtures imported from api_harness are parameters of the tests)

from __future__ import annotations

import hashlib
import itertools
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from discord_sync.store.api_keys import revoke_key
from discord_sync.store.schema import api_audit_log, api_auth_failures, tenants
from discord_sync_tests.api_harness import admin_key, api_database, api_server, running_api  # noqa: F401 (fixtures)
from discord_sync_tests.webserver_harness import free_port

pytestmark = pytest.mark.e2e

LIMIT = 3
API_SERVER_SETTINGS = {
    "API_AUTH_FAILURE_LIMIT": str(LIMIT),
    "API_AUTH_FAILURE_WINDOW_SECONDS": "600",
    "API_TRUSTED_PROXIES": "127.0.0.1",
}
_addresses = itertools.count(10)


def new_client_address() -> str:
    """An address no other test of the module speaks from (TEST-NET-3, never routed)."""
    return f"203.0.113.{next(_addresses)}"


def request(server, method: str, path: str, *, key: str | None = None, address: str, **kwargs) -> httpx.Response:
    headers = {"X-Forwarded-For": address, **kwargs.pop("headers", {})}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    with httpx.Client(base_url=server.base_url, timeout=120) as client:
        return client.request(method, path, headers=headers, **kwargs)


def audit_rows(server, address: str) -> list[dict]:
    with server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(api_audit_log).where(api_audit_log.c.client == address).order_by(api_audit_log.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]


def test_the_key_is_checked_before_the_body_is_read(api_server):
    address = new_client_address()
    broken_json = request(
        api_server, "POST", "/api/tenants", address=address, content=b'{"id": "x",',
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    not_json = request(
        api_server, "POST", "/api/tenants", address=address, content=b"id=bodyfirst",
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    too_large = request(
        api_server, "POST", "/api/tenants", address=new_client_address(), key="dsk_abcdefgh_" + "x" * 43,
        json={"id": "bodyfirst", "guild_id": "1", "name": "y" * 100_000},
    )  # fmt: skip
    for response in (broken_json, not_json, too_large):
        # Without the key check first these would be 422, 415 and 413: answers about a body nobody may send.
        assert response.status_code == 401 and error_of(response)["code"] == "unauthorized", response.text
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.id).where(tenants.c.id == "bodyfirst")).first() is None


def test_refused_keys_are_audited_with_the_key_id_and_status_bounded_and_cleaned(api_server):
    api_server.tenant("refusedco", 31001)
    live_id, live_key = api_server.key("refusedco")
    revoked_id, revoked_key = api_server.key("refusedco", name="to revoke")
    with api_server.engine.begin() as conn:
        revoke_key(conn, revoked_id)
    hostile_tenant = "a\x00b\u202e" + "z" * 5000  # NUL (the old insert failed), a bidi override, 5 KB
    calls = [
        ("POST", "/api/tenants/refusedco/sync", None),
        ("POST", "/api/tenants/refusedco/sync", "dsk_qqqqqqqq_" + "q" * 43),  # unknown id
        ("GET", "/api/tenants/refusedco", revoked_key),  # a refused read is recorded too
        ("POST", "/api/tenants/refusedco/sync/cancel", live_key[:-1] + ("A" if live_key[-1] != "A" else "B")),
        ("DELETE", "/api/tenants/refusedco", f"dsk_{live_id}_short"),  # malformed, its id still readable
    ]
    addresses = [new_client_address() for _ in calls]  # one each: the throttle (3 failures) stays out of the way
    for (method, path, key), address in zip(calls, addresses, strict=True):
        assert request(api_server, method, path, key=key, address=address).status_code == 401
    other = new_client_address()
    hostile_path = f"/api/tenants/{quote(hostile_tenant, safe='')}/sync"
    assert request(api_server, "POST", hostile_path, address=other).status_code == 401

    rows = [row for address in addresses for row in audit_rows(api_server, address)]
    assert [(r["key_id"], r["key_status"], r["tenant_id"], r["action"], r["status_code"], r["outcome"]) for r in rows] == [
        (None, "missing", "refusedco", "POST /api/tenants/{tenant_id}/sync", 401, "refused"),
        ("qqqqqqqq", "unknown", "refusedco", "POST /api/tenants/{tenant_id}/sync", 401, "refused"),
        (revoked_id, "revoked", "refusedco", "GET /api/tenants/{tenant_id}", 401, "refused"),
        (live_id, "wrong_secret", "refusedco", "POST /api/tenants/{tenant_id}/sync/cancel", 401, "refused"),
        (live_id, "malformed", "refusedco", "DELETE /api/tenants/{tenant_id}", 401, "refused"),
    ]  # fmt: skip
    # The path's tenant id arrives percent-decoded by the server; it is stored as a fixed-length hash.
    [hostile] = audit_rows(api_server, other)
    assert hostile["tenant_id"] == "sha256:" + hashlib.sha256(hostile_tenant.encode()).hexdigest()[:16]
    assert hostile["key_status"] == "missing" and hostile["status_code"] == 401
    with api_server.engine.connect() as conn:
        dump = " ".join(str(tuple(row)) for row in conn.execute(sa.text("SELECT * FROM api_audit_log")))
    for key in (live_key, revoked_key):
        assert key.split("_", 2)[2] not in dump and key.split("_", 2)[2][:-1] not in dump
    assert "\x00" not in dump and "zzzzzzzzzz" not in dump


def test_repeated_bad_keys_from_one_client_are_answered_429_with_retry_after_but_a_valid_key_passes(api_server):
    api_server.tenant("throttleco", 32001)
    _, key = api_server.key("throttleco")
    address = new_client_address()
    bad = "dsk_rrrrrrrr_" + "r" * 43
    answers = [
        request(api_server, "GET", "/api/tenants/throttleco", key=bad, address=address) for _ in range(LIMIT + 2)
    ]
    assert [a.status_code for a in answers] == [401] * LIMIT + [429, 429]
    throttled = answers[-1]
    assert error_of(throttled)["code"] == "too_many_failures"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 600
    assert throttled.headers["Cache-Control"] == "no-store"
    # A valid key from the same client is never throttled: a shared proxy address cannot lock a tenant out.
    assert request(api_server, "GET", "/api/tenants/throttleco", key=key, address=address).status_code == 200
    # Only the failures within the limit are audited; throttled ones are counted, so a flood stays bounded.
    assert len(audit_rows(api_server, address)) == LIMIT
    with api_server.engine.begin() as conn:
        failures = api_auth_failures.c.failures
        subject = api_auth_failures.c.subject == f"client:{address}"
        assert conn.execute(sa.select(failures).where(subject)).scalar() == LIMIT + 2
        # Once the window has passed (moved back in time here, not waited for), the client is answered 401 again.
        conn.execute(
            api_auth_failures.update().where(subject).values(window_started_at=sa.text("now() - interval '1 hour'"))
        )
    assert request(api_server, "GET", "/api/tenants/throttleco", key=bad, address=address).status_code == 401


def test_a_key_id_guessed_at_from_many_clients_is_throttled_in_every_api_process(api_server, tmp_path):
    api_server.tenant("keyidco", 33001)
    key_id, key = api_server.key("keyidco")
    guess = f"dsk_{key_id}_" + "g" * 43
    answers = [
        request(api_server, "GET", "/api/tenants/keyidco", key=guess, address=new_client_address())
        for _ in range(LIMIT + 1)
    ]
    assert [a.status_code for a in answers] == [401] * LIMIT + [429]
    # A second API process, on the same database and trusting no proxy: the count is in PostgreSQL, so it holds.
    port = free_port()
    settings = {**api_server.environment(), "API_TRUSTED_PROXIES": ""}
    with running_api(api_server, port, tmp_path / "second.log", settings):
        second = f"http://127.0.0.1:{port}"
        headers = {"X-Forwarded-For": "198.51.100.7"}
        other = httpx.get(f"{second}/api/tenants/keyidco", headers={**headers, "Authorization": f"Bearer {guess}"})
        assert other.status_code == 429 and "Retry-After" in other.headers
        valid = httpx.get(f"{second}/api/tenants/keyidco", headers={**headers, "Authorization": f"Bearer {key}"})
        assert valid.status_code == 200
        unknown = httpx.post(f"{second}/api/tenants/keyidco/sync", headers={**headers, "Authorization": "Bearer x"})
        assert unknown.status_code == 401
    # Without API_TRUSTED_PROXIES the forwarded address is ignored: the connection's own address is recorded.
    assert audit_rows(api_server, "198.51.100.7") == []
    assert any(
        r["key_status"] == "malformed" and r["action"].endswith("/sync") for r in audit_rows(api_server, "127.0.0.1")
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "digits1", "guild_id": "١٢٣٤٥"}, "guild_id"),  # Arabic-Indic digits: int() takes them
        ({"id": "digits2", "guild_id": "１２３４５"}, "guild_id"),  # fullwidth digits
        ({"id": "digits3", "guild_id": "12_345"}, "guild_id"),  # int() takes the underscore
        ({"id": "hidden1", "guild_id": "34001", "name": "Acme\u200b"}, "name"),  # zero-width space (Cf)
        ({"id": "hidden2", "guild_id": "34002", "name": "\u202eemca"}, "name"),  # right-to-left override (Cf)
        ({"id": "hidden3", "guild_id": "34003", "name": "Acme\x85"}, "name"),  # C1 control (NEL)
        ({"id": "hidden4", "guild_id": "34004", "name": "Ac\u2028me"}, "name"),  # line separator
    ],
)
def test_snowflakes_are_ascii_digits_only_and_names_refuse_invisible_and_control_characters(
    api_server, admin_key, body, field
):
    response = request(api_server, "POST", "/api/tenants", key=admin_key, address=new_client_address(), json=body)
    assert response.status_code == 422 and error_of(response)["message"].startswith(f"{field}: "), response.text
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.id).where(tenants.c.id == body["id"])).first() is None


def test_a_reset_channel_id_in_other_digits_is_refused_and_a_plain_unicode_name_is_kept(api_server, admin_key):
    address = new_client_address()
    created = request(
        api_server, "POST", "/api/tenants", key=admin_key, address=address,
        json={"id": "unicodeco", "guild_id": "35001", "name": "Café 日本 – Ünïcödé"},
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["name"] == "Café 日本 – Ünïcödé"
    reset = request(
        api_server, "POST", "/api/tenants/unicodeco/sync/reset", key=admin_key, address=address,
        json={"channel_id": "١٢٣"},
    )  # fmt: skip
    assert reset.status_code == 422 and error_of(reset)["message"].startswith("channel_id: ")


MARKER = "MARKER\u202eq"


@pytest.mark.parametrize(
    "body",
    [
        {"id": MARKER, "guild_id": "1"},
        {"id": "markerco", "guild_id": MARKER},
        {"id": "markerco", "guild_id": 1.5},  # a union: pydantic names its members (`str`, `int`) in the location
        {"id": "markerco", "guild_id": "1", MARKER * 50: True},  # an unknown field named by the attacker
        {"id": "markerco", "guild_id": "1", "name": MARKER + "\x00"},
        {"id": ["not", "a", "string", MARKER]},
    ],
)
def test_validation_errors_echo_no_input_and_no_pydantic_internals(api_server, admin_key, body):
    response = request(api_server, "POST", "/api/tenants", key=admin_key, address=new_client_address(), json=body)
    assert response.status_code == 422, response.text
    text = response.text
    assert "MARKER" not in text
    for internal in ('"input"', '"ctx"', '"url"', '"loc"', '"type"', "pydantic", "errors.pydantic.dev"):
        assert internal not in text, (internal, text)
    for internal in ("constrained-str", "function-after", "[", "'str'", ".int", ".str"):
        assert internal not in error_of(response)["message"], (internal, text)
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/tenants/",
        "/api/docs",
        "/api/docs/",
        "/api/openapi.json",
        "/api/docs/oauth2-redirect",
        "/docs",
        "/metrics/",
    ],
)
def test_no_answer_redirects_to_or_mentions_a_hostile_host_header(api_server, path):
    response = request(api_server, "GET", path, address=new_client_address(), headers={"Host": "evil.example"})
    assert not 300 <= response.status_code < 400 and "location" not in response.headers, (path, response.headers)
    assert "evil.example" not in response.text
    assert response.headers["Cache-Control"] == "no-store"


def test_every_answer_is_no_store_and_every_401_carries_www_authenticate(api_server, admin_key):
    address = new_client_address()
    answers = {
        "health": request(api_server, "GET", "/healthz", address=address),
        "docs": request(api_server, "GET", "/api/docs", address=address),
        "openapi": request(api_server, "GET", "/api/openapi.json", address=address),
        "queue": request(api_server, "GET", "/api/admin/queue", key=admin_key, address=address),
        "not found": request(api_server, "GET", "/api/tenants/nosuchco", key=admin_key, address=address),
        "invalid": request(api_server, "POST", "/api/tenants", key=admin_key, address=address, json={}),
        "no such address": request(api_server, "GET", "/nothing", address=address),
    }
    no_key = request(api_server, "GET", "/api/admin/queue", address=address)
    bad_key = request(api_server, "GET", "/api/admin/queue", key="dsk_wwwwwwww_" + "w" * 43, address=address)
    assert [a.status_code for a in answers.values()] == [200, 200, 200, 200, 404, 422, 404]
    for name, answer in {**answers, "no key": no_key, "bad key": bad_key}.items():
        assert answer.headers.get("Cache-Control") == "no-store", name
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == 'Bearer realm="discord-sync"'
    assert bad_key.status_code == 401
    assert bad_key.headers["WWW-Authenticate"] == 'Bearer realm="discord-sync", error="invalid_token"'


def test_keys_in_a_path_or_query_string_and_the_authorization_header_never_reach_the_access_log(api_server, admin_key):
    address = new_client_address()
    secret = admin_key.split("_", 2)[2]
    request(
        api_server,
        "GET",
        f"/api/tenants/nosuchco?key={admin_key}&api_key=plain-secret-1&limit=5",
        key=admin_key,
        address=address,
    )
    request(api_server, "GET", f"/api/{admin_key}/x?access_token=plain-secret-2", address=address)
    request(api_server, "GET", "/api/tenants/x%0AINFO:%20forged%20line", address=address)
    log = api_server.log()
    assert "GET /api/tenants/nosuchco?key=[redacted]&api_key=[redacted]&limit=5 " in log  # the access log is on
    assert f"GET /api/dsk_{admin_key.split('_')[1]}_[redacted]/x?access_token=[redacted] " in log
    assert secret not in log and "plain-secret-1" not in log and "plain-secret-2" not in log
    assert "[redacted]" in log
    assert "\nINFO: forged line" not in log  # uvicorn logs the raw (percent-encoded) target
