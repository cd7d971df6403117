import warnings

import pytest

from discord_sync.settings import DEFAULTS, Settings, SettingsError

pytestmark = pytest.mark.unit

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.super-secret-token-value"


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.max_channel_workers == 10
    assert settings.max_windows_per_channel == 5
    assert settings.dagster_webserver_url == "http://127.0.0.1:3000"
    assert settings.message_fetch_size == 100
    assert settings.database_url is None
    assert settings.debug_rate_limits is False
    assert (settings.refresh_hourly_horizon_hours, settings.refresh_daily_horizon_days) == (24.0, 7.0)
    assert settings.reconcile_requests_per_second == 5.0
    assert settings.deleted_messages == "tombstone"
    assert not settings.alert_webhook_url
    assert settings.sync_freshness_hours == 2.0
    assert settings.dagster_run_retention_days == 90
    assert (settings.attempt_retention_days, settings.failed_attempt_retention_days) == (7, 30)
    assert (settings.stale_attempt_hours, settings.run_history_retention_days) == (24.0, 90)
    assert settings.api_audit_retention_days == 365


@pytest.mark.unit
def test_a_malformed_alert_webhook_url_is_refused_without_showing_it():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"ALERT_WEBHOOK_URL": "hooks.example.com/T0/B0/secret-part"})
    assert "secret-part" not in str(error.value)
    settings = Settings.from_env({"ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/B0/secret-part"})
    assert "secret-part" not in repr(settings)
    assert settings.progress_interval_seconds == 5.0
    assert settings.api_max_body_bytes == 16_384


@pytest.mark.parametrize(
    "variable, value, expected_words",
    [
        ("SYNC_MAX_CHANNEL_WORKERS", "ten", "whole number"),
        ("SYNC_MAX_CHANNEL_WORKERS", "0", "between 1 and"),
        ("SYNC_MESSAGE_FETCH_SIZE", "0", "between 1 and 100"),
        ("SYNC_MESSAGE_FETCH_SIZE", "500", "between 1 and 100"),
        ("SYNC_MAX_WINDOWS_PER_CHANNEL", "-3", "between 1 and"),
        ("DAGSTER_WEBSERVER_URL", "localhost:3000", "http(s) URL"),
        ("DISCORD_API_BASE_URL", "discord.com/api", "http(s) URL"),
        ("DISCORD_API_BASE_URL", "ftp://x", "http(s) URL"),
        ("DATABASE_URL", "mysql://root@localhost/db", "PostgreSQL URL"),
        ("DEBUG_RATE_LIMITS", "maybe", "true or false"),
        ("ANONYMIZATION_KEY", "short", "at least 16"),
        ("SYNC_GLOBAL_REQUESTS_PER_SECOND", "80", "between"),
        ("SYNC_REFRESH_HOURLY_HORIZON_HOURS", "-1", "between 0"),
        ("SYNC_REFRESH_HOURLY_HORIZON_HOURS", "a day", "number"),
        ("SYNC_REFRESH_DAILY_HORIZON_DAYS", "400", "between 0"),
        ("SYNC_RECONCILE_REQUESTS_PER_SECOND", "0", "between"),
        ("SYNC_RECONCILE_REQUESTS_PER_SECOND", "51", "between"),
        ("SYNC_DELETED_MESSAGES", "shred", "tombstone, delete, keep"),
        ("ALERT_WEBHOOK_URL", "hooks.example.com/T0/secret", "http(s) URL"),
        ("SYNC_FRESHNESS_HOURS", "soon", "number"),
        ("SYNC_FRESHNESS_HOURS", "0", "between"),
        ("DAGSTER_RUN_RETENTION_DAYS", "0", "between 1 and"),
        ("SYNC_ATTEMPT_RETENTION_DAYS", "0", "between 1 and"),
        ("SYNC_FAILED_ATTEMPT_RETENTION_DAYS", "a month", "whole number"),
        ("SYNC_STALE_ATTEMPT_HOURS", "0.5", "between 1"),
        ("SYNC_RUN_HISTORY_RETENTION_DAYS", "0", "between 1 and"),
        ("API_AUDIT_RETENTION_DAYS", "-1", "between 1 and"),
        ("SYNC_PROGRESS_INTERVAL", "0", "between 0.1 and"),
        ("SYNC_PROGRESS_INTERVAL", "soon", "number"),
        ("API_MAX_BODY_BYTES", "10", "between 256 and"),
        ("API_AUTH_FAILURE_LIMIT", "0", "between 1 and"),
        ("API_AUTH_FAILURE_WINDOW_SECONDS", "soon", "number"),
        ("API_TRUSTED_PROXIES", "127.0.0.1, proxy.local", "'proxy.local' is neither"),
    ],
)
def test_malformed_setting_is_refused_naming_the_variable(variable, value, expected_words):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({variable: value})
    assert variable in str(error.value)
    assert expected_words in str(error.value)


def test_token_never_shows_in_repr_or_str():
    settings = Settings.from_env({"DISCORD_BOT_TOKEN": TOKEN})
    assert settings.discord_bot_token.reveal() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.discord_bot_token)


def test_sync_refuses_to_start_without_token_or_key():
    with pytest.raises(SettingsError, match="DISCORD_BOT_TOKEN"):
        Settings.from_env({"ANONYMIZATION_KEY": "k" * 16}).require_sync_secrets()
    with pytest.raises(SettingsError, match="ANONYMIZATION_KEY"):
        Settings.from_env({"DISCORD_BOT_TOKEN": TOKEN}).require_sync_secrets()


def test_the_old_windows_variable_still_works_with_a_warning_naming_the_new_one():
    with pytest.warns(FutureWarning, match="SYNC_CHANNEL_BATCH_SIZE is deprecated: rename it to SYNC_MAX_WINDOWS_PER"):
        settings = Settings.from_env({"SYNC_CHANNEL_BATCH_SIZE": "3"})
    assert settings.max_windows_per_channel == 3
    with pytest.raises(SettingsError, match="SYNC_CHANNEL_BATCH_SIZE must be between"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Settings.from_env({"SYNC_CHANNEL_BATCH_SIZE": "0"})


def test_the_new_windows_variable_wins_over_the_old_one_and_says_so():
    with pytest.warns(FutureWarning, match="ignored because SYNC_MAX_WINDOWS_PER_CHANNEL is set"):
        settings = Settings.from_env({"SYNC_CHANNEL_BATCH_SIZE": "3", "SYNC_MAX_WINDOWS_PER_CHANNEL": "7"})
    assert settings.max_windows_per_channel == 7


def test_the_new_windows_variable_alone_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Settings.from_env({"SYNC_MAX_WINDOWS_PER_CHANNEL": "2"}).max_windows_per_channel == 2


def test_a_missing_database_url_is_refused_with_one_clear_message():
    with pytest.raises(SettingsError, match="DATABASE_URL is not set: point it at the PostgreSQL database"):
        Settings.from_env({}).require_database_url()
    url = "postgresql://u:p@h/db"
    assert Settings.from_env({"DATABASE_URL": url}).require_database_url() == url


def test_every_default_lives_on_the_settings_object():
    from discord_sync.defs.resources import DiscordResource, SyncResource

    for resource in (DiscordResource, SyncResource):
        for name, field in resource.model_fields.items():
            if not field.is_required():
                assert field.default == getattr(DEFAULTS, name), f"{resource.__name__}.{name}"


def test_daily_refresh_horizon_shorter_than_the_hourly_one_is_refused():
    with pytest.raises(SettingsError, match="SYNC_REFRESH_DAILY_HORIZON_DAYS"):
        Settings.from_env({"SYNC_REFRESH_HOURLY_HORIZON_HOURS": "48", "SYNC_REFRESH_DAILY_HORIZON_DAYS": "1"})
    settings = Settings.from_env({"SYNC_REFRESH_DAILY_HORIZON_DAYS": "0", "SYNC_DELETED_MESSAGES": "Delete"})
    assert settings.refresh_daily_horizon_days == 0 and settings.deleted_messages == "delete"


def test_the_api_throttle_and_trusted_proxies_have_documented_defaults_and_take_networks():
    settings = Settings.from_env({})
    assert (settings.api_auth_failure_limit, settings.api_auth_failure_window_seconds) == (10, 300.0)
    assert settings.api_trusted_proxies == ()  # believe no X-Forwarded-For unless told
    told = Settings.from_env({"API_TRUSTED_PROXIES": " 10.0.0.5, 10.1.0.0/16 ,::1"})
    assert told.api_trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
