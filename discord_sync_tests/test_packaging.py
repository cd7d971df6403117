"""What a wheel ships: every package of the source tree, the Alembic migrations included, and the dependencies."""

from __future__ import annotations

import tomllib

import pytest

from discord_sync_tests.fault_harness import REPO

pytestmark = pytest.mark.unit

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_wheel_lists_every_package_of_the_source_tree_and_the_migrations():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "discord_sync").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapped == {"discord_sync.migrations": "migrations"}
    assert listed - on_disk == {"discord_sync.migrations", "discord_sync.migrations.versions"}
    assert (REPO / "migrations" / "__init__.py").exists() and (
        REPO / "migrations" / "versions" / "__init__.py"
    ).exists()


def test_the_embedded_postgres_is_an_extra_not_a_dependency():
    dependencies = " ".join(PYPROJECT["project"]["dependencies"])
    assert "pgserver" not in dependencies
    assert any(d.startswith("pgserver") for d in PYPROJECT["project"]["optional-dependencies"]["demo"])
