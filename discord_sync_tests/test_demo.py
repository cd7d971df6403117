"""`discord-sync demo` brings the product up on 127.0.0.1 and Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ui(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the demo exited before its UI came up"
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the Dagster UI did not answer on {url} within {timeout} s")


def demo_key(lines: list[str], process: subprocess.Popen, timeout: float = 60) -> str:
    """The admin key the demo printed (its output is read by a thread into `lines`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if line.startswith("demo admin key: "):
                return line.removeprefix("demo admin key: ").strip()
        assert process.poll() is None, "the demo exited before it printed its key"
        time.sleep(0.2)
    raise AssertionError("the demo printed no admin key")


def api_answers(url: str, key: str, timeout: float = 60) -> dict:
    """GET an API route with the key once the API is up; its JSON."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            raise
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the API did not answer on {url} within {timeout} s")


@pytest.mark.slow
def test_demo_serves_the_ui_and_the_api_on_localhost_with_a_demo_tenant_and_key_and_stops_cleanly(
    database_url, engine, tmp_path
):
    # As scripts/demo.sh runs it: no DAGSTER_HOME, so the demo writes its own instance settings in its home.
    port, api_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DISCORD_SYNC_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    env.pop("DISCORD_BOT_TOKEN", None)
    env.pop("ANONYMIZATION_KEY", None)
    command = [
        str(Path(sys.executable).with_name("discord-sync")),
        "demo",
        "--port",
        str(port),
        "--api-port",
        str(api_port),
    ]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for_ui(f"http://127.0.0.1:{port}", process)
        key = demo_key(lines, process)
        tenant = api_answers(f"http://127.0.0.1:{api_port}/api/tenants/demo", key)
        assert tenant["id"] == "demo" and tenant["onboarding"]["state"] in ("pending", "syncing", "complete")
        api_listeners = [c for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == api_port]
        assert api_listeners and all(c.laddr.ip == "127.0.0.1" for c in api_listeners)
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert any("dagster" in " ".join(p.cmdline()) for p in descendants)
        assert any(" api " in f" {' '.join(p.cmdline())} " for p in descendants)
        listeners = [c for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port]
        assert listeners and all(c.laddr.ip == "127.0.0.1" for c in listeners)
        with engine.connect() as conn:
            guild = conn.execute(sa.text("SELECT guild_id FROM tenants WHERE id = 'demo'")).scalar()
            dagster_tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'dagster' AND tablename = 'runs'")
            ).scalar()
        assert guild is not None
        assert dagster_tables == 1, "Dagster's state is in the demo's PostgreSQL, schema dagster"
        assert (tmp_path / "home" / "dagster_home" / "dagster.yaml").exists()

        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines)
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output and "Ctrl-C" in output
    assert "warning: ANONYMIZATION_KEY is unset; using a fixed demo key" in output
    gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], f"left behind: {[p.pid for p in alive]}"
    # The demo did not start the database it was given, so it leaves it running.
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
