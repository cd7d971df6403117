"""A multi-machine Dagster deployment as separate local processes: the user-code gRPC server, the webserver and
the daemon, each started as its own command against one PostgreSQL, like the containers of docker-compose.yml.

The workspace file points the webserver and the daemon at the code server over gRPC (the deployment shape of
`deploy/helm/values.yaml` and `docker-compose.yml`), so they never import the product's code themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from dagster_graphql import DagsterGraphQLClient

from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY
from discord_sync_tests.fault_harness import REPO as REPO_ROOT
from discord_sync_tests.sync_harness import TEST_TOKEN

BIN = Path(sys.executable).parent
LOCATION = "discord-sync"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def grpc_workspace(port: int) -> str:
    """A workspace.yaml that loads the code location from a running gRPC server, not from a module."""
    return f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n      location_name: {LOCATION}\n"


class Topology:
    """The processes of one deployment, their logs in `logs/`, and a GraphQL client on the webserver."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.code_server_port, self.webserver_port, self.api_port = free_port(), free_port(), free_port()
        self.workspace = logs / "workspace.yaml"
        self.workspace.write_text(grpc_workspace(self.code_server_port))
        self.processes: dict[str, subprocess.Popen] = {}
        self.api_url = ""
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.webserver_port)

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        """Start one process in its own session (a container of its own), output to `logs/<name>.log`."""
        log = open(self.logs / f"{name}.log", "a")
        process = subprocess.Popen(
            command, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def start_code_server(self) -> None:
        self.start(
            "code-server",
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-m",
                "discord_sync.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.code_server_port),
                "--location-name",
                LOCATION,
            ],
        )
        self._wait("code server", self._code_server_answers)

    def start_webserver_and_daemon(self) -> None:
        workspace = str(self.workspace)
        self.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        self.start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.webserver_port), "-w", workspace],
        )
        self._wait("webserver", self._webserver_answers)

    def start_api(self) -> str:
        """`discord-sync api` beside the webserver (it queues runs through it); returns its base URL."""
        self.env["DAGSTER_WEBSERVER_URL"] = f"http://127.0.0.1:{self.webserver_port}"
        self.start("api", [str(BIN / "discord-sync"), "api", "--host", "127.0.0.1", "--port", str(self.api_port)])
        base = f"http://127.0.0.1:{self.api_port}"
        self._wait("API", lambda: _answers(f"{base}/healthz"))
        return base

    def kill_code_server(self) -> list[int]:
        """SIGKILL the code server and the gRPC server it spawned; return the run workers left running.

        In a container deployment each run is a container (DockerRunLauncher) or pod (K8sRunLauncher) of its own,
        so losing the code server does not touch a run in flight. Here run workers are the gRPC server's child
        processes: they are left alone, as a run container would be.
        """
        server = psutil.Process(self.processes["code-server"].pid)
        descendants = server.children(recursive=True)
        runs = [p for p in descendants if _is_run_worker(p)]
        servers = [server, *(p for p in descendants if p not in runs and not _is_descendant_of_any(p, runs))]
        for process in servers:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.processes.pop("code-server").wait(timeout=30)
        return [p.pid for p in runs]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST a query to the webserver's public GraphQL endpoint; its `data`."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.webserver_port}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def _code_server_answers(self) -> bool:
        probe = subprocess.run(
            [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(self.code_server_port), "-h", "127.0.0.1"],
            capture_output=True,
            env=self.env,
        )
        return probe.returncode == 0

    def _webserver_answers(self) -> bool:
        return _answers(f"http://127.0.0.1:{self.webserver_port}/server_info")

    def _wait(self, what: str, ready, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.5)
        raise AssertionError(f"the {what} did not come up within {timeout} s; see {self.logs}")


def _answers(url: str) -> bool:
    """Whether `url` answers at all (any HTTP status): the process behind it is up."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _is_run_worker(process: psutil.Process) -> bool:
    """A run worker is a multiprocessing child started by the gRPC server's StartRun."""
    try:
        return "spawn_main" in " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return False


def _is_descendant_of_any(process: psutil.Process, ancestors: list[psutil.Process]) -> bool:
    try:
        parents = {p.pid for p in process.parents()}
    except psutil.NoSuchProcess:
        return False
    return any(a.pid in parents for a in ancestors)


@contextmanager
def running_topology(tmp_path: Path, discord_base_url: str, **extra_env: str) -> Iterator[Topology]:
    """A deployment on this test's database (`tmp_path`/dagster_home holding the repository's dagster.yaml): the
    product's environment pointed at the emulator, plus `extra_env`, and the code server, webserver, daemon and
    API running until the block ends."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,  # DATABASE_URL and the DAGSTER_PG_* naming the same database (conftest)
        "DAGSTER_HOME": str(home),
        "DISCORD_API_BASE_URL": discord_base_url,
        "DISCORD_BOT_TOKEN": TEST_TOKEN,
        "ANONYMIZATION_KEY": TEST_ANONYMIZATION_KEY,
        **extra_env,
    }
    topology = Topology(env, tmp_path)
    try:
        topology.start_code_server()
        topology.start_webserver_and_daemon()
        topology.api_url = topology.start_api()
        yield topology
    finally:
        topology.stop()
