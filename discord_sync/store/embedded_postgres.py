"""The embedded PostgreSQL of the demo, and of the tests and benchmarks when they are given no server; never a
deployment's.

`pgserver` (the optional extra `demo`: `pip install "discord-sync[demo]"`, which scripts/setup.sh installs) ships
the server binaries and is imported only here. The demo's server lives in `$DISCORD_SYNC_HOME/pgdata` (default
`./.discord-sync/pgdata`) and keeps running between demos; `discord-sync demo` exports its URL as `DATABASE_URL` to
the processes it starts. It listens on a Unix socket only, so it never clashes with another server's port.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from discord_sync.settings import Settings, SettingsError


def _pgserver() -> ModuleType:
    try:
        import pgserver
    except ImportError:
        raise SettingsError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set DATABASE_URL, or install "
            "the demo extra (pip install 'discord-sync[demo]')"
        ) from None
    return pgserver


def start_server(pgdata: Path, *, throwaway: bool = False) -> Any:
    """Start (or find running) a PostgreSQL server whose data lives in `pgdata`; returns pgserver's handle for it
    (`get_uri()`, `cleanup()`). A `throwaway` server deletes its data at `cleanup()`.

    pgserver keeps one handle per folder in its process: a server stopped with `stop_server` is started again from
    a fresh process.
    """
    pgserver = _pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgserver.get_server(pgdata, cleanup_mode="delete" if throwaway else None)


def stop_server(pgdata: Path) -> None:
    """Stop the server whose data is in `pgdata`, ending every connection (`pg_ctl stop -m fast`), if it runs."""
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
        _pgserver().pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)


def pgdata_folder(settings: Settings) -> Path:
    """The demo server's data folder, `$DISCORD_SYNC_HOME/pgdata`."""
    return Path(settings.discord_sync_home).resolve() / "pgdata"


def embedded_server_running(settings: Settings) -> bool:
    """Whether the demo server already runs in this home (then the demo must not stop it)."""
    return (pgdata_folder(settings) / "postmaster.pid").exists()


def embedded_database_url(settings: Settings) -> str:
    """Start the demo server if it is not running and return its connection URL."""
    return str(start_server(pgdata_folder(settings)).get_uri())


def stop_embedded_server(settings: Settings) -> None:
    """Stop the demo server if one runs in this home (the demo's Ctrl-C)."""
    stop_server(pgdata_folder(settings))
