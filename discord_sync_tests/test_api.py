"""The HTTP API over real HTTP: `discord-sync api` in its own process, the real database and Dagster instance."""
# ruff: noqa: F811 (pytest fixtures imported from api_harness are parameters of the tests)

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance

from discord_sync.cli import main
from discord_sync.control.runs import RunControl, RunControlError, TenantRun
from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.run_names import REQUESTED_BY_TAG, RESET_CHANNEL_TAG, RESET_TAG
from discord_sync.settings import Settings
from discord_sync.shaping.channel_types import MESSAGE_BEARING_TYPES
from discord_sync.store.database import shared_engine
from discord_sync.store.schema import api_audit_log, api_keys, channels, sync_runs, tenants
from discord_sync_tests.api_harness import admin_key, api_database, api_server  # noqa: F401 (fixtures)
from discord_sync_tests.sync_harness import TEST_TOKEN, materialize_tenant, sync_env
from discord_sync_tests.webserver_harness import free_port

pytestmark = pytest.mark.e2e

TENANT_ROUTES = [
    ("GET", "/api/tenants/{t}"),
    ("POST", "/api/tenants/{t}/sync"),
    ("GET", "/api/tenants/{t}/sync/status"),
    ("GET", "/api/tenants/{t}/sync/history"),
    ("POST", "/api/tenants/{t}/sync/cancel"),
]
ADMIN_TENANT_ROUTES = [("DELETE", "/api/tenants/{t}"), ("POST", "/api/tenants/{t}/sync/reset")]
ADMIN_ROUTES = [("GET", "/api/admin/queue"), ("GET", "/metrics"), ("POST", "/api/tenants")]
ALL_ROUTES = TENANT_ROUTES + ADMIN_TENANT_ROUTES + ADMIN_ROUTES


def tenant_runs(tenant_id: str) -> list[TenantRun]:
    """The tenant's runs, read as the API reads them (this process's environment is the server's)."""
    return RunControl(Settings.from_env()).tenant_runs(tenant_id)


def is_error(response, status: int, code: str | None = None) -> bool:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code == status and (code is None or body["error"]["code"] == code)


@pytest.fixture
def in_env(api_server, monkeypatch):
    """This process on the server's database and Dagster instance (for looking behind the API)."""
    for name, value in api_server.environment().items():
        monkeypatch.setenv(name, value)
    return api_server


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
def test_every_route_answers_401_without_a_key_and_with_an_unknown_or_malformed_key(api_server, method, path):
    url = path.format(t="keyless")
    for key in (None, "dsk_abcdefgh_" + "x" * 43, "not-a-key", "dsk_'; DROP TABLE tenants; --"):
        with api_server.client(key) as client:
            response = client.request(method, url, json={} if method == "POST" else None)
        assert is_error(response, 401, "unauthorized"), (key, response.text)


def test_a_tenant_key_on_another_tenant_answers_exactly_as_an_unknown_tenant(api_server):
    api_server.tenant("iso-a", 2001)
    api_server.tenant("iso-b", 2002)
    _, key_a = api_server.key("iso-a")
    with api_server.client(key_a) as client:
        assert client.get("/api/tenants/iso-a").status_code == 200
        for method, path in TENANT_ROUTES:
            other = client.request(method, path.format(t="iso-b"))
            unknown = client.request(method, path.format(t="no-such-tenant"))
            assert is_error(other, 404, "not_found"), (path, other.text)
            assert (other.status_code, other.json()) == (unknown.status_code, unknown.json())
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(sync_runs).where(sync_runs.c.tenant_id == "iso-b")).first() is None


@pytest.mark.parametrize(("method", "path"), ADMIN_TENANT_ROUTES + ADMIN_ROUTES)
def test_a_tenant_key_on_an_admin_route_is_forbidden_even_for_its_own_tenant(api_server, method, path):
    index = (ADMIN_TENANT_ROUTES + ADMIN_ROUTES).index((method, path))
    tenant = f"admin-route-{index}"
    api_server.tenant(tenant, 3000 + index)
    _, key = api_server.key(tenant)
    body = {"id": "sneaky", "guild_id": "42"} if path == "/api/tenants" else None
    with api_server.client(key) as client:
        response = client.request(method, path.format(t=tenant), json=body)
    assert is_error(response, 403, "forbidden"), response.text
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.id).where(tenants.c.id.in_([tenant, "sneaky"]))).scalars().all() == [
            tenant
        ]


def test_a_revoked_key_answers_401_and_its_last_use_was_recorded(in_env, capsys):
    in_env.tenant("revoked", 4001)
    key_id, key = in_env.key("revoked", name="soon revoked")
    with in_env.client(key) as client:
        assert client.get("/api/tenants/revoked").status_code == 200
        assert main(["api-key", "revoke", key_id]) == 0
        assert f"revoked API key {key_id}" in capsys.readouterr().out
        assert is_error(client.get("/api/tenants/revoked"), 401, "unauthorized")
    with in_env.engine.connect() as conn:
        row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).one()
    assert row.last_used_at is not None and row.revoked_at is not None
    assert main(["api-key", "revoke", "zzzzzzzz"]) == 1
    assert "no API key 'zzzzzzzz'" in capsys.readouterr().err


def test_api_key_create_prints_the_key_once_on_its_last_line_and_list_never_shows_it(in_env, capsys):
    in_env.tenant("cli-keys", 5001)
    assert main(["api-key", "create", "--tenant", "cli-keys", "--name", "backend"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("dsk_")
    with in_env.client(key) as client:
        assert client.get("/api/tenants/cli-keys").json()["id"] == "cli-keys"
    assert main(["api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert key.split("_")[1] in listing and "backend" in listing and key not in listing
    assert main(["api-key", "create", "--tenant", "nobody"]) == 1
    assert "no tenant 'nobody'" in capsys.readouterr().err
    with in_env.engine.connect() as conn:
        hashes = conn.execute(sa.select(api_keys.c.key_hash)).scalars().all()
    assert key not in hashes and all(len(h) == 64 for h in hashes)


def test_creating_a_tenant_answers_201_pending_then_409_for_the_same_id_or_guild(api_server, admin_key):
    with api_server.client(admin_key) as client:
        created = client.post("/api/tenants", json={"id": "newco", "name": "New Co", "guild_id": "81384788765712384"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["id"], body["name"], body["guild_id"]) == ("newco", "New Co", "81384788765712384")
        assert body["onboarding"] == {"state": "pending", "error": None, "completed_at": None}
        assert body["last_sync"] is None and body["next_sync_due"].endswith(":00:00Z")
        assert is_error(client.post("/api/tenants", json={"id": "newco", "guild_id": "1"}), 409, "conflict")
        assert is_error(client.post("/api/tenants", json={"id": "other", "guild_id": 81384788765712384}), 409)
        assert client.get("/api/tenants/newco").json()["name"] == "New Co"
    with api_server.engine.connect() as conn:
        changes = conn.execute(sa.text("SELECT change FROM tenant_changes WHERE tenant_id = 'newco'")).scalars().all()
    assert changes == ["added"]  # what the new-tenant sensor reads to queue the initial sync


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"id": "Bad Slug", "guild_id": "1"}, 422, "invalid_request", "not a valid slug"),
        ({"id": "ok-slug", "guild_id": "12ab"}, 422, "invalid_request", "not a Discord snowflake"),
        ({"id": "ok-slug", "guild_id": "0"}, 422, "invalid_request", "not a Discord snowflake"),
        ({"id": "ok-slug", "guild_id": "99999999999999999999"}, 422, "invalid_request", "not a Discord snowflake"),
        ({"id": "ok-slug", "guild_id": "1", "admin": True}, 422, "invalid_request", "admin"),
        ({"id": 5, "guild_id": "1"}, 422, "invalid_request", "id"),
        ({"id": "ok-slug", "guild_id": 1.5}, 422, "invalid_request", "guild_id"),
        ({"id": "ok-slug", "name": "a\x00b", "guild_id": "1"}, 422, "invalid_request", "name"),
        ({"guild_id": "1"}, 422, "invalid_request", "id: Field required"),
        (["not", "an", "object"], 422, "invalid_request", "body"),
    ],
)
def test_bad_tenant_bodies_are_refused_with_a_plain_4xx_and_store_nothing(
    api_server, admin_key, body, status, code, words
):
    with api_server.client(admin_key) as client:
        response = client.post("/api/tenants", json=body)
    assert is_error(response, status, code), response.text
    assert words in response.json()["error"]["message"]
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.id).where(tenants.c.id == "ok-slug")).first() is None


def test_non_json_bodies_malformed_json_and_oversized_bodies_are_refused(api_server, admin_key):
    headers = {"Authorization": f"Bearer {admin_key}"}
    with api_server.client() as client:
        as_form = client.post("/api/tenants", headers=headers, data={"id": "formco", "guild_id": "1"})
        assert is_error(as_form, 415, "unsupported_media_type")
        as_text = client.post(
            "/api/tenants", headers={**headers, "Content-Type": "text/plain"}, content=b'{"id":"x","guild_id":"1"}'
        )
        assert is_error(as_text, 415, "unsupported_media_type")
        broken = client.post(
            "/api/tenants", headers={**headers, "Content-Type": "application/json"}, content=b'{"id": "x",'
        )
        assert is_error(broken, 422, "invalid_request") and "not valid JSON" in broken.json()["error"]["message"]
        not_text = client.post(
            "/api/tenants", headers={**headers, "Content-Type": "application/json"}, content=b"\xff\xfe{"
        )
        assert is_error(not_text, 400, "bad_request")
        huge = client.post("/api/tenants", headers=headers, json={"id": "big", "guild_id": "1", "name": "x" * 100_000})
        assert is_error(huge, 413, "body_too_large")
        # A chunked body (no Content-Length) is measured as it arrives.
        chunked = client.post(
            "/api/tenants",
            headers={**headers, "Content-Type": "application/json"},
            content=iter([b'{"id": "big", "guild_id": "1", "name": "', b"y" * 100_000, b'"}']),
        )
        assert is_error(chunked, 413, "body_too_large")
        assert is_error(client.get("/api/nothing-here", headers=headers), 404, "not_found")
        assert is_error(client.put("/api/tenants", headers=headers, json={}), 405, "method_not_allowed")
    with api_server.engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.id).where(tenants.c.id.in_(["formco", "x", "big"]))).first() is None


def test_sync_queues_one_run_and_a_second_request_answers_with_that_same_run(in_env):
    in_env.tenant("syncco", 6001)
    key_id, key = in_env.key("syncco")
    with in_env.client(key) as client:
        first = client.post("/api/tenants/syncco/sync")
        second = client.post("/api/tenants/syncco/sync")
        assert first.status_code == second.status_code == 202, first.text
        assert first.json() == second.json() == {"run_id": first.json()["run_id"], "status": "queued"}
        status = client.get("/api/tenants/syncco/sync/status").json()
        assert status["run"]["run_id"] == first.json()["run_id"] and status["run"]["status"] == "queued"
        assert status["progress"] is None and status["channels"] == []
        tenant = client.get("/api/tenants/syncco").json()
        assert tenant["active_run_id"] == first.json()["run_id"] and tenant["onboarding"]["state"] == "pending"
    [run] = tenant_runs("syncco")
    assert run.tags["dagster/partition"] == "syncco" and run.tags[REQUESTED_BY_TAG] == key_id


def test_concurrent_sync_requests_for_one_tenant_queue_exactly_one_run(in_env):
    in_env.tenant("racy", 6101)
    _, key = in_env.key("racy")

    def request_sync() -> str:
        with in_env.client(key) as client:
            response = client.post("/api/tenants/racy/sync")
        assert response.status_code == 202, response.text
        return response.json()["run_id"]

    with ThreadPoolExecutor(max_workers=3) as pool:
        run_ids = list(pool.map(lambda _: request_sync(), range(3)))
    assert len(set(run_ids)) == 1
    assert [run.run_id for run in tenant_runs("racy")] == run_ids[:1]


def test_cancel_stops_the_queued_run_and_the_admin_queue_shows_position_age_and_daemon(in_env, admin_key):
    in_env.tenant("queue-a", 7001)
    in_env.tenant("queue-b", 7002)
    with in_env.client(admin_key) as client:
        run_a = client.post("/api/tenants/queue-a/sync").json()["run_id"]
        run_b = client.post("/api/tenants/queue-b/sync").json()["run_id"]
        queue = client.get("/api/admin/queue").json()
        assert queue["daemon_alive"] is False
        listed = {run["run_id"]: run for run in queue["runs"]}
        assert listed[run_a]["position"] < listed[run_b]["position"]
        assert listed[run_a]["tenant_id"] == "queue-a" and listed[run_a]["age_seconds"] >= 0
        assert client.post("/api/tenants/queue-a/sync/cancel").json() == {
            "canceled": [run_a],
            "runs": [{"run_id": run_a, "was": "queued", "status": "canceled", "action": "removed_from_queue"}],
        }
        assert client.post("/api/tenants/queue-a/sync/cancel").json() == {"canceled": [], "runs": []}
        remaining = [run["run_id"] for run in client.get("/api/admin/queue").json()["runs"]]
        assert run_a not in remaining and run_b in remaining
        client.post("/api/tenants/queue-b/sync/cancel")
    assert [run.status for run in tenant_runs("queue-a")] == ["canceled"]


def test_reset_is_refused_while_a_sync_is_queued_then_queues_a_run_with_the_reset_tags(in_env, admin_key):
    in_env.tenant("resetco", 8001)
    with in_env.engine.begin() as conn:
        conn.execute(
            channels.insert().values(
                tenant_id="resetco", id=555, name="general", type=0, is_thread=False, created_at=sa.func.now()
            )
        )
    with in_env.client(admin_key) as client:
        queued = client.post("/api/tenants/resetco/sync").json()["run_id"]
        busy = client.post("/api/tenants/resetco/sync/reset")
        assert is_error(busy, 409, "sync_in_progress") and queued in busy.json()["error"]["message"]
        client.post("/api/tenants/resetco/sync/cancel")
        assert is_error(client.post("/api/tenants/resetco/sync/reset", json={"channel_id": "999"}), 404, "not_found")
        assert is_error(client.post("/api/tenants/resetco/sync/reset", json={"channel_id": 555}), 422)
        one = client.post("/api/tenants/resetco/sync/reset", json={"channel_id": "555"})
        assert one.status_code == 202, one.text
        client.post("/api/tenants/resetco/sync/cancel")
        whole = client.post("/api/tenants/resetco/sync/reset")
        assert whole.status_code == 202
    runs = {run.run_id: run for run in tenant_runs("resetco")}
    assert runs[one.json()["run_id"]].tags[RESET_CHANNEL_TAG] == "555"
    assert RESET_TAG not in runs[one.json()["run_id"]].tags
    assert runs[whole.json()["run_id"]].tags[RESET_TAG] == "true"


def test_history_pages_past_runs_newest_first_with_outcomes_counts_and_errors(api_server):
    api_server.tenant("histco", 9001)
    with api_server.engine.begin() as conn:
        for hour, outcome, error in [
            (1, "complete", None),
            (2, "partial", "1 channel(s) failed: ..."),
            (3, "failed", "x"),
        ]:
            conn.execute(
                sync_runs.insert().values(
                    run_id=f"hist-{hour}",
                    tenant_id="histco",
                    started_at=sa.text(f"now() - interval '{10 - hour} hours'"),
                    finished_at=sa.text(f"now() - interval '{10 - hour} hours' + interval '5 minutes'"),
                    outcome=outcome,
                    messages=100 * hour,
                    channels_total=4,
                    channels_complete=3,
                    channels_failed=1 if outcome != "complete" else 0,
                    error=error,
                )
            )
    _, key = api_server.key("histco")
    with api_server.client(key) as client:
        page = client.get("/api/tenants/histco/sync/history", params={"limit": 2}).json()
        assert [run["run_id"] for run in page["runs"]] == ["hist-3", "hist-2"] and page["next_offset"] == 2
        assert page["runs"][1]["outcome"] == "partial" and page["runs"][1]["error"].startswith("1 channel(s)")
        last = client.get("/api/tenants/histco/sync/history", params={"limit": 2, "offset": 2}).json()
        assert [run["run_id"] for run in last["runs"]] == ["hist-1"] and last["next_offset"] is None
        assert last["runs"][0]["messages"] == 100 and last["runs"][0]["finished_at"] is not None
        for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}):
            assert is_error(client.get("/api/tenants/histco/sync/history", params=bad), 422, "invalid_request")
        tenant = client.get("/api/tenants/histco").json()
        assert tenant["onboarding"]["state"] == "complete" and tenant["last_sync"]["run_id"] == "hist-3"


def test_removing_a_tenant_deletes_it_its_keys_and_its_data(api_server, admin_key):
    api_server.tenant("goner", 10001)
    _, key = api_server.key("goner")
    with api_server.client(admin_key) as client:
        removed = client.delete("/api/tenants/goner")
        assert removed.status_code == 204 and removed.content == b""
        assert is_error(client.get("/api/tenants/goner"), 404)
        assert is_error(client.delete("/api/tenants/goner"), 404)
    with api_server.client(key) as client:
        assert is_error(client.get("/api/tenants/goner"), 401)


def test_healthz_needs_no_key_and_reports_the_database_and_the_daemon(api_server):
    with api_server.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": True, "daemon": False}


def test_metrics_need_an_admin_key_and_expose_sync_and_request_figures(api_server, admin_key):
    api_server.tenant("metricco", 11001)
    with api_server.engine.begin() as conn:
        conn.execute(
            sync_runs.insert().values(
                run_id="metric-1",
                tenant_id="metricco",
                outcome="complete",
                finished_at=sa.func.now(),
                messages=1234,
                discord_requests=56,
                rate_limit_hits=2,
                invalid_requests=3,
            )
        )
    with api_server.client() as client:
        assert is_error(client.get("/metrics"), 401)
    with api_server.client(admin_key) as client:
        response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'discord_sync_syncs_total{outcome="complete",tenant="metricco"} 1.0',
        'discord_sync_messages_synced_total{tenant="metricco"} 1234.0',
        'discord_sync_discord_requests_total{tenant="metricco"} 56.0',
        'discord_sync_discord_rate_limited_total{tenant="metricco"} 2.0',
        'discord_sync_discord_invalid_requests_total{tenant="metricco"} 3.0',
        'discord_sync_seconds_since_last_success{tenant="metricco"}',
        'discord_sync_api_requests_total{method="GET",route="/metrics",status="401"}',
    ):
        assert line in text, line


def test_every_state_changing_call_is_audited_by_key_id_and_no_key_reaches_the_audit_log_or_the_log(api_server):
    api_server.tenant("auditco", 12001)
    key_id, key = api_server.key("auditco")
    admin_id, admin = api_server.key(name="auditor")
    with api_server.client(key) as client:
        client.post("/api/tenants/auditco/sync/cancel")
        client.post("/api/tenants/auditco/sync/reset")
    with api_server.client(admin) as client:
        client.post("/api/tenants", json={"id": "audited-new", "guild_id": "12002"})
        client.post("/api/tenants", json={"id": "Bad", "guild_id": "1"})
        client.get("/api/tenants/auditco")
    with api_server.client("dsk_zzzzzzzz_" + "q" * 43) as client:
        client.post("/api/tenants/auditco/sync")
    with api_server.client(key) as client:
        client.post("/api/tenants/auditco/sync/reset", content=b"channel=1", headers={"Content-Type": "text/plain"})
    with api_server.engine.connect() as conn:
        rows = conn.execute(sa.select(api_audit_log).order_by(api_audit_log.c.id)).mappings().all()
    mine = [
        (r["key_id"], r["tenant_id"], r["action"], r["status_code"], r["outcome"])
        for r in rows
        if r["key_id"] in (key_id, admin_id, "zzzzzzzz") or r["tenant_id"] in ("auditco", "audited-new")
    ]
    assert mine == [
        (key_id, "auditco", "POST /api/tenants/{tenant_id}/sync/cancel", 200, "ok"),
        (key_id, "auditco", "POST /api/tenants/{tenant_id}/sync/reset", 403, "refused"),
        (admin_id, "audited-new", "POST /api/tenants", 201, "ok"),
        (admin_id, None, "POST /api/tenants", 422, "refused"),
        ("zzzzzzzz", "auditco", "POST /api/tenants/{tenant_id}/sync", 401, "refused"),  # the unknown key id sent
        (key_id, "auditco", "POST /api/tenants/{tenant_id}/sync/reset", 415, "refused"),  # the key is checked first
    ]
    assert all(r["at"] is not None for r in rows)
    with api_server.engine.connect() as conn:
        keys = [key, admin]
        for table in ("api_audit_log", "api_keys"):
            dump = " ".join(str(tuple(row)) for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
            assert not any(k in dump or k.split("_", 2)[2] in dump for k in keys), table
    log = api_server.log()
    assert "POST /api/tenants/auditco/sync" in log  # the access log is on, and the keys are still not in it
    assert not any(k.split("_", 2)[2] in log for k in keys)
    assert "ANONYMIZATION_KEY" not in log and "test-anonymization-key" not in log


def test_a_dagster_instance_sees_the_runs_the_api_queued(in_env, admin_key):
    """The API and the CLI share the one instance: a run queued over HTTP is the run `sync status` reports."""
    in_env.tenant("shared", 13001)
    with in_env.client(admin_key) as client:
        run_id = client.post("/api/tenants/shared/sync").json()["run_id"]
        client.post("/api/tenants/shared/sync/cancel")
    with DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
    assert run is not None and run.job_name == "sync_tenant" and run.tags["dagster/partition"] == "shared"


def test_a_long_initial_sync_is_seen_moving_in_the_api_and_sync_status_then_lands_in_history(
    in_env, monkeypatch, capsys
):
    """Progress is written while channels sync (not only when they finish): the API and `sync status` show a
    running channel with messages already stored, then the finished run lands in the history."""
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.05)], token=TEST_TOKEN, latency_ms=30) as emulator:
        sync_env(
            monkeypatch,
            emulator,
            SYNC_PROGRESS_INTERVAL="0.2",
            SYNC_MESSAGE_FETCH_SIZE="50",
            SYNC_CHANNEL_BATCH_SIZE="1",
            SYNC_MAX_CHANNEL_WORKERS="4",
            SYNC_WRITE_BATCH_MESSAGES="100",
        )
        in_env.tenant("liveco", emulator.guild_ids[0])
        _, key = in_env.key("liveco")
        outcome: dict = {}
        syncing = threading.Thread(target=lambda: outcome.update(result=materialize_tenant("liveco")))
        syncing.start()
        seen_running: list[dict] = []
        cli_saw_progress = False
        with in_env.client(key) as client:
            while syncing.is_alive():
                status = client.get("/api/tenants/liveco/sync/status").json()
                moving = [c for c in status["channels"] if c["status"] == "running" and c["messages"] > 0]
                if status["run"] and status["run"]["outcome"] == "running" and moving:
                    seen_running.append(status)
                    if not cli_saw_progress:
                        assert main(["sync", "status", "--tenant", "liveco"]) == 0
                        table = capsys.readouterr().out
                        cli_saw_progress = " running: " in table and "messages at" in table
                time.sleep(0.1)
            syncing.join()
            tenant = client.get("/api/tenants/liveco").json()
            history = client.get("/api/tenants/liveco/sync/history").json()
        truth = sum(emulator.client.ground_truth_counts(emulator.guild_ids[0]).values())
    assert outcome["result"].success
    assert seen_running, "no status showed a running channel with messages stored before the run ended"
    live = seen_running[-1]
    assert 0 < live["progress"]["messages"] < truth and live["progress"]["channels_running"] >= 1
    assert live["run"]["progress_at"] is not None
    assert cli_saw_progress
    [run] = history["runs"]
    assert run["outcome"] == "complete" and run["messages"] == truth and run["finished_at"] is not None
    assert tenant["onboarding"]["state"] == "complete" and tenant["last_sync"]["run_id"] == run["run_id"]
    logged = capsys.readouterr()
    metrics = [
        json.loads(line.split("sync-metrics ", 1)[1])
        for line in (logged.out + logged.err).splitlines()
        if "sync-metrics {" in line
    ]
    assert any(not m["final"] and m["messages"] > 0 for m in metrics) and metrics[-1]["final"]
    assert metrics[-1]["messages"] == truth and {"channels_per_minute", "rate_limit_hits_429"} <= set(metrics[-1])


def test_queueing_a_sync_without_a_reachable_webserver_is_refused_naming_the_setting(in_env, monkeypatch):
    """What the API answers as 503 `dagster_unavailable`: runs are queued through the webserver's GraphQL API."""
    in_env.tenant("nowebserver", 14001)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RunControlError, match="cannot reach the Dagster webserver .*DAGSTER_WEBSERVER_URL"):
        RunControl(Settings.from_env()).start_tenant_sync("nowebserver")
    assert tenant_runs("nowebserver") == []


def test_status_after_a_quiet_run_and_while_a_run_is_queued_lists_every_channel_with_its_state(in_env, monkeypatch):
    """A run with nothing new touches no channel; the status still shows where each channel of the tenant stands
    (checkpoint, last sync, status, why it is not synced), and the latest run's numbers only where it touched one."""
    with Emulator(
        guilds=[GuildSpec(seed=3, layout="uniform", channels=3, messages_per_channel=20)], token=TEST_TOKEN
    ) as emulator:
        sync_env(monkeypatch, emulator)
        in_env.tenant("quietco", emulator.guild_ids[0])
        _, key = in_env.key("quietco")
        guild = emulator.guild_ids[0]
        hidden = int(emulator.client.channel_by_name(guild, "channel-2")["id"])
        assert materialize_tenant("quietco").success
        truth = emulator.client.ground_truth_counts(guild)  # before the bot loses sight of a channel
        emulator.client.set_bot_access(hidden, view=False)
        assert materialize_tenant("quietco").success, "the quiet run: nothing new anywhere"
        with in_env.client(key) as client:
            quiet = client.get("/api/tenants/quietco/sync/status").json()
            queued_run = client.post("/api/tenants/quietco/sync").json()["run_id"]
            queued = client.get("/api/tenants/quietco/sync/status").json()
            client.post("/api/tenants/quietco/sync/cancel")
    with shared_engine(in_env.database_url).connect() as conn:
        quiet_run = conn.execute(
            sa.select(sync_runs.c.run_id)
            .where(sync_runs.c.tenant_id == "quietco")
            .order_by(sync_runs.c.started_at.desc())
            .limit(1)
        ).scalar_one()
        catalog = set(
            conn.execute(
                sa.select(channels.c.id).where(
                    channels.c.tenant_id == "quietco", channels.c.type.in_(sorted(MESSAGE_BEARING_TYPES))
                )
            ).scalars()
        )
    assert quiet["run"]["run_id"] == quiet_run and quiet["progress"]["channels_running"] == 0
    by_id = {int(c["id"]): c for c in quiet["channels"]}
    assert set(truth) <= catalog
    assert set(by_id) == catalog, "every message-bearing channel of the tenant, though the run touched none"
    for channel_id, channel in by_id.items():
        assert channel["last_synced_at"] is not None and channel["messages_stored"] == truth.get(channel_id, 0)
        if channel_id == hidden:
            assert channel["status"] == "skipped" and "View Channel" in channel["reason"]
        else:
            assert channel["status"] == "complete" and channel["reason"] is None
            assert (channel["last_message_id"] is not None) == (channel_id in truth)
        assert channel["run_status"] is None and channel["messages"] == 0, "the quiet run touched no channel"
    assert queued["run"]["run_id"] == queued_run and queued["run"]["status"] == "queued"
    assert {c["id"]: (c["status"], c["last_message_id"]) for c in queued["channels"]} == {
        c["id"]: (c["status"], c["last_message_id"]) for c in quiet["channels"]
    }
