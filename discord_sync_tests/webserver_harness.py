"""A real Dagster webserver in its own process: what the `discord-sync sync` commands and the HTTP API launch,
back-fill and cancel runs through (Dagster's GraphQL API)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from discord_sync.store.database import dagster_postgres_environment

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_webserver(home: Path, env: dict[str, str]) -> Iterator[str]:
    """`dagster-webserver -m discord_sync.definitions` on a free port with `env`; yields its URL once it answers."""
    port = free_port()
    log = open(home / "webserver.log", "w")
    # dagster.yaml reads the database as DAGSTER_PG_*, which the `discord-sync` commands derive from DATABASE_URL.
    storage = dagster_postgres_environment(env["DATABASE_URL"])
    process = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-m", "discord_sync.definitions"],
        env={**os.environ, **storage, **env, "DAGSTER_HOME": str(home)},
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"the webserver exited; see {home / 'webserver.log'}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"the webserver did not answer; see {home / 'webserver.log'}"
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
