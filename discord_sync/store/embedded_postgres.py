"""The embedded PostgreSQL: what a fresh machine uses when `DATABASE_URL` is unset, and what tests and benchmarks
start when no server is given.

`pgserver` ships the server binaries. The product's server lives in `$DISCORD_SYNC_HOME/pgdata` (default
`./.discord-sync/pgdata`) and keeps running between commands so that the Dagster daemon, the webserver and the
run processes all share it. It listens on a Unix socket only, so it never clashes with another server's port.
`pgserver` is imported only here, and only when an embedded server is wanted.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any


def discord_sync_home() -> Path:
    """The folder that holds the embedded server's data (only used without `DATABASE_URL`)."""
    return Path(os.environ.get("DISCORD_SYNC_HOME", ".discord-sync")).resolve()


def start_server(pgdata: Path, *, throwaway: bool = False) -> Any:
    """Start (or find running) a PostgreSQL server whose data lives in `pgdata`; returns pgserver's handle for it
    (`get_uri()`, `cleanup()`). A `throwaway` server deletes its data at `cleanup()`.

    pgserver keeps one handle per folder in its process: a server stopped with `stop_server` is started again from
    a fresh process.
    """
    import pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgserver.get_server(pgdata, cleanup_mode="delete" if throwaway else None)


def stop_server(pgdata: Path) -> None:
    """Stop the server whose data is in `pgdata`, ending every connection (`pg_ctl stop -m fast`), if it runs."""
    import pgserver

    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
        pgserver.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)  # type: ignore[attr-defined]


def embedded_database_url() -> str:
    """Start the product's embedded server if it is not running and return its connection URL."""
    return start_server(discord_sync_home() / "pgdata").get_uri()


def stop_embedded_server() -> None:
    """Stop the product's embedded server if one runs in this home (used by the demo's Ctrl-C)."""
    stop_server(discord_sync_home() / "pgdata")
