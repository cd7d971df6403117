"""The product driven as a user drives it: daemon and webserver as processes, a tenant added by SQL, the CLI.

Starts `dagster-daemon run` and `dagster-webserver` on the test's database and an emulated Discord, inserts a
tenant row, waits through the GraphQL API for the sensor's initial sync, checks the copy against the emulator's
ground truth, posts new messages and syncs with `discord-sync sync start` (only they arrive), resets a channel
(its rows come back the same), and looks at the UI in headless Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from dagster_graphql import DagsterGraphQLClient

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY
from discord_sync_tests.fault_harness import REPO as REPO_ROOT
from discord_sync_tests.sync_harness import TEST_TOKEN, expected_message_ids, stored_message_ids

BIN = Path(sys.executable).parent
RUN_TIMEOUT = 240

RUNS_QUERY = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """The daemon and webserver processes of one test deployment, and a GraphQL client on the webserver."""

    def __init__(self, env: dict[str, str], logs: Path, port: int) -> None:
        self.env, self.logs, self.port = env, logs, port
        self.url = f"http://127.0.0.1:{port}"
        self.processes: list[subprocess.Popen] = []
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port)

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "w")
        self.processes.append(
            subprocess.Popen(
                command, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def wait_for_ui(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"webserver did not come up; see {self.logs}")

    def runs(self, tags: dict[str, str] | None = None, statuses: list[str] | None = None) -> list[dict]:
        """The runs with these tags (and in these statuses), newest first, read from the GraphQL API as any HTTP
        client would."""
        run_filter: dict[str, list] = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        if statuses:
            run_filter["statuses"] = statuses
        variables = {"filter": run_filter}
        response = requests.post(f"{self.url}/graphql", json={"query": RUNS_QUERY, "variables": variables}, timeout=30)
        response.raise_for_status()
        return response.json()["data"]["runsOrError"]["results"]

    def wait_for_run(self, tags: dict[str, str], timeout: float = RUN_TIMEOUT) -> dict:
        """The first run with these tags, once it has finished (found and followed through GraphQL)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs(tags)
            if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return runs[0]
            time.sleep(1)
        raise AssertionError(f"no finished run tagged {tags} within {timeout} s; see {self.logs}")

    def wait_until_idle(self, timeout: float = RUN_TIMEOUT) -> None:
        """Until no run is queued or running: an hourly tick may have started a batch that covers the tenant."""
        active = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.runs(statuses=active):
                return
            time.sleep(1)
        raise AssertionError(f"runs still active after {timeout} s; see {self.logs}")

    def wait_for_run_id(self, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.client.get_run_status(run_id).value
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not finish within {timeout} s; see {self.logs}")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(guilds=[GuildSpec(seed=1, scale=0.05)], token=TEST_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def deployment(database_url, emulator, tmp_path) -> Iterator[Deployment]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DAGSTER_HOME": str(home),
        "DAGSTER_WEBSERVER_URL": f"http://127.0.0.1:{port}",
        "DISCORD_API_BASE_URL": emulator.base_url,
        "DISCORD_BOT_TOKEN": TEST_TOKEN,
        "ANONYMIZATION_KEY": TEST_ANONYMIZATION_KEY,
    }
    deployment = Deployment(env, tmp_path, port)
    workspace = str(REPO_ROOT / "workspace.yaml")
    try:
        deployment.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        deployment.start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(deployment.port), "-w", workspace],
        )
        deployment.wait_for_ui()
        yield deployment
    finally:
        deployment.stop()


def cli(deployment: Deployment, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "discord-sync"), *args],
        env=deployment.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def submitted_run_id(output: str) -> str:
    match = re.search(r"run ([0-9a-f-]{36})", output)
    assert match, output
    return match.group(1)


def launched_backfill_id(output: str) -> str:
    match = re.search(r"launched as backfill (\w+)", output)
    assert match, output
    return match.group(1)


def channel_rows(engine: sa.Engine, tenant: str, channel_id: int) -> list[tuple]:
    """A channel's messages with their reactions and attachments, without the write timestamp."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT m.id, m.author_hash, m.content, m.created_at, m.edited_at, m.reply_to_id, m.type, "
                "  (SELECT array_agg(r.emoji_key || ':' || r.count ORDER BY r.emoji_key) FROM message_emoji_reactions r "
                "   WHERE r.tenant_id = m.tenant_id AND r.message_id = m.id), "
                "  (SELECT array_agg(a.id ORDER BY a.id) FROM message_attachments a "
                "   WHERE a.tenant_id = m.tenant_id AND a.message_id = m.id) "
                "FROM messages m WHERE m.tenant_id = :tenant AND m.channel_id = :channel ORDER BY m.id"
            ),
            {"tenant": tenant, "channel": channel_id},
        ).all()
    return [tuple(row) for row in rows]


def run_messages(engine: sa.Engine, run_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT coalesce(sum(messages), 0) FROM channel_sync_jobs WHERE run_id = :run"), {"run": run_id}
        ).scalar_one()


@pytest.mark.slow
def test_a_tenant_added_by_sql_is_synced_updated_and_reset_through_the_running_product(
    deployment, emulator, engine, tmp_path
):
    guild = emulator.guild_ids[0]
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO tenants (id, name, guild_id) VALUES ('acme', 'Acme', :guild)"), {"guild": guild}
        )

    initial = deployment.wait_for_run({"dagster/partition": "acme", "discord_sync/initial_sync": "true"})
    assert initial["status"] == "SUCCESS"
    assert stored_message_ids(engine, "acme") == expected_message_ids(emulator.client.ground_truth(guild))

    general = int(emulator.client.channel_by_name(guild, "all-shapes")["id"])
    new_ids = [int(emulator.client.add_message(general, f"new message {i}")["id"]) for i in range(3)]
    run_id = submitted_run_id(cli(deployment, "sync", "start", "--tenant", "acme"))
    assert deployment.wait_for_run_id(run_id) == "SUCCESS"
    assert stored_message_ids(engine, "acme") == expected_message_ids(emulator.client.ground_truth(guild))
    assert run_messages(engine, run_id) == len(new_ids)  # only the new messages were fetched and written

    before = channel_rows(engine, "acme", general)
    backfill_id = launched_backfill_id(
        cli(deployment, "sync", "reset", "--tenant", "acme", "--channel", str(general), "--yes")
    )
    reset = deployment.wait_for_run({"dagster/backfill": backfill_id})
    assert reset["status"] == "SUCCESS"
    assert {"key": "discord_sync/reset_channel", "value": str(general)} in reset["tags"]
    assert run_messages(engine, reset["runId"]) == len(before)
    assert channel_rows(engine, "acme", general) == before

    check_ui_in_chromium(deployment, tmp_path)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def check_ui_in_chromium(deployment: Deployment, tmp_path: Path) -> None:
    """The UI lists the tenant partition and the latest materialization of `messages`; saves a screenshot.

    Without Chromium the check cannot run: in CI (`CI=true`, where `scripts/test.sh` installs it) that fails the
    test; on a developer's machine the sync's assertions above still count and a warning says the UI went unchecked.
    """
    browser = chromium()
    if browser is None:
        missing = "no Chromium on this machine (apt-get install chromium): the UI check did not run"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{missing}; CI must install it (scripts/test.sh does)")
        warnings.warn(missing, stacklevel=2)
        return
    page = f"{deployment.url}/assets/messages?view=partitions&partition=acme"
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--virtual-time-budget=20000",
    ]
    deployment.wait_until_idle()
    statuses: list[str] = []
    for _attempt in range(3):  # a loaded machine may render the page after the virtual-time budget
        dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
        statuses = re.findall(r"(?:Materialized|Failed|Missing|In progress) \(\d+\)", dom)
        if "acme" in dom and "Materialized (1)" in statuses:
            break
        deployment.wait_until_idle()
    screenshot = tmp_path / "ui-messages-partitions.png"
    subprocess.run([*common, f"--screenshot={screenshot}", page], capture_output=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 0
    assert "acme" in dom, f"tenant partition not shown; screenshot at {screenshot}"
    assert "Materialized (1)" in statuses, f"the partition shows {statuses}, not materialized; see {screenshot}"
