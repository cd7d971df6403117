"""The embedded PostgreSQL a fresh machine uses when `DATABASE_URL` is unset.

`pgserver` ships the server binaries; the server lives in `$DISCORD_SYNC_HOME/pgdata` (default
`./.discord-sync/pgdata`) and keeps running between commands so that the Dagster daemon, the webserver and the
run processes all share it. It listens on a Unix socket only, so it never clashes with another server's port.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path


def discord_sync_home() -> Path:
    """The folder that holds the embedded server's data (only used without `DATABASE_URL`)."""
    return Path(os.environ.get("DISCORD_SYNC_HOME", ".discord-sync")).resolve()


def embedded_database_url() -> str:
    """Start the embedded server if it is not running and return its connection URL."""
    import pgserver

    pgdata = discord_sync_home() / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def stop_embedded_server() -> None:
    """Stop the embedded server if one runs in this home (used by the demo's Ctrl-C and the tests)."""
    import pgserver

    pgdata = discord_sync_home() / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
        pgserver.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
