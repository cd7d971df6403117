"""Test databases on a real PostgreSQL server: the session's migrated template, a fresh database copied from it,
an embedded server's folder, and the anonymization key the tests' databases are written with.

The fixtures in `conftest.py` are built from these; a test module that needs its own database (one per module, or
one per process it starts) imports them from here.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from discord_sync.store.database import create_db_engine, shared_engine

# One template per test session, so sessions sharing a server (DISCORD_SYNC_TEST_DATABASE_URL) never drop each
# other's.
TEMPLATE_DB = f"discord_sync_test_template_{uuid.uuid4().hex[:8]}"
TEST_ANONYMIZATION_KEY = "test-anonymization-key-0123456789"


def database_on(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def embedded_server_folder() -> Iterator[Path]:
    """A fresh folder for an embedded server's data, removed afterwards.

    Not under pytest's `tmp_path`: pytest sets its folder back to mode 0700 whenever a session starts, and under
    root the server runs as the `pgserver` user, who then could no longer reach its own data.
    """
    folder = Path(tempfile.mkdtemp(prefix="discord-sync-test-pg-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def new_database(server_url: str, purpose: str, *, migrated: bool = True) -> Iterator[str]:
    """A database of its own on the test server, copied from the migrated template (or empty), dropped after."""
    name = f"discord_sync_{purpose}_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server_url, isolation_level="AUTOCOMMIT")
    template = f' TEMPLATE "{TEMPLATE_DB}"' if migrated else ""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{template}'))
    url = database_on(server_url, name)
    try:
        yield url
    finally:
        shared_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
