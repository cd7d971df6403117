"""A plain, non-editable install of the wheel (what a container image does) migrates, adds a tenant and syncs it.

The wheel is built from this checkout and installed with the locked dependencies (requirements/runtime.txt, as the
image installs them) into a fresh virtual environment (pip's cache makes the second time quick; only PyPI is
reached). Everything then runs from a folder outside the checkout, with that environment's console scripts, so
nothing can come from the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from discord_sync.emulator import Emulator, GuildSpec
from discord_sync.store.database import dagster_postgres_environment, shared_engine
from discord_sync_tests.databases import TEST_ANONYMIZATION_KEY, new_database
from discord_sync_tests.fault_harness import REPO
from discord_sync_tests.sync_harness import TEST_TOKEN, expected_message_ids, stored_message_ids

pytestmark = pytest.mark.e2e

INSTALL_TIMEOUT = 900


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh virtual environment holding the wheel of this checkout and its dependencies."""
    root = tmp_path_factory.mktemp("install")
    # Built from a copy of what the wheel needs: setuptools keeps a build/ folder in the source tree, whose stale
    # files would otherwise leak into the wheel (and the checkout).
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("discord_sync", "migrations"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"), str(source)], cwd=root)
    [wheel] = (root / "dist").glob("discord_sync-*.whl")
    run([sys.executable, "-m", "venv", str(root / "venv")], cwd=root)
    bin_dir = root / "venv" / "bin"
    # As the image installs it: the locked dependencies with their hashes, then the wheel alone.
    lock = REPO / "requirements" / "runtime.txt"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip, "--require-hashes", "--no-deps", "-r", str(lock)], cwd=root, timeout=INSTALL_TIMEOUT)
    run([*pip, "--no-deps", str(wheel)], cwd=root, timeout=INSTALL_TIMEOUT)
    run([str(bin_dir / "python"), "-m", "pip", "check"], cwd=root)
    return bin_dir


@pytest.fixture
def blank_database(pg_server_url: str) -> Iterator[str]:
    """An empty database (no tables yet): the install's own `migrate` must create them."""
    with new_database(pg_server_url, "install", migrated=False) as url:
        yield url


def test_a_wheel_installed_elsewhere_migrates_adds_a_tenant_and_syncs_it(installed, blank_database, tmp_path):
    work = tmp_path / "elsewhere"
    home = work / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    python = str(installed / "python")
    located = run([python, "-c", "import discord_sync; print(discord_sync.__file__)"], cwd=work)
    assert "site-packages" in located and str(REPO) not in located

    with Emulator(guilds=[GuildSpec(seed=5, scale=0.02)], token=TEST_TOKEN) as emulator:
        guild = emulator.guild_ids[0]
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "DAGSTER_", "DISCORD_", "SYNC_", "PYTHONPATH", "VIRTUAL_ENV"))
        }
        env.update(
            DATABASE_URL=blank_database,
            DAGSTER_HOME=str(home),
            DISCORD_BOT_TOKEN=TEST_TOKEN,
            ANONYMIZATION_KEY=TEST_ANONYMIZATION_KEY,
            DISCORD_API_BASE_URL=emulator.base_url,
            PATH=f"{installed}{os.pathsep}{env.get('PATH', '')}",
        )
        assert "database schema is up to date" in run([str(installed / "discord-sync"), "migrate"], cwd=work, env=env)
        run([str(installed / "discord-sync"), "tenant", "add", "acme", "--guild", str(guild)], cwd=work, env=env)
        # What the new-tenant sensor would do on its first tick (no daemon runs here).
        add_partition = (
            "import dagster as dg\nwith dg.DagsterInstance.get() as i: i.add_dynamic_partitions('tenants', ['acme'])"
        )
        run([python, "-c", add_partition], cwd=work, env={**env, **dagster_postgres_environment(blank_database)})
        # As the README says: `discord-sync dagster` hands Dagster the database as dagster.yaml reads it.
        run(
            [
                str(installed / "discord-sync"),
                "dagster",
                "asset",
                "materialize",
                "-m",
                "discord_sync.definitions",
                "--select",
                "channels,messages,reactions,attachments",
                "--partition",
                "acme",
            ],
            cwd=work,
            env=env,
        )
        truth = expected_message_ids(emulator.client.ground_truth(guild))

    stored = stored_message_ids(shared_engine(blank_database), "acme")
    assert sum(map(len, stored.values())) > 100
    assert stored == truth
