"""The one settings object: every environment variable the product reads, validated once at start-up.

Each error names the variable and says what is wrong, so a malformed deployment fails before it touches
Discord or the database. The bot token is held in a `Secret` whose repr and str never show it.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

# What a message found deleted on Discord becomes in the copy (SYNC_DELETED_MESSAGES).
DELETION_POLICIES = ("tombstone", "delete", "keep")
DISCORD_MAX_FETCH_SIZE = 100
# The old name of SYNC_MAX_WINDOWS_PER_CHANNEL, still read (with a warning) so existing deployments keep working.
DEPRECATED_WINDOWS_VARIABLE = "SYNC_CHANNEL_BATCH_SIZE"


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


def _windows_variable(env: Mapping[str, str]) -> str:
    """Which variable sets the windows per channel: the new name, else the deprecated one (with a warning)."""
    if env.get(DEPRECATED_WINDOWS_VARIABLE, "").strip() == "":
        return "SYNC_MAX_WINDOWS_PER_CHANNEL"
    if env.get("SYNC_MAX_WINDOWS_PER_CHANNEL", "").strip() != "":
        warnings.warn(
            f"{DEPRECATED_WINDOWS_VARIABLE} is deprecated and ignored because SYNC_MAX_WINDOWS_PER_CHANNEL is set: "
            f"remove {DEPRECATED_WINDOWS_VARIABLE}",
            FutureWarning,
            stacklevel=3,
        )
        return "SYNC_MAX_WINDOWS_PER_CHANNEL"
    # FutureWarning, not DeprecationWarning: Python shows it to operators by default.
    warnings.warn(
        f"{DEPRECATED_WINDOWS_VARIABLE} is deprecated: rename it to SYNC_MAX_WINDOWS_PER_CHANNEL",
        FutureWarning,
        stacklevel=3,
    )
    return DEPRECATED_WINDOWS_VARIABLE


def _addresses(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks (CIDR), each checked; empty when unset."""
    entries = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"{name} must list IP addresses or networks separated by commas, such as 10.0.0.5,10.1.0.0/16; "
                f"{entry!r} is neither"
            ) from None
    return entries


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _secret_http_url(env: Mapping[str, str], name: str, example: str) -> Secret:
    """An optional http(s) URL that may carry a token in its path (chat webhooks do): never echoed back."""
    raw = env.get(name, "").strip()
    if raw:
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"{name} must be an http(s) URL such as {example} (the value is not shown)")
    return Secret(raw)


@dataclass(frozen=True)
class Settings:
    """Everything the product reads from its environment, already validated.

    The field defaults here are the one home of each setting's default: the Dagster resources and the benchmarks
    take theirs from `DEFAULTS` (the resources name their fields the same). Each field is named like its variable, less the `SYNC_` prefix
    (`max_windows_per_channel` <- `SYNC_MAX_WINDOWS_PER_CHANNEL`).
    """

    database_url: str | None = None
    discord_bot_token: Secret = field(default_factory=lambda: Secret(""))
    discord_api_base_url: str = "https://discord.com/api/v10"
    max_channel_workers: int = 10
    max_windows_per_channel: int = 5
    message_fetch_size: int = DISCORD_MAX_FETCH_SIZE
    write_batch_messages: int = 2000
    global_requests_per_second: float = 47.0
    bulk_request_share: float = 0.9
    max_rate_limit_wait: float = 60.0
    request_timeout: float = 30.0
    debug_rate_limits: bool = False
    full_thread_listing_hours: int = 24
    refresh_hourly_horizon_hours: float = 24.0
    refresh_daily_horizon_days: float = 7.0
    reconcile_requests_per_second: float = 5.0
    deleted_messages: str = "tombstone"
    progress_interval_seconds: float = 5.0
    members_every_hours: float = 24.0
    reactors_days: int = 7
    reactors_request_budget: int = 200
    api_max_body_bytes: int = 16_384
    api_auth_failure_limit: int = 10
    api_auth_failure_window_seconds: float = 300.0
    api_trusted_proxies: tuple[str, ...] = ()
    anonymization_key: Secret = field(default_factory=lambda: Secret(""))
    dagster_webserver_url: str = "http://127.0.0.1:3000"
    discord_sync_home: str = ".discord-sync"
    alert_webhook_url: Secret = field(default_factory=lambda: Secret(""))
    sync_freshness_hours: float = 2.0
    hourly_batch_tenants: int = 100
    dagster_run_retention_days: int = 90
    attempt_retention_days: int = 7
    failed_attempt_retention_days: int = 30
    stale_attempt_hours: float = 24.0
    run_history_retention_days: int = 90
    api_audit_retention_days: int = 365

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise `SettingsError` naming the first bad variable."""
        env = os.environ if env is None else env
        key = env.get("ANONYMIZATION_KEY", "")
        if key and len(key) < 16:
            raise SettingsError("ANONYMIZATION_KEY must be at least 16 characters (a random secret)")
        default = DEFAULTS
        hourly_hours = _float(
            env, "SYNC_REFRESH_HOURLY_HORIZON_HOURS", default.refresh_hourly_horizon_hours, 0.0, 168.0
        )
        daily_days = _float(env, "SYNC_REFRESH_DAILY_HORIZON_DAYS", default.refresh_daily_horizon_days, 0.0, 365.0)
        if 0 < daily_days * 24 < hourly_hours:
            raise SettingsError(
                f"SYNC_REFRESH_DAILY_HORIZON_DAYS ({daily_days} days) must reach at least as far back as "
                f"SYNC_REFRESH_HOURLY_HORIZON_HOURS ({hourly_hours} hours), or be 0 to turn the daily re-read off"
            )
        return cls(
            database_url=_database_url(env, "DATABASE_URL"),
            discord_bot_token=Secret(env.get("DISCORD_BOT_TOKEN", "").strip()),
            discord_api_base_url=_http_url(env, "DISCORD_API_BASE_URL", default.discord_api_base_url),
            max_channel_workers=_int(env, "SYNC_MAX_CHANNEL_WORKERS", default.max_channel_workers, 1, 200),
            max_windows_per_channel=_int(env, _windows_variable(env), default.max_windows_per_channel, 1, 100),
            message_fetch_size=_int(
                env, "SYNC_MESSAGE_FETCH_SIZE", default.message_fetch_size, 1, DISCORD_MAX_FETCH_SIZE
            ),
            write_batch_messages=_int(env, "SYNC_WRITE_BATCH_MESSAGES", default.write_batch_messages, 1, 100_000),
            global_requests_per_second=_float(
                env, "SYNC_GLOBAL_REQUESTS_PER_SECOND", default.global_requests_per_second, 0.1, 50.0
            ),
            bulk_request_share=_float(env, "SYNC_BULK_REQUEST_SHARE", default.bulk_request_share, 0.1, 1.0),
            max_rate_limit_wait=_float(env, "SYNC_MAX_RATE_LIMIT_WAIT", default.max_rate_limit_wait, 0.0, 3600.0),
            request_timeout=_float(env, "SYNC_REQUEST_TIMEOUT", default.request_timeout, 0.1, 600.0),
            debug_rate_limits=_bool(env, "DEBUG_RATE_LIMITS"),
            full_thread_listing_hours=_int(
                env, "SYNC_FULL_THREAD_LISTING_HOURS", default.full_thread_listing_hours, 1, 720
            ),
            refresh_hourly_horizon_hours=hourly_hours,
            refresh_daily_horizon_days=daily_days,
            reconcile_requests_per_second=_float(
                env, "SYNC_RECONCILE_REQUESTS_PER_SECOND", default.reconcile_requests_per_second, 0.1, 50.0
            ),
            deleted_messages=_choice(env, "SYNC_DELETED_MESSAGES", default.deleted_messages, DELETION_POLICIES),
            progress_interval_seconds=_float(
                env, "SYNC_PROGRESS_INTERVAL", default.progress_interval_seconds, 0.1, 3600.0
            ),
            members_every_hours=_float(env, "SYNC_MEMBERS_EVERY_HOURS", default.members_every_hours, 1.0, 720.0),
            reactors_days=_int(env, "SYNC_REACTORS_DAYS", default.reactors_days, 1, 365),
            reactors_request_budget=_int(
                env, "SYNC_REACTORS_REQUEST_BUDGET", default.reactors_request_budget, 0, 100_000
            ),
            api_max_body_bytes=_int(env, "API_MAX_BODY_BYTES", default.api_max_body_bytes, 256, 10_485_760),
            api_auth_failure_limit=_int(env, "API_AUTH_FAILURE_LIMIT", default.api_auth_failure_limit, 1, 100_000),
            api_auth_failure_window_seconds=_float(
                env, "API_AUTH_FAILURE_WINDOW_SECONDS", default.api_auth_failure_window_seconds, 1.0, 86_400.0
            ),
            api_trusted_proxies=_addresses(env, "API_TRUSTED_PROXIES"),
            anonymization_key=Secret(key),
            dagster_webserver_url=_http_url(env, "DAGSTER_WEBSERVER_URL", default.dagster_webserver_url),
            discord_sync_home=env.get("DISCORD_SYNC_HOME", "").strip() or default.discord_sync_home,
            alert_webhook_url=_secret_http_url(env, "ALERT_WEBHOOK_URL", "https://hooks.example.com/discord-sync"),
            sync_freshness_hours=_float(env, "SYNC_FRESHNESS_HOURS", default.sync_freshness_hours, 0.01, 720.0),
            hourly_batch_tenants=_int(env, "SYNC_HOURLY_BATCH_TENANTS", default.hourly_batch_tenants, 1, 500),
            dagster_run_retention_days=_int(
                env, "DAGSTER_RUN_RETENTION_DAYS", default.dagster_run_retention_days, 1, 3650
            ),
            attempt_retention_days=_int(env, "SYNC_ATTEMPT_RETENTION_DAYS", default.attempt_retention_days, 1, 3650),
            failed_attempt_retention_days=_int(
                env, "SYNC_FAILED_ATTEMPT_RETENTION_DAYS", default.failed_attempt_retention_days, 1, 3650
            ),
            stale_attempt_hours=_float(env, "SYNC_STALE_ATTEMPT_HOURS", default.stale_attempt_hours, 1.0, 720.0),
            run_history_retention_days=_int(
                env, "SYNC_RUN_HISTORY_RETENTION_DAYS", default.run_history_retention_days, 1, 3650
            ),
            api_audit_retention_days=_int(env, "API_AUDIT_RETENTION_DAYS", default.api_audit_retention_days, 1, 36500),
        )

    def require_database_url(self) -> str:
        """`DATABASE_URL`, or a `SettingsError` saying how to set it: no process guesses a database of its own.

        Every process (webserver, daemon, run workers, the CLI) must use the same database; a default here would
        let each one quietly start its own.
        """
        if not self.database_url:
            raise SettingsError(
                "DATABASE_URL is not set: point it at the PostgreSQL database that holds the product's tables and "
                "Dagster's storage, e.g. postgresql://user:password@host:5432/discord_sync "
                "(only `discord-sync demo` starts an embedded database of its own)"
            )
        return self.database_url

    def require_sync_secrets(self) -> None:
        """Refuse to sync without the secrets a sync needs, naming each missing variable."""
        if not self.discord_bot_token:
            raise SettingsError("DISCORD_BOT_TOKEN is not set: the bot token Discord gave your application")
        if not self.anonymization_key:
            raise SettingsError(
                "ANONYMIZATION_KEY is not set: a random secret of 16+ characters that keys the user-id hashes"
            )


# The defaults of every setting, for code that needs one without an environment (the resources' field defaults).
DEFAULTS = Settings()
