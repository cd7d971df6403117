"""The Dagster deployment the benchmarks run through: a temporary `DAGSTER_HOME` holding the repository's
`dagster.yaml` (PostgreSQL storage, the run queue, lanes), and the real `dagster-daemon` and `dagster-webserver`
as child processes, as on a machine that runs the product.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = str(REPO_ROOT / "workspace.yaml")
BIN = Path(sys.executable).parent
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Wait until `url` answers, failing early if the process serving it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """This process's environment set to `env` for the block (to open the instance as the daemon does)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def dagster_home(prefix: str, config: str | None = None) -> Iterator[str]:
    """A temporary `DAGSTER_HOME` with `config` as its `dagster.yaml` (default: the repository's)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as home:
        Path(home, "dagster.yaml").write_text(config or (REPO_ROOT / "dagster.yaml").read_text())
        yield home


def stop_hourly_schedule(env: dict[str, str]) -> None:
    """The benchmark is the hourly tick: a real tick of the schedule during it would add runs."""
    subprocess.run(
        [str(BIN / "dagster"), "schedule", "stop", "hourly_sync_schedule", "-w", WORKSPACE],
        env=env,
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )


@contextmanager
def daemon_and_webserver(env: dict[str, str], home: str) -> Iterator[str]:
    """Run `dagster-daemon` and `dagster-webserver` on `env` (their output in `home`/daemon.log) until the block
    ends; yields the webserver's URL, also set as `env["DAGSTER_WEBSERVER_URL"]` for the CLI and API."""
    env["DAGSTER_WEBSERVER_URL"] = url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    commands = (
        [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE],
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", port, "-w", WORKSPACE],
    )
    with open(Path(home, "daemon.log"), "w") as log:
        processes = [
            subprocess.Popen(
                command, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            for command in commands
        ]
        try:
            wait_for(f"{url}/server_info", processes[1])
            yield url
        finally:
            for process in processes:
                os.killpg(process.pid, 2)
                process.wait(timeout=60)
