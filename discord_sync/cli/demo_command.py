"""`discord-sync demo`: the whole product on one machine, against the bundled Discord emulator.

Embedded PostgreSQL (unless `DATABASE_URL` is set), the emulator with one generated guild, a `demo` tenant for it,
`dagster dev` (webserver and daemon) on 127.0.0.1, where the new-tenant sensor launches the initial sync, and the
HTTP API beside it with a fresh demo admin key (printed; the previous demo keys are revoked).
Ctrl-C stops everything it started: `dagster dev` and the API run in their own process groups, which are
interrupted, then killed if they linger; the embedded server is stopped only if the demo started it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from discord_sync.settings import Settings
from discord_sync.store.database import export_dagster_postgres_environment
from discord_sync.store.embedded_postgres import embedded_database_url, embedded_server_running, stop_embedded_server
from discord_sync.store.migrate import migrate

DEMO_TENANT = "demo"
# Keys the user hashes of the demo only; a real deployment sets its own secret.
DEMO_ANONYMIZATION_KEY = "demo-only-anonymization-key-do-not-use-in-production"
SHUTDOWN_GRACE_SECONDS = 30
# Written when DAGSTER_HOME is unset (an installed package has no checkout beside it): the repository's
# `dagster.yaml`, reduced to what a demo needs. The connection comes from the DAGSTER_PG_* variables the demo
# exports, so no password is ever written to the file.
DEMO_DAGSTER_YAML = """\
# Written by `discord-sync demo` because DAGSTER_HOME was unset: Dagster's state lives in the demo's PostgreSQL.
storage:
  postgres:
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
      scheme: postgresql+psycopg2
      params:
        options: "-csearch_path=dagster"
python_logs:
  managed_python_loggers:
    - discord_sync
    - discord
  python_log_level: INFO
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: "dagster/partition"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
      - key: "discord_sync/lane"
        value: "bulk"
        limit: 2
telemetry:
  enabled: false
"""
DEMO_KEY_NAME = "demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the product on a demo guild served by the emulator")
    parser.add_argument("--port", type=int, default=3000, help="port of the Dagster UI on 127.0.0.1")
    parser.add_argument("--emulator-port", type=int, default=0, help="port of the emulator (default: a free one)")
    parser.add_argument("--api-port", type=int, default=8080, help="port of the HTTP API on 127.0.0.1")
    parser.set_defaults(handler=run_demo)


def _demo_dagster_home(settings: Settings, database_url: str) -> None:
    """Without `DAGSTER_HOME`, write the demo's own instance settings and point every child process at them."""
    export_dagster_postgres_environment(database_url)
    if os.environ.get("DAGSTER_HOME"):
        return
    home = Path(settings.discord_sync_home).resolve() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DEMO_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    print(f"Dagster instance settings of the demo: {home / 'dagster.yaml'}", flush=True)


def _demo_environment() -> None:
    """Fill in the settings a demo needs, without overriding what the operator set."""
    if not os.environ.get("ANONYMIZATION_KEY"):
        os.environ["ANONYMIZATION_KEY"] = DEMO_ANONYMIZATION_KEY
        print(
            "warning: ANONYMIZATION_KEY is unset; using a fixed demo key. Demo data only: a real deployment "
            "must set its own random secret.",
            flush=True,
        )
    if not os.environ.get("DISCORD_BOT_TOKEN"):
        from discord_sync.emulator.runner import DEFAULT_TOKEN

        os.environ["DISCORD_BOT_TOKEN"] = DEFAULT_TOKEN


def _ensure_demo_tenant(database_url: str, guild_id: int) -> None:
    from discord_sync.store.database import shared_engine
    from discord_sync.store.tenants import TenantError, add_tenant, get_tenant

    with shared_engine(database_url).begin() as conn:
        try:
            tenant = get_tenant(conn, DEMO_TENANT)
        except TenantError:
            add_tenant(conn, DEMO_TENANT, guild_id, "Demo guild (emulator)")
            print(f"added tenant {DEMO_TENANT} for the emulator's guild {guild_id}", flush=True)
            return
    if tenant.guild_id != guild_id:
        print(
            f"warning: tenant {DEMO_TENANT} exists for guild {tenant.guild_id}, not the emulator's {guild_id}; "
            f"remove it (`discord-sync tenant remove {DEMO_TENANT}`) to demo a fresh sync",
            flush=True,
        )
    else:
        print(
            f"tenant {DEMO_TENANT} (guild {guild_id}) already exists; the hourly schedule keeps it in sync", flush=True
        )


def _demo_admin_key(database_url: str) -> str:
    """A new admin key for the demo; earlier demo keys are revoked, so only the one printed last works."""
    from discord_sync.store.api_keys import create_key, list_keys, revoke_key
    from discord_sync.store.database import shared_engine

    with shared_engine(database_url).begin() as conn:
        for key in list_keys(conn):
            if key.name == DEMO_KEY_NAME and key.revoked_at is None:
                revoke_key(conn, key.id)
        return create_key(conn, tenant_id=None, name=DEMO_KEY_NAME)[1]


def _start_api(port: int) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("discord-sync")), "api", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, start_new_session=True)


def _stop_process_group(process: subprocess.Popen, name: str = "dagster dev") -> None:
    """Interrupt a child like a Ctrl-C would, then kill whatever is left of its process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", flush=True)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    started_postgres = not settings.database_url and not embedded_server_running(settings)
    database_url = settings.database_url or embedded_database_url(settings)
    # Every child process (webserver, daemon, code server, run workers) uses this one server.
    os.environ["DATABASE_URL"] = database_url
    # Ctrl-C and a plain `kill` both stop everything; SIGINT is re-armed because a shell that starts the demo in
    # the background hands it over ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _demo_environment()
        _demo_dagster_home(settings, database_url)
        migrate(database_url)
        print("database schema is up to date", flush=True)
        from discord_sync.emulator import Emulator, GuildSpec

        with Emulator(
            guilds=[GuildSpec(seed=1)], token=os.environ["DISCORD_BOT_TOKEN"], port=args.emulator_port
        ) as emulator:
            os.environ["DISCORD_API_BASE_URL"] = emulator.base_url
            print(f"Discord emulator serving {emulator.base_url}", flush=True)
            _ensure_demo_tenant(database_url, emulator.guild_ids[0])
            key = _demo_admin_key(database_url)
            api = _start_api(args.api_port)
            print(
                f"\nHTTP API: http://127.0.0.1:{args.api_port}/api/docs  (demo admin key below; e.g.\n"
                f"  curl -H 'Authorization: Bearer <key>' http://127.0.0.1:{args.api_port}/api/tenants/{DEMO_TENANT}/sync/status)\n"
                f"demo admin key: {key}",
                flush=True,
            )
            try:
                return _run_dagster_dev(args.port)
            finally:
                _stop_process_group(api, "the API")
    except KeyboardInterrupt:
        return 0
    finally:
        if started_postgres:
            print("stopping the embedded PostgreSQL the demo started", flush=True)
            stop_embedded_server(settings)


def _run_dagster_dev(port: int) -> int:
    dagster = Path(sys.executable).with_name("dagster")
    # The code location by module, not a workspace.yaml beside the package: an installed product has none.
    command = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "discord_sync.definitions"]
    process = subprocess.Popen(command, start_new_session=True)
    print(
        f"\nDagster UI: http://127.0.0.1:{port}  (tenant {DEMO_TENANT}: the new-tenant sensor starts its first sync "
        f"within ~30 s; watch it under Runs)\nStop everything with Ctrl-C.\n",
        flush=True,
    )
    try:
        while True:
            # Short waits, not one blocking wait: a signal caught by the emulator's thread only reaches Python
            # when the main thread next runs, and a blocking waitpid would never return to let it.
            try:
                return process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
    except KeyboardInterrupt:
        print("\nstopping dagster dev ...", flush=True)
        return 0
    finally:
        _stop_process_group(process)
