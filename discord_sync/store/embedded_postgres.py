"""The embedded PostgreSQL of the demo (and of the tests when they are given no server); never a deployment's.

`pgserver` (the optional extra `demo`: `pip install "discord-sync[demo]"`, which scripts/setup.sh installs) ships
the server binaries; the server lives in `$DISCORD_SYNC_HOME/pgdata` (default `./.discord-sync/pgdata`) and keeps
running between demos. It listens on a Unix socket only, so it never clashes with another server's port.
`discord-sync demo` exports its URL as `DATABASE_URL` to the processes it starts.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType

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


def pgdata_folder(settings: Settings) -> Path:
    """The embedded server's data folder, `$DISCORD_SYNC_HOME/pgdata`."""
    return Path(settings.discord_sync_home).resolve() / "pgdata"


def embedded_server_running(settings: Settings) -> bool:
    """Whether an embedded server already runs in this home (then the demo must not stop it)."""
    return (pgdata_folder(settings) / "postmaster.pid").exists()


def embedded_database_url(settings: Settings) -> str:
    """Start the embedded server if it is not running and return its connection URL."""
    pgserver = _pgserver()
    pgdata = pgdata_folder(settings)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def stop_embedded_server(settings: Settings) -> None:
    """Stop the embedded server if one runs in this home (the demo's Ctrl-C)."""
    pgdata = pgdata_folder(settings)
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
        _pgserver().pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)
