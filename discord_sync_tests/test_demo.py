"""`discord-sync demo` brings the product up on 127.0.0.1 and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


@pytest.mark.slow
def test_demo_serves_the_ui_on_localhost_with_a_demo_tenant_and_stops_cleanly(database_url, engine, tmp_path):
    # As scripts/demo.sh runs it: no DAGSTER_HOME, so the demo writes its own instance settings in its home.
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DISCORD_SYNC_HOME": str(tmp_path / "home")}
    env.pop("DAGSTER_HOME", None)
    env.pop("DISCORD_BOT_TOKEN", None)
    env.pop("ANONYMIZATION_KEY", None)
    command = [str(Path(sys.executable).with_name("discord-sync")), "demo", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_ui(f"http://127.0.0.1:{port}", process)
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert any("dagster" in " ".join(p.cmdline()) for p in descendants)
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
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output and "Ctrl-C" in output
    assert "warning: ANONYMIZATION_KEY is unset; using a fixed demo key" in output
    gone, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], f"left behind: {[p.pid for p in alive]}"
    # The demo did not start the database it was given, so it leaves it running.
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
