"""The one settings object: every environment variable the product reads, validated once at start-up.

Each error names the variable and says what is wrong, so a malformed deployment fails before it touches
Discord or the database. The bot token is held in a `Secret` whose repr and str never show it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DISCORD_MAX_FETCH_SIZE = 100


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Secret:
    """A string that never shows itself in logs, reprs or exception texts."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float, *, whole: bool) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {'whole number' if whole else 'number'}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return int(_number(env, name, default, low, high, whole=True))


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env, name, default, low, high, whole=False)


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be true or false (1/0, yes/no), got {raw!r}")


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} must be an http(s) URL such as {default}, got {raw!r}")
    return raw.rstrip("/")


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if raw == "":
        return None
    parsed = urlparse(raw)
    if not parsed.scheme.startswith("postgres"):
        raise SettingsError(
            f"{name} must be a PostgreSQL URL such as postgresql://user:password@host:5432/db "
            f"(scheme {parsed.scheme or 'missing'!r} is not PostgreSQL)"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the product reads from its environment, already validated."""

    database_url: str | None = None
    discord_bot_token: Secret = field(default_factory=lambda: Secret(""))
    discord_api_base_url: str = DEFAULT_API_BASE_URL
    max_channel_workers: int = 10
    channel_batch_size: int = 5
    message_fetch_size: int = DISCORD_MAX_FETCH_SIZE
    write_batch_messages: int = 2000
    global_requests_per_second: float = 47.0
    max_rate_limit_wait: float = 60.0
    request_timeout: float = 30.0
    debug_rate_limits: bool = False
    progress_interval: float = 5.0
    api_max_body_bytes: int = 16_384
    anonymization_key: Secret = field(default_factory=lambda: Secret(""))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise `SettingsError` naming the first bad variable."""
        env = os.environ if env is None else env
        key = env.get("ANONYMIZATION_KEY", "")
        if key and len(key) < 16:
            raise SettingsError("ANONYMIZATION_KEY must be at least 16 characters (a random secret)")
        return cls(
            database_url=_database_url(env, "DATABASE_URL"),
            discord_bot_token=Secret(env.get("DISCORD_BOT_TOKEN", "").strip()),
            discord_api_base_url=_http_url(env, "DISCORD_API_BASE_URL", DEFAULT_API_BASE_URL),
            max_channel_workers=_int(env, "SYNC_MAX_CHANNEL_WORKERS", 10, 1, 200),
            channel_batch_size=_int(env, "SYNC_CHANNEL_BATCH_SIZE", 5, 1, 100),
            message_fetch_size=_int(env, "SYNC_MESSAGE_FETCH_SIZE", 100, 1, DISCORD_MAX_FETCH_SIZE),
            write_batch_messages=_int(env, "SYNC_WRITE_BATCH_MESSAGES", 2000, 1, 100_000),
            global_requests_per_second=_float(env, "SYNC_GLOBAL_REQUESTS_PER_SECOND", 47.0, 0.1, 50.0),
            max_rate_limit_wait=_float(env, "SYNC_MAX_RATE_LIMIT_WAIT", 60.0, 0.0, 3600.0),
            request_timeout=_float(env, "SYNC_REQUEST_TIMEOUT", 30.0, 0.1, 600.0),
            debug_rate_limits=_bool(env, "DEBUG_RATE_LIMITS"),
            progress_interval=_float(env, "SYNC_PROGRESS_INTERVAL", 5.0, 0.1, 3600.0),
            api_max_body_bytes=_int(env, "API_MAX_BODY_BYTES", 16_384, 256, 10_485_760),
            anonymization_key=Secret(key),
        )

    def require_sync_secrets(self) -> None:
        """Refuse to sync without the secrets a sync needs, naming each missing variable."""
        if not self.discord_bot_token:
            raise SettingsError("DISCORD_BOT_TOKEN is not set: the bot token Discord gave your application")
        if not self.anonymization_key:
            raise SettingsError(
                "ANONYMIZATION_KEY is not set: a random secret of 16+ characters that keys the user-id hashes"
            )
