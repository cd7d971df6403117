"""When Dagster cannot plan a run, or the database goes away under a running API, callers get the one error shape
in plain words (503, or 500) and nothing of the inside: no stack trace, SQL, file path, URL or password; the
operators find the reason in the API's log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from discord_sync.store.api_keys import create_key
from discord_sync.store.database import create_db_engine
from discord_sync_tests.api_harness import free_port, wait_until_healthy
from discord_sync_tests.databases import TEMPLATE_DB, TEST_ANONYMIZATION_KEY
from discord_sync_tests.fault_harness import REPO as REPO_ROOT

pytestmark = pytest.mark.e2e

PASSWORD = "pw-that-must-never-show"
INSIDE = ("Traceback", "SELECT", "api_keys", ".py", "postgresql", PASSWORD, "127.0.0.1:5432", "psycopg")


def test_an_unreachable_dagster_answers_503_and_a_lost_database_500_in_plain_words_without_internals(
    pg_server_url, template_database, tmp_path
):
    name = f"discord_sync_api_lost_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    # The test server trusts local connections, so a password in the URL is accepted and must stay hidden.
    url = make_url(pg_server_url).set(database=name, password=PASSWORD).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        _, key = create_key(conn, tenant_id=None, name="lost")
    engine.dispose()
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    port = free_port()
    log_path = tmp_path / "api.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DAGSTER_HOME": str(tmp_path),
        "ANONYMIZATION_KEY": TEST_ANONYMIZATION_KEY,
    }
    # No webserver listens there: the run cannot be queued (runs are launched through its GraphQL API).
    env["DAGSTER_WEBSERVER_URL"] = f"http://127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).with_name("discord-sync")), "api", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, log_path)
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(f"{base}/api/tenants", headers=headers, json={"id": "acme", "guild_id": "1"}, timeout=30)
        assert created.status_code == 201, created.text
        unplanned = httpx.post(f"{base}/api/tenants/acme/sync", headers=headers, timeout=120)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        answers = [
            httpx.get(f"{base}/healthz", timeout=30),
            httpx.get(f"{base}/api/tenants/acme", headers=headers, timeout=30),
            httpx.post(f"{base}/api/tenants", headers=headers, json={"id": "other", "guild_id": "2"}, timeout=30),
        ]
    finally:
        process.terminate()
        process.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    health, read, write = answers
    assert unplanned.status_code == 503 and unplanned.json()["error"]["code"] == "dagster_unavailable"
    assert not any(word in unplanned.text for word in (*INSIDE, "DAGSTER_WEBSERVER_URL"))
    assert health.status_code == 503 and health.json() == {"status": "down", "database": False, "daemon": False}
    for response in (read, write):
        assert response.status_code == 500
        assert response.json() == {
            "error": {
                "code": "internal_error",
                "message": "something went wrong on our side; the operators can see it in the log",
            }
        }
        assert not any(word in response.text for word in INSIDE)
    log = log_path.read_text()
    assert "unexpected error on GET /api/tenants/acme" in log  # the operators do see it
    assert "cannot reach the Dagster webserver" in log and "DAGSTER_WEBSERVER_URL" in log
    assert PASSWORD not in log and key.split("_", 2)[2] not in log
