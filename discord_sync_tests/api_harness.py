"""The API as a user meets it: `discord-sync api` in its own process on a free port, over real HTTP, on a real
database and a real Dagster instance (no daemon: queued runs stay queued, which the tests rely on).

One server per test module (it takes seconds to start); each test uses its own tenants. A module sets the server's
own settings in `API_SERVER_SETTINGS`; by default the throttle on bad keys is set out of reach, since every test
calls from 127.0.0.1 and many send bad keys on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from discord_sync.store.api_keys import create_key
from discord_sync.store.database import dagster_postgres_environment, shared_engine
from discord_sync.store.tenants import add_tenant
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY, new_database
from discord_sync_tests.fault_harness import REPO as REPO_ROOT
from discord_sync_tests.sync_harness import TEST_TOKEN
from discord_sync_tests.webserver_harness import free_port, running_webserver

DEFAULT_SERVER_SETTINGS = {"API_AUTH_FAILURE_LIMIT": "100000"}


@dataclass
class ApiServer:
    """A running `discord-sync api` and what a test needs to talk to it and to look behind it."""

    base_url: str
    database_url: str
    dagster_home: Path
    log_path: Path
    engine: sa.Engine
    webserver_url: str = ""
    settings: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=120)

    def key(self, tenant_id: str | None = None, name: str = "test") -> tuple[str, str]:
        """A new key (admin when `tenant_id` is None): its id and the key."""
        with self.engine.begin() as conn:
            stored, key = create_key(conn, tenant_id=tenant_id, name=name)
        return stored.id, key

    def tenant(self, tenant_id: str, guild_id: int) -> str:
        with self.engine.begin() as conn:
            add_tenant(conn, tenant_id, guild_id)
        return tenant_id

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def environment(self) -> dict[str, str]:
        """The environment the server runs with (for in-process work on the same database and instance)."""
        return {
            "DATABASE_URL": self.database_url,
            "DAGSTER_HOME": str(self.dagster_home),
            "DISCORD_BOT_TOKEN": TEST_TOKEN,
            "ANONYMIZATION_KEY": TEST_ANONYMIZATION_KEY,
            "DAGSTER_WEBSERVER_URL": self.webserver_url,
            **dagster_postgres_environment(self.database_url),
            **self.settings,
        }


@pytest.fixture(scope="module")
def api_database(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh migrated database for one test module's API server."""
    with new_database(pg_server_url, "api") as url:
        yield url


def wait_until_healthy(base_url: str, process: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the API exited before it answered:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code in (200, 503):
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"the API did not answer on {base_url} within {timeout} s")


@contextmanager
def running_api(server: ApiServer, port: int, log_path: Path, environment: dict[str, str]) -> Iterator[None]:
    """`discord-sync api --port <port>` with `environment`, until the block ends."""
    env = {**os.environ, **environment}
    command = [str(Path(sys.executable).with_name("discord-sync")), "api", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, cwd=server.dagster_home, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log_path)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def api_server(
    api_database: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ApiServer]:
    """`discord-sync api --port <free>` with the deployment's `dagster.yaml` on the module's database."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    log_path = home / "api.log"
    server = ApiServer(
        base_url=f"http://127.0.0.1:{port}",
        database_url=api_database,
        dagster_home=home,
        log_path=log_path,
        engine=shared_engine(api_database),
        settings=getattr(request.module, "API_SERVER_SETTINGS", DEFAULT_SERVER_SETTINGS),
    )
    with running_webserver(home, server.environment()) as webserver_url:
        server.webserver_url = webserver_url
        with running_api(server, port, log_path, server.environment()):
            yield server


@pytest.fixture(scope="module")
def admin_key(api_server: ApiServer) -> str:
    return api_server.key(name="module admin")[1]
