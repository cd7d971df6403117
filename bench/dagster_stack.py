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
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psutil

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


# What each process of a deployment is, from its command line: the first role whose marker it contains.
_ROLES = (
    ("code server", ("api grpc",)),
    ("daemon", ("dagster-daemon",)),
    ("webserver", ("dagster-webserver",)),
    ("PostgreSQL", ("postgres",)),
)


class CpuByRole:
    """CPU seconds the machine's processes spent while the block ran, summed by role (run workers, daemon, code
    server, webserver, emulator, PostgreSQL, the rest): which part of a deployment a cycle's time went to.

    Samples every process twice a second and keeps each one's last CPU time, so a process that lives a short while
    counts too (up to half a second of its end is lost)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._start: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    @staticmethod
    def _role(process: psutil.Process) -> str:
        command = " ".join(process.cmdline())
        if "multiprocessing.spawn" in command:
            # A code server starts each run worker this way (DefaultRunLauncher); the benchmark, its emulator.
            parent = process.parent()
            if parent is not None and "api grpc" in " ".join(parent.cmdline()):
                return "run workers"
            if parent is not None and parent.pid == os.getpid():
                return "emulator"
        return next((role for role, markers in _ROLES if any(m in command for m in markers)), "the rest")

    def _sample(self, first: bool = False) -> None:
        for process in psutil.process_iter():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    seconds = times.user + times.system
                    if first:
                        self._start[process.pid] = seconds
                    else:
                        known = self._last.get(process.pid)
                        self._last[process.pid] = (known[0] if known else self._role(process), seconds)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> CpuByRole:
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def seconds(self) -> dict[str, float]:
        """CPU seconds by role over the block, largest first."""
        totals: dict[str, float] = {}
        for pid, (role, seconds) in self._last.items():
            totals[role] = totals.get(role, 0.0) + seconds - self._start.get(pid, 0.0)
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def describe(self, wall_seconds: float) -> str:
        """'CPU s by role (share of 2 cores' wall)', e.g. 'run workers 310 s, PostgreSQL 240 s, ...'."""
        capacity = wall_seconds * (os.cpu_count() or 1)
        return ", ".join(f"{role} {s:.0f} s" for role, s in self.seconds().items() if s >= 0.5) + (
            f" (of {capacity:.0f} CPU-s in the wall time on {os.cpu_count()} cores)"
        )
